//! TCP as RFC 9293 describes it: the states (and, in later modules, the model).

pub mod state;
