//! Parse errors, worded as Piranha's `lvsStrerror()` words them.

use std::fmt;
use std::path::PathBuf;

/// What went wrong. The message of each kind is Piranha's wording, so scripts
/// that match Piranha's messages keep working; the kinds below `Empty` are
/// lvs-rs's own (Piranha accepted those inputs silently).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    #[error("quotation mismatch")]
    /// A quote is not closed on its line.
    BadQuoting,
    #[error("unexpected end of file")]
    /// The file ends inside a block.
    Eof,
    #[error("unexpected arguments")]
    /// More values than the key takes.
    ExtraArgs,
    #[error("equal (=) expected after command")]
    /// No `=` after the key.
    EqualExpected,
    #[error("missing arguments")]
    /// Fewer values than the key takes.
    MissingArgs,
    #[error("invalid host name or ip address")]
    /// Not an IP address or a host name.
    BadHostname,
    #[error("invalid argument")]
    /// A value the key does not take.
    BadArgument,
    #[error("integer expected")]
    /// Not a whole number.
    IntExpected,
    #[error("boolean expected")]
    /// Neither 0 nor 1.
    BoolExpected,
    #[error("unknown command")]
    /// An unknown key.
    BadCommand,
    #[error("list expected")]
    /// Not `[ a b ]`.
    ListExpected,
    #[error("Bad subnet mask specified")]
    /// Not a netmask.
    BadNetmask,
    #[error("Empty configuration")]
    /// The file holds nothing.
    Empty,
    #[error("value out of range")]
    /// A number outside the key's range.
    OutOfRange,
    #[error("invalid UTF-8")]
    /// The file is not UTF-8.
    InvalidUtf8,
    #[error("line too long")]
    /// A line longer than [`MAX_LINE_BYTES`](crate::MAX_LINE_BYTES).
    LineTooLong,
}

/// A parse error at a line and column, with the offending line.
///
/// `Display` gives `line N, column M: <message>`, then the line with a caret
/// under the column, then a note where one helps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number (physical lines: CRLF counts once).
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong.
    pub kind: ErrorKind,
    /// The text of the offending line.
    pub source_line: String,
    /// An explanation beyond Piranha's message: the valid values, the nearest
    /// known key, or why lvs-rs rejects what Piranha accepted.
    pub note: Option<String>,
}

impl ParseError {
    /// The snippet: the line with a gutter and a caret under the column.
    pub fn snippet(&self) -> String {
        let gutter = self.line.to_string();
        let pad = " ".repeat(gutter.len());
        // Keep tabs in the caret line so the caret lines up with the text above.
        let lead: String = self
            .source_line
            .chars()
            .take(self.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let mut out = format!(" {gutter} | {}\n {pad} | {lead}^", self.source_line);
        if let Some(note) = &self.note {
            out.push_str(&format!("\n {pad} = note: {note}"));
        }
        out
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}\n{}",
            self.line,
            self.column,
            self.kind,
            self.snippet()
        )
    }
}

impl std::error::Error for ParseError {}

/// Reading and parsing a file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// Piranha's wording, with the file and the system's reason added.
    #[error("cannot read {path}: I/O error while reading configuration: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        #[source]
        /// Why.
        source: std::io::Error,
    },
    #[error("error parsing {path} at line {}: {}", error.line, error.kind)]
    /// The file does not parse.
    Parse {
        /// The file (an included one when the error is there).
        path: PathBuf,
        /// Where and why.
        error: ParseError,
    },
    /// An `include` line cannot be followed (an lvs-rs extension).
    #[error("error parsing {path} at line {line}: {why}")]
    Include {
        /// The file with the `include` line.
        path: PathBuf,
        /// Its line.
        line: usize,
        /// What is wrong: a missing file, a loop, a bad pattern.
        why: String,
    },
}
