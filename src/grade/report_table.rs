//! The terminal's report: one row per student (score, language, failures) and, under each
//! student not given full marks, the feedback that says why. Every text that came from a
//! submission is made inert for the terminal.

use std::io::{self, Write};

use super::ClassGrades;
use crate::inert;

pub fn write(class: &ClassGrades, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "{}", inert::terminal(&class.title))?;
    let width = class.grades.iter().map(|g| g.student.chars().count()).max().unwrap_or(7).max(7);
    writeln!(out, "{:<width$}  {:>11}  {:<8}  failures", "student", "score", "language")?;
    for grade in &class.grades {
        let failures: Vec<String> = grade.failures.iter().map(|f| f.to_string()).collect();
        writeln!(
            out,
            "{:<width$}  {:>5} / {:<3}  {:<8}  {}",
            inert::terminal(&grade.student),
            points(grade.score),
            points(grade.max_score),
            grade.language.as_deref().unwrap_or("-"),
            if failures.is_empty() { "-".to_string() } else { failures.join(", ") }
        )?;
        if grade.score >= grade.max_score {
            continue;
        }
        for item in grade.items.iter().filter(|i| i.score < i.max_score) {
            writeln!(out, "    {} (-{}):", inert::terminal(&item.name), points(item.max_score - item.score))?;
            for line in &item.feedback {
                writeln!(out, "      {}", inert::terminal(line))?;
            }
        }
        for deduction in &grade.deductions {
            writeln!(out, "    {} (-{}): {}", inert::terminal(&deduction.name), points(deduction.points), deduction.when)?;
        }
    }
    let full = class.grades.iter().filter(|g| g.score >= g.max_score).count();
    writeln!(out, "{} graded ({} from the cache), {full} with full marks", class.grades.len(), class.cached)
}

/// Points as people write them: `7`, `2.5`.
pub fn points(p: f64) -> String {
    if p.fract() == 0.0 {
        format!("{p:.0}")
    } else {
        format!("{p:.2}").trim_end_matches('0').to_string()
    }
}
