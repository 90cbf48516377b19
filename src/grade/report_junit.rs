//! JUnit XML, as GitHub Classroom, GitLab CI and Jenkins read it (the schema is Jenkins'
//! `junit-10.xsd`, after Ant's): `<testsuites>` holding one `<testsuite>` per student, one
//! `<testcase>` per rubric item (a `<failure>` with the feedback when it is not met) and one
//! per deduction taken (always a failure).

use std::fmt::Write as _;

use super::report_table::points;
use super::ClassGrades;

pub fn junit(class: &ClassGrades) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let cases = |g: &super::score::Grade| g.items.len() + g.deductions.len();
    let failed = |g: &super::score::Grade| g.items.iter().filter(|i| i.score < i.max_score).count() + g.deductions.len();
    let total: usize = class.grades.iter().map(cases).sum();
    let failures: usize = class.grades.iter().map(failed).sum();
    let time: f64 = class.grades.iter().map(|g| g.seconds).sum();
    let _ = writeln!(out, "<testsuites name=\"{}\" tests=\"{total}\" failures=\"{failures}\" errors=\"0\" time=\"{time:.3}\">", xml(&class.title));
    for grade in &class.grades {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\" time=\"{:.3}\">",
            xml(&grade.student),
            cases(grade),
            failed(grade),
            grade.seconds
        );
        let _ = writeln!(out, "    <properties><property name=\"score\" value=\"{}/{}\"/></properties>", points(grade.score), points(grade.max_score));
        for item in &grade.items {
            let _ = write!(out, "    <testcase name=\"{}\" classname=\"{}\" time=\"0\"", xml(&item.name), xml(&grade.student));
            if item.feedback.is_empty() {
                out.push_str("/>\n");
            } else {
                let message = format!("{} of {} points", points(item.score), points(item.max_score));
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\" type=\"step\">{}</failure>\n    </testcase>",
                    xml(&message),
                    xml(&item.feedback.join("\n"))
                );
            }
        }
        for deduction in &grade.deductions {
            let _ = writeln!(
                out,
                "    <testcase name=\"deduction: {}\" classname=\"{}\" time=\"0\">\n      <failure message=\"-{} points\" type=\"{}\">{}</failure>\n    </testcase>",
                xml(&deduction.name),
                xml(&grade.student),
                points(deduction.points),
                deduction.when,
                deduction.when
            );
        }
        let _ = writeln!(out, "    <system-out>{}</system-out>", xml(&grade.output));
        let _ = writeln!(out, "    <system-err>{}</system-err>", xml(&grade.feedback.join("\n")));
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Text made safe for XML 1.0 content and attributes: the five special characters escaped,
/// and every character XML 1.0 forbids (most C0 controls, U+FFFE, U+FFFF) written as `?`,
/// since XML has no way to write them at all.
pub fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[allow(non_snake_case)] // names read situation__outcome
mod tests {
    #[test]
    fn specials_are_escaped__controls_xml_cannot_hold_are_replaced() {
        assert_eq!(super::xml("a<b>&\"c'\n\u{1b}[2J\u{0}"), "a&lt;b&gt;&amp;&quot;c&apos;\n?[2J?");
    }
}
