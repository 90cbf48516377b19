//! The rubric's own files (its reference programs, a scenario's other client or server),
//! copied into the grader's workspace where the sandbox's users can read them. The reference
//! runs as a user of its own, never root, so that ending a slot's processes by user reaches
//! it too; that user cannot read the instructor's folder when a folder above it is closed to
//! others (a clone made under `mktemp -d` is 0700). The copy is owned by root and read-only.
//!
//! Who may read it: a folder only the reference's commands (and the scenarios' own) name is
//! the reference's, readable by the reference users' group alone
//! ([`sandbox::reference_group`]): a submission, run while it is graded, must not read the
//! reference solution (and print it into the output its student sees). A folder a language's
//! commands (`build`, `run`, `client`) name is for the submissions too, readable by everyone.
//! Within a folder, the innermost named folder decides; a reference folder that holds one for
//! everyone lets everyone through it (0751), never list it.
//!
//! What is copied is the folder of each path a command names under `{rubric}` (all of it, for
//! `{rubric}/client.py`: a script may import its neighbours), laid out as in the original, so
//! that `{rubric}/../reference/client.py` still finds its file from the copy of `{rubric}`.

use std::fs;
use std::io;
use std::os::unix::fs::{chown, DirBuilderExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use super::rubric::Rubric;
use super::sandbox::{self, MAX_BYTES, MAX_FILES};

/// Folders deeper than this are not followed (a symbolic link that loops).
const MAX_DEPTH: usize = 16;

/// The copy: what `{rubric}` stands for in the sandbox, and every file copied (relative to
/// `root`), for the cache's key.
pub struct Copied {
    pub dir: PathBuf,
    pub root: PathBuf,
    pub files: Vec<PathBuf>,
}

/// Who may read a folder of the copy (in order: a folder named by both, everyone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Readers {
    /// Everyone: the submissions too.
    Everyone,
    /// The reference users' group alone.
    Reference,
}

/// Copies the folders `rubric`'s commands name under `{rubric}` into `into` (made here, 0755),
/// leaving out `skip` (the submissions, the cache). A path that names nothing is left to the
/// command's own error when it runs.
pub fn copy(rubric: &Rubric, into: &Path, skip: &[&Path]) -> io::Result<Copied> {
    let home = rubric.dir.canonicalize().map_err(|e| io::Error::new(e.kind(), format!("the rubric's folder {}: {e}", rubric.dir.display())))?;
    let commands = rubric.reference_commands().map(|c| (c, Readers::Reference)).chain(rubric.submission_commands().map(|c| (c, Readers::Everyone)));
    // Every folder named, with who may read it; named by both, everyone may.
    let mut named: Vec<(PathBuf, Readers)> = Vec::new();
    for (command, readers) in commands {
        for tail in named_under_rubric(command) {
            let path = lexical(&home.join(tail.trim_start_matches('/')));
            let folder = if path.is_dir() { path } else { path.parent().map_or(path.clone(), Path::to_path_buf) };
            if folder.is_dir() {
                named.push((folder, readers));
            }
        }
    }
    named.sort();
    named.dedup_by(|later, kept| later.0 == kept.0);
    // A folder inside another one already copied goes with it.
    let mut folders: Vec<PathBuf> = named.iter().map(|(f, _)| f.clone()).collect();
    folders.dedup_by(|inner, outer| inner.starts_with(outer));
    let base = folders.iter().fold(home.clone(), |base, f| common(&base, f));
    let mode = |m: u32| fs::Permissions::from_mode(m);
    fs::DirBuilder::new().mode(0o755).create(into)?;
    fs::set_permissions(into, mode(0o755))?;
    let mut copy = Copier { skip, files: Vec::new(), bytes: 0, root: into, named: &named };
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
    /// The folders the commands name, in order, and who may read each.
    named: &'a [(PathBuf, Readers)],
}

