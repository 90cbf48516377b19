//! socktrace's integration tests: one binary, one module per capability.

mod support;

mod bad_input;
mod book;
mod check;
mod completions;
mod coursework;
mod diff;
mod exit_codes;
mod export_packetdrill;
mod export_pcap;
mod fuzz_regressions;
mod grade;
mod import;
mod inert_text;
mod interrupt;
mod layers;
mod layout;
mod live_drop;
mod live_echo;
mod live_hosts;
mod live_p2p;
mod live_summary;
mod live_truth;
mod live_udp;
mod load;
mod model_vs_kernel;
mod readme;
mod replay_terminal;
mod run_lifecycle;
mod run_matrix;
mod run_programs;
mod show_errors;
mod stability;
mod state_paths;
mod summary;
