//! `trace replay --html FILE [-o OUT]`: the replay as one page that stands alone (the widget,
//! the trace and `trace check`'s report inside; see [`crate::book::page`]), for a browser
//! opened from `file://`, with no network.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::super::output_file::{same_file, write_error};
use super::super::CliError;
use crate::book::page;
use crate::check::{check, CheckOptions};
use crate::replay::Replay;
use crate::trace::read_trace;

/// The page's path: `out`, or the trace's with `.html` in place of its extension.
fn page_path(file: &Path, out: Option<&Path>) -> PathBuf {
    out.map_or_else(|| file.with_extension("html"), Path::to_path_buf)
}

pub fn write(file: &Path, out: Option<&Path>) -> Result<ExitCode, CliError> {
    let path = page_path(file, out);
    if same_file(file, &path) {
        return Err(CliError::new(format!("the page would overwrite the trace {}: give another path with -o OUT.html", file.display())));
    }
    let trace = read_trace(file)?;
    let report = check(&trace, &CheckOptions::default());
    let name = file.file_name().map_or_else(|| file.display().to_string(), |n| n.to_string_lossy().into_owned());
    let html = page::standalone(&name, &Replay::of(&trace), &report.to_string(), report.conforms())
        .map_err(|err| CliError::new(format!("cannot write the replay of {} as a page: {err}", file.display())))?;
    let mut page = std::fs::File::create(&path).map_err(write_error(&path))?;
    page.write_all(html.as_bytes()).and_then(|()| page.flush()).map_err(write_error(&path))?;
    eprintln!("trace: wrote the replay of {} to {} (open it in a browser: it needs no network)", file.display(), path.display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_goes_beside_the_trace_unless_told() {
        assert_eq!(page_path(Path::new("runs/mine.jsonl"), None), Path::new("runs/mine.html"));
        assert_eq!(page_path(Path::new("mine"), None), Path::new("mine.html"));
        assert_eq!(page_path(Path::new("mine.jsonl"), Some(Path::new("out/x.html"))), Path::new("out/x.html"));
    }
}
