//! `--web` of `trace echo` and `trace run`: the session also in a browser, as it happens
//! ([`crate::book::live`]), the page's address said on standard error (standard output is the
//! timeline's, or JSON's).

use super::CliError;
use crate::book::live::LiveView;
use crate::live::Output;

/// Starts the live page's server, says where it is, and waits for the page to be opened: the
/// session starts once someone watches. `output`'s renderer then feeds the page too.
pub fn start(command: &str, output: &mut Output) -> Result<LiveView, CliError> {
    let view = LiveView::start(command).map_err(|err| CliError::new(format!("cannot serve the live page on 127.0.0.1: {err}")))?;
    eprintln!("trace: the live page is at {} (loopback only): the session starts when it is opened", view.url());
    if !view.wait_for_viewer() {
        eprintln!("trace: nobody opened the live page: the session starts without it");
    }
    output.renderer = Some(view.renderer(output.renderer.take()));
    Ok(view)
}
