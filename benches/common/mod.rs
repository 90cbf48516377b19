//! What the benches share: medians of rounds and settings from the environment.
//!
//! Each bench is its own crate and takes what it needs of these.
#![allow(dead_code)]

/// The middle value (the upper one of an even count); NaN for none.
pub fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The environment variable `name` as a number, or `default` when unset or not a number.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A bench's exit: its error, if any, on standard error after the bench's name.
pub fn exit(bench: &str, result: Result<(), String>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{bench} bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
