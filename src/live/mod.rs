//! A live session: our echo programs run on a tokio runtime (or any program under ptrace,
//! `run`), the lenses on their own threads, and this thread merges everything into one
//! timeline that is shown and saved as it grows.

pub(crate) mod drive;
pub(crate) mod error;
pub(crate) mod fallback;
pub(crate) mod hosts;
pub(crate) mod lenses;
pub mod open_files;
pub(crate) mod p2p;
pub(crate) mod programs;
pub(crate) mod request;
pub(crate) mod run;
pub(crate) mod session;
pub(crate) mod settle;
pub(crate) mod sink;
pub(crate) mod summary;
pub(crate) mod words;

pub use error::LiveError;
pub use programs::{Mode, Plan, Story};
pub use session::{run, Report};
pub use sink::Output;
