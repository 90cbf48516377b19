//! The rubric's own files (its reference programs, a scenario's other client or server),
//! copied into the grader's workspace where the sandbox's users can read them. The reference
//! runs as a user of its own, never root, so that ending a slot's processes by user reaches
//! it too; that user cannot read the instructor's folder when a folder above it is closed to
//! others (a clone made under `mktemp -d` is 0700). The copy also keeps the reference's files
//! out of the submissions' reach: owned by root, read-only for everyone.
//!
//! What is copied is the folder of each path a command names under `{rubric}` (all of it, for
//! `{rubric}/client.py`: a script may import its neighbours), laid out as in the original, so
//! that `{rubric}/../reference/client.py` still finds its file from the copy of `{rubric}`.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::rubric::Rubric;
use super::sandbox::{MAX_BYTES, MAX_FILES};

/// Folders deeper than this are not followed (a symbolic link that loops).
const MAX_DEPTH: usize = 16;

/// The copy: what `{rubric}` stands for in the sandbox, and every file copied (relative to
/// `root`), for the cache's key.
pub struct Copied {
    pub dir: PathBuf,
    pub root: PathBuf,
    pub files: Vec<PathBuf>,
}

/// Copies the folders `rubric`'s commands name under `{rubric}` into `into` (made here, 0755),
/// leaving out `skip` (the submissions, the cache). A path that names nothing is left to the
/// command's own error when it runs.
pub fn copy(rubric: &Rubric, into: &Path, skip: &[&Path]) -> io::Result<Copied> {
    let home = rubric.dir.canonicalize().map_err(|e| io::Error::new(e.kind(), format!("the rubric's folder {}: {e}", rubric.dir.display())))?;
    let mut folders: Vec<PathBuf> = Vec::new();
    for command in rubric.commands() {
        for tail in named_under_rubric(command) {
            let named = lexical(&home.join(tail.trim_start_matches('/')));
            let folder = if named.is_dir() { named } else { named.parent().map_or(named.clone(), Path::to_path_buf) };
            if folder.is_dir() {
                folders.push(folder);
            }
        }
    }
    folders.sort();
    // A folder inside another one already copied goes with it.
    folders.dedup_by(|inner, outer| inner.starts_with(outer));
    let base = folders.iter().fold(home.clone(), |base, f| common(&base, f));
    let mode = |m: u32| fs::Permissions::from_mode(m);
    fs::DirBuilder::new().mode(0o755).create(into)?;
    fs::set_permissions(into, mode(0o755))?;
    let mut copy = Copier { skip, files: Vec::new(), bytes: 0, root: into };
    for folder in &folders {
        let to = into.join(folder.strip_prefix(&base).unwrap_or(folder));
        made(&to)?;
        copy.folder(folder, &to, 0)?;
    }
    let dir = into.join(home.strip_prefix(&base).unwrap_or(&home));
    // `{rubric}` must exist for `{rubric}/..` to resolve, even when nothing is copied into it.
    made(&dir)?;
    Ok(Copied { dir, root: into.to_path_buf(), files: copy.files })
}

/// The paths a command names under `{rubric}`: what follows each `{rubric}` up to a blank, a
/// quote or a character the shell treats apart.
fn named_under_rubric(command: &str) -> impl Iterator<Item = &str> {
    command.match_indices("{rubric}").map(move |(at, p)| {
        let tail = &command[at + p.len()..];
        let end = tail.find(|c: char| c.is_whitespace() || "'\";&|<>()`".contains(c)).unwrap_or(tail.len());
        &tail[..end]
    })
}

/// `path` with `.` and `..` taken away as written (the rubric's folder is canonical already).
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The longest folder both `a` and `b` lie in.
fn common(a: &Path, b: &Path) -> PathBuf {
    a.components().zip(b.components()).take_while(|(x, y)| x == y).map(|(x, _)| x).collect()
}

/// Makes `dir` and the folders above it in the copy, each 0755.
fn made(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new().recursive(true).mode(0o755).create(dir)
}

struct Copier<'a> {
    skip: &'a [&'a Path],
    files: Vec<PathBuf>,
    bytes: u64,
    root: &'a Path,
}

impl Copier<'_> {
    /// Copies the folder `from` into the existing `to`, following symbolic links (the copy
    /// holds what they point to), each file read-only for everyone, executable if it was.
    fn folder(&mut self, from: &Path, to: &Path, depth: usize) -> io::Result<()> {
        if depth > MAX_DEPTH {
            return Err(io::Error::other(format!("{} lies deeper than {MAX_DEPTH} folders (a link that loops?)", from.display())));
        }
        let mut entries: Vec<_> = fs::read_dir(from)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            if self.skip.iter().any(|s| path.canonicalize().is_ok_and(|c| c.starts_with(s))) {
                continue;
            }
            let target = to.join(entry.file_name());
            let meta = fs::metadata(&path)?;
            if meta.is_dir() {
                made(&target)?;
                self.folder(&path, &target, depth + 1)?;
            } else if meta.is_file() {
                self.bytes += meta.len();
                if self.files.len() >= MAX_FILES || self.bytes > MAX_BYTES {
                    return Err(io::Error::other(format!(
                        "the folders named under {{rubric}} hold more than {MAX_FILES} files or {} MiB: name the reference's files more narrowly",
                        MAX_BYTES >> 20
                    )));
                }
                fs::copy(&path, &target)?;
                let executable = meta.permissions().mode() & 0o111 != 0;
                fs::set_permissions(&target, fs::Permissions::from_mode(if executable { 0o555 } else { 0o444 }))?;
                self.files.push(target.strip_prefix(self.root).unwrap_or(&target).to_path_buf());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_names_the_paths_after_each_rubric() {
        let names: Vec<&str> = named_under_rubric("sh -c 'python3 {rubric}/a.py;cat {rubric}/../b/c.txt' {rubric}").collect();
        assert_eq!(names, ["/a.py", "/../b/c.txt", ""]);
    }

    #[test]
    fn dots_are_taken_away_as_written() {
        assert_eq!(lexical(Path::new("/x/y/./../z/w")), Path::new("/x/z/w"));
        assert_eq!(common(Path::new("/a/b/c"), Path::new("/a/b/d/e")), Path::new("/a/b"));
    }
}
