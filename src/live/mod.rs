//! A live session: our echo programs run on a tokio runtime (or any program under ptrace,
//! `run`), the lenses on their own threads, and this thread merges everything into one
//! timeline that is shown and saved as it grows.

pub mod drive;
pub mod error;
pub mod fallback;
pub mod hosts;
pub mod lenses;
pub mod open_files;
pub mod p2p;
pub mod programs;
pub mod request;
pub mod run;
pub mod session;
pub mod settle;
pub mod sink;
pub mod summary;
pub mod words;

pub use error::LiveError;
pub use programs::{Mode, Plan, Story};
pub use session::{run, Report};
pub use sink::Output;
