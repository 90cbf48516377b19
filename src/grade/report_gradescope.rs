//! Gradescope's `results.json`, one per student (`DIR/STUDENT/results.json`), or, for a class
//! of one (Gradescope's autograder grades one submission at a time and reads
//! `/autograder/results/results.json`), that one file itself: the score, and one test per
//! rubric item and per deduction, each with its score, maximum, feedback as output, and
//! visibility.

use std::io;
use std::path::Path;

use serde::Serialize;

use super::report_table::points;
use super::score::Grade;
use super::ClassGrades;

/// The fields Gradescope documents for `results.json` ("Autograder Specifications").
#[derive(Serialize)]
pub struct Results {
    pub score: f64,
    pub max_score: f64,
    pub output: String,
    pub visibility: &'static str,
    pub stdout_visibility: &'static str,
    pub tests: Vec<Test>,
}

#[derive(Serialize)]
pub struct Test {
    pub name: String,
    pub score: f64,
    pub max_score: f64,
    pub output: String,
    pub visibility: &'static str,
}

/// Students see their results at once: the feedback is what they learn from.
const VISIBLE: &str = "visible";

pub fn results(grade: &Grade) -> Results {
    let mut tests: Vec<Test> = grade
        .items
        .iter()
        .map(|i| Test {
            name: i.name.clone(),
            score: i.score,
            max_score: i.max_score,
            output: if i.feedback.is_empty() { "met in every scenario".to_string() } else { i.feedback.join("\n") },
            visibility: VISIBLE,
        })
        .collect();
    tests.extend(grade.deductions.iter().map(|d| Test {
        name: format!("deduction: {}", d.name),
        score: -d.points,
        max_score: 0.0,
        output: format!("-{} ({})", points(d.points), d.when),
        visibility: VISIBLE,
    }));
    Results { score: grade.score, max_score: grade.max_score, output: grade.feedback.join("\n"), visibility: VISIBLE, stdout_visibility: "hidden", tests }
}

/// Writes `path` itself when it names a `.json` file (the class must then be of one), else a
/// `results.json` per student in the folder `path`.
pub fn write(class: &ClassGrades, path: &Path) -> io::Result<()> {
    if path.extension().is_some_and(|e| e == "json") {
        let [grade] = class.grades.as_slice() else {
            return Err(io::Error::other(format!("one results.json holds one submission, and {} were graded: give a folder", class.grades.len())));
        };
        let text = serde_json::to_string_pretty(&results(grade)).map_err(io::Error::other)?;
        return std::fs::write(path, text);
    }
    let dir = path;
    for grade in &class.grades {
        let student = dir.join(&grade.student);
        std::fs::create_dir_all(&student)?;
        let text = serde_json::to_string_pretty(&results(grade)).map_err(io::Error::other)?;
        std::fs::write(student.join("results.json"), text)?;
    }
    Ok(())
}
