//! A file a subcommand writes (`trace export`, `trace replay --html`): whether it is one of
//! its inputs, and the error that says why it could not be written, with no partial file left.

use std::path::{Path, PathBuf};

use super::CliError;

/// Whether two paths name one file: the same path, or (when it exists) the same inode.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    a == b || matches!((std::fs::metadata(a), std::fs::metadata(b)), (Ok(x), Ok(y)) if x.dev() == y.dev() && x.ino() == y.ino())
}

/// Removes a file left unfinished. Only a regular file is ours to remove: never a device
/// (`/dev/full`) or a pipe.
pub fn discard(path: &Path) {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file()) {
        let _ = std::fs::remove_file(path);
    }
}

/// The error for a failure to create or write `path`, which removes what was written of it.
pub fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> CliError {
    let path: PathBuf = path.to_path_buf();
    move |err: std::io::Error| {
        discard(&path);
        match err.kind() {
            std::io::ErrorKind::Other | std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput => {
                CliError::new(format!("cannot export to {}: {err} (the trace holds something the format has no room for)", path.display()))
            }
            std::io::ErrorKind::StorageFull => CliError::new(format!("cannot write {}: {err} (free some space, or write elsewhere)", path.display())),
            _ => CliError::new(format!("cannot write {}: {err} (check the directory exists and is writable)", path.display())),
        }
    }
}
