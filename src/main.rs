use std::process::ExitCode;

fn main() -> ExitCode {
    socktrace::cli::run()
}