/// The mode and readers of the copy of `path` (a folder when `dir`), given the folders the
/// commands name (in order): the innermost named folder that holds it says who may read it;
/// a reference folder that holds one for everyone lets everyone through, never list it.
fn access(named: &[(PathBuf, Readers)], path: &Path, dir: bool, executable: bool) -> (u32, Readers) {
    let readers = named.iter().rev().find(|(folder, _)| path.starts_with(folder)).map_or(Readers::Reference, |&(_, readers)| readers);
    let holds_shared = dir && named.iter().any(|(f, r)| *r == Readers::Everyone && f.starts_with(path));
    let mode = match (dir, readers) {
        (true, Readers::Everyone) => 0o755,
        (true, Readers::Reference) if holds_shared => 0o751,
        (true, Readers::Reference) => 0o750,
        (false, Readers::Everyone) if executable => 0o555,
        (false, Readers::Everyone) => 0o444,
        (false, Readers::Reference) if executable => 0o550,
        (false, Readers::Reference) => 0o440,
    };
    (mode, readers)
}

impl Copier<'_> {
    /// Makes `target`, a copy of `path`, readable as [`access`] says: by everyone, or by the
    /// reference users' group alone.
    fn protect(&self, path: &Path, target: &Path, dir: bool, executable: bool) -> io::Result<()> {
        let (mode, readers) = access(self.named, path, dir, executable);
        if readers == Readers::Reference {
            chown(target, None, Some(sandbox::reference_group()))?;
        }
        fs::set_permissions(target, fs::Permissions::from_mode(mode))
    }

    /// Copies the folder `from` into the existing `to`, following symbolic links (the copy
    /// holds what they point to), each file read-only, executable if it was, readable as
    /// [`Copier::protect`] says.
    fn folder(&mut self, from: &Path, to: &Path, depth: usize) -> io::Result<()> {
        self.protect(from, to, true, false)?;
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
                self.protect(&path, &target, false, meta.permissions().mode() & 0o111 != 0)?;
                self.files.push(target.strip_prefix(self.root).unwrap_or(&target).to_path_buf());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
mod tests {
    use super::*;

    #[test]
    fn a_command_names_the_paths_after_each_rubric() {
        let names: Vec<&str> = named_under_rubric("sh -c 'python3 {rubric}/a.py;cat {rubric}/../b/c.txt' {rubric}").collect();
        assert_eq!(names, ["/a.py", "/../b/c.txt", ""]);
    }

    /// The innermost named folder decides; a reference folder that holds a shared one lets
    /// everyone through it without listing it; a file nobody named keeps to the reference.
    #[test]
    fn who_reads_a_copy__the_innermost_named_folder_says() {
        let p = |s: &str| PathBuf::from(s);
        let mut named = vec![
            (p("/r/reference"), Readers::Reference),
            (p("/r/reference/headers"), Readers::Everyone),
            (p("/r/shared"), Readers::Everyone),
            (p("/r/shared/answers"), Readers::Reference),
        ];
        named.sort();
        let at = |path: &str, dir: bool, exe: bool| access(&named, Path::new(path), dir, exe);
        assert_eq!(at("/r/reference", true, false), (0o751, Readers::Reference));
        assert_eq!(at("/r/reference/server.py", false, false), (0o440, Readers::Reference));
        assert_eq!(at("/r/reference/server", false, true), (0o550, Readers::Reference));
        assert_eq!(at("/r/reference/headers/echo.h", false, false), (0o444, Readers::Everyone));
        assert_eq!(at("/r/shared", true, false), (0o755, Readers::Everyone));
        assert_eq!(at("/r/shared/answers", true, false), (0o750, Readers::Reference));
        assert_eq!(at("/r/shared/answers/key.txt", false, false), (0o440, Readers::Reference));
        assert_eq!(at("/r/elsewhere.txt", false, false), (0o440, Readers::Reference));
    }

    #[test]
    fn dots_are_taken_away_as_written() {
        assert_eq!(lexical(Path::new("/x/y/./../z/w")), Path::new("/x/z/w"));
        assert_eq!(common(Path::new("/a/b/c"), Path::new("/a/b/d/e")), Path::new("/a/b"));
    }
}
