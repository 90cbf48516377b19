//! socktrace's integration tests: one binary, one module per capability.

mod support;

mod check;
mod live_echo;
mod live_truth;
mod show_errors;
