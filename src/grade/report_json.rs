//! The grades as JSON: the rubric's title and every student's [`Grade`], as the cache keeps it.

use serde::Serialize;

use super::score::Grade;
use super::ClassGrades;

#[derive(Serialize)]
struct Class<'a> {
    format: &'static str,
    title: &'a str,
    interrupted: bool,
    grades: &'a [Grade],
}

pub fn json(class: &ClassGrades) -> String {
    let out = Class { format: "socktrace-grades/1", title: &class.title, interrupted: class.interrupted, grades: &class.grades };
    // Plain data (strings, numbers, lists): serializing it cannot fail.
    serde_json::to_string_pretty(&out).unwrap_or_default()
}
