//! Grades kept between runs of `trace grade`: a submission whose files, rubric and socktrace
//! version are unchanged is not run again (the files the rubric's commands name count as the
//! rubric). One JSON file per submission, holding the key (a SHA-256 of all three) it was
//! graded under.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::score::Grade;

/// The cache's folder.
pub struct Cache {
    dir: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    key: String,
    grade: Grade,
}

/// The key of a submission: socktrace's version, the rubric (the key of its text and its
/// files, made by this same function), and each file's name and bytes (names sorted, each
/// length-prefixed, so that no two listings hash alike by accident).
pub fn key(rubric: &str, dir: &Path, files: &[PathBuf]) -> io::Result<String> {
    let mut hash = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    field(env!("CARGO_PKG_VERSION").as_bytes());
    field(rubric.as_bytes());
    for file in files {
        field(file.to_string_lossy().as_bytes());
        field(&fs::read(dir.join(file))?);
    }
    Ok(hash.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

impl Cache {
    pub fn open(dir: PathBuf) -> io::Result<Cache> {
        fs::create_dir_all(&dir)?;
        Ok(Cache { dir })
    }

    fn path(&self, student: &str) -> PathBuf {
        self.dir.join(format!("{student}.json"))
    }

    /// The grade kept for `student` under `key`, if any (an unreadable entry is no entry).
    pub fn get(&self, student: &str, key: &str) -> Option<Grade> {
        let text = fs::read_to_string(self.path(student)).ok()?;
        let entry: Entry = serde_json::from_str(&text).ok()?;
        (entry.key == key).then_some(entry.grade)
    }

    pub fn put(&self, student: &str, key: &str, grade: &Grade) -> io::Result<()> {
        let entry = Entry { key: key.to_string(), grade: grade.clone() };
        let text = serde_json::to_string(&entry).map_err(io::Error::other)?;
        // Written whole, then renamed: an interrupted write leaves no half entry.
        let tmp = self.dir.join(format!(".{student}.json.tmp"));
        fs::write(&tmp, text)?;
        fs::rename(&tmp, self.path(student))
    }
}
