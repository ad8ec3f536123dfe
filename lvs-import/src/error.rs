//! What stops an import: the source cannot be read, or it is not a valid
//! file of its tool. Each error names the file and line (and the column
//! where there is one); nothing is written when one occurs.

use std::fmt;
use std::path::PathBuf;

/// Where in the source something is: a file, a line and a column, from 1.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Position {
    /// The file, as it was named (the main file, or an included one).
    pub file: PathBuf,
    /// The line, from 1.
    pub line: usize,
    /// The column, in characters from 1 (1 where only the line is known).
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// A file (the source, or one it includes) cannot be read.
    #[error("{}: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// The text is not in the tool's syntax (an unclosed brace or quote, a
    /// line that is not `key = value`, a block's line outside a block).
    #[error("{at}: {message}")]
    Syntax {
        /// Where.
        at: Position,
        /// What is wrong.
        message: String,
    },
    /// A file includes itself, directly or through others.
    #[error("{at}: include cycle: {} is already being read", path.display())]
    IncludeCycle {
        /// The `include` line.
        at: Position,
        /// The file it would read again.
        path: PathBuf,
    },
    /// Includes nest deeper than [`MAX_INCLUDE_DEPTH`](crate::MAX_INCLUDE_DEPTH).
    #[error("{at}: includes nest deeper than {}", crate::MAX_INCLUDE_DEPTH)]
    IncludeDepth {
        /// The `include` line.
        at: Position,
    },
    /// A health checker the tool does not have.
    #[error("{at}: unknown checker {name}")]
    UnknownChecker {
        /// The checker's line.
        at: Position,
        /// The name given.
        name: String,
    },
    /// A keyword the tool does not have where it stands.
    #[error("{at}: unknown keyword {keyword} in {context}")]
    UnknownKeyword {
        /// The keyword's line.
        at: Position,
        /// The keyword.
        keyword: String,
        /// The block or section it is in.
        context: String,
    },
    /// A directive the tool has, with a value it would refuse.
    #[error("{at}: {directive}: {message}")]
    Value {
        /// The directive's line.
        at: Position,
        /// The directive's keyword.
        directive: String,
        /// What is wrong with the value, and what it may be.
        message: String,
    },
}

impl ImportError {
    /// Where the error is, when it is in the text (not for a file that cannot be read).
    pub fn position(&self) -> Option<&Position> {
        match self {
            ImportError::Read { .. } => None,
            ImportError::Syntax { at, .. }
            | ImportError::IncludeCycle { at, .. }
            | ImportError::IncludeDepth { at }
            | ImportError::UnknownChecker { at, .. }
            | ImportError::UnknownKeyword { at, .. }
            | ImportError::Value { at, .. } => Some(at),
        }
    }
}
