//! A command given as one string (`trace run --server CMD --client CMD`), split into words as
//! a POSIX shell splits them for quotes and backslashes; no variables, pipes or redirections.

use std::fmt;

/// Why a string is not a command.
#[derive(Debug, PartialEq, Eq)]
pub enum WordsError {
    SingleQuoteOpen,
    DoubleQuoteOpen,
    /// Blank: no word at all.
    Empty,
}

impl fmt::Display for WordsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WordsError::SingleQuoteOpen => "a single quote is not closed",
            WordsError::DoubleQuoteOpen => "a double quote is not closed",
            WordsError::Empty => "no command",
        })
    }
}

impl std::error::Error for WordsError {}

/// Splits `line` into words as a POSIX shell does for quotes and backslashes.
pub fn words(line: &str) -> Result<Vec<String>, WordsError> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(WordsError::SingleQuoteOpen),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err(WordsError::DoubleQuoteOpen),
                        },
                        Some(c) => w.push(c),
                        None => return Err(WordsError::DoubleQuoteOpen),
                    }
                }
            }
            '\\' => {
                let w = word.get_or_insert_with(String::new);
                if let Some(c) = chars.next() {
                    w.push(c);
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    if words.is_empty() {
        return Err(WordsError::Empty);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::{words, WordsError};

    #[test]
    fn words_split_as_a_shell_splits_quotes() {
        let w = words(r#"perl -e 'print "hi\n"' "a b" c\ d {port}"#).unwrap();
        assert_eq!(w, ["perl", "-e", "print \"hi\\n\"", "a b", "c d", "{port}"]);
        assert_eq!(words("perl 'open"), Err(WordsError::SingleQuoteOpen));
        assert_eq!(words("   "), Err(WordsError::Empty));
    }
}
