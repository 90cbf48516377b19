//! HTML text for every page the book writes (the chapters' directives, the drop zone, the
//! pages that stand alone): text escaped, JSON made safe inside a script element, and the
//! state diagram's template.

/// Escapes text for HTML, `{` and `}` included.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '{' => out.push_str("&#123;"),
            '}' => out.push_str("&#125;"),
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// JSON safe inside `<script type="application/json">`: no `<` (so no `</script>` and no
/// `<!--`), `>` or `&`, and no `{{`, written as JSON escapes, which mean the same.
pub fn script_json(json: &str) -> String {
    json.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026").replace("{{", "{\\u007b")
}

/// RFC 9293's state diagram, drawn by hand in `book/replay/states.svg`: the first replay of a
/// page carries it, and the widget draws each replay's copy from it.
const STATES_SVG: &str = include_str!("../../book/replay/states.svg");

/// The state diagram as a template on one line: a blank line would end mdBook's HTML block.
pub fn states_template() -> String {
    let svg: Vec<&str> = STATES_SVG.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("<!--")).collect();
    format!("<template class=\"st-states-template\">{}</template>", svg.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_json_cannot_end_the_script_or_open_a_comment() {
        let json = serde_json::to_string(&serde_json::json!({"payload": "</script><!--<script>{{#include x}}"})).unwrap();
        let safe = script_json(&json);
        assert!(!safe.contains('<') && !safe.contains("{{"), "{safe}");
        let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["payload"], "</script><!--<script>{{#include x}}");
    }
}
