//! The command as the user typed it, for a trace's header.

pub(crate) fn command_line() -> String {
    let mut words = vec!["trace".to_string()];
    words.extend(std::env::args().skip(1));
    words.join(" ")
}
