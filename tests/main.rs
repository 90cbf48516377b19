//! socktrace's integration tests: one binary, one module per capability.

mod support;

mod book;
mod live_echo;
mod live_truth;
mod model_vs_kernel;
mod show_errors;
