//! The import's report: what became of every directive of the source.

use std::fmt;

use crate::error::Position;

/// What became of one directive.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "fate", content = "how", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Fate {
    /// lvs.cf says the same; the text names what it became (`scheduler = rr`).
    Mapped(String),
    /// lvs.cf says nearly the same; the text says how it differs.
    Approximated(String),
    /// Not carried over; the text says why, and what to do instead where
    /// there is something.
    Dropped(String),
}

impl Fate {
    /// The fate's word in the report: `mapped`, `approximated`, `dropped`.
    pub fn word(&self) -> &'static str {
        match self {
            Fate::Mapped(_) => "mapped",
            Fate::Approximated(_) => "approximated",
            Fate::Dropped(_) => "dropped",
        }
    }

    /// The explanation.
    pub fn how(&self) -> &str {
        match self {
            Fate::Mapped(how) | Fate::Approximated(how) | Fate::Dropped(how) => how,
        }
    }
}

/// One directive of the source and its fate.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Entry {
    /// Where the directive is.
    pub at: Position,
    /// The directive as written (keyword and values, after parameters are
    /// substituted).
    pub directive: String,
    /// What became of it.
    pub fate: Fate,
}

/// Every directive of the source, in the order read, with its fate; and
/// what lvs-cf's validation says of the file written.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Report {
    /// The directives.
    pub entries: Vec<Entry>,
    /// lvs-cf's validation of the imported configuration (as written, so
    /// that lines are the written file's): what must be edited before it
    /// runs (errors) or is worth a look (warnings). `lvs --check` also asks
    /// the daemons' own reading of the file (`lvs_core::acceptance`), which
    /// `lvs import` adds.
    pub check: Vec<lvs_cf::Diagnostic>,
}

impl Report {
    /// Records a directive's fate.
    pub(crate) fn push(&mut self, at: Position, directive: impl Into<String>, fate: Fate) {
        self.entries.push(Entry {
            at,
            directive: directive.into(),
            fate,
        });
    }

    /// How many directives were mapped, approximated and dropped.
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |word| self.entries.iter().filter(|e| e.fate.word() == word).count();
        (count("mapped"), count("approximated"), count("dropped"))
    }

    /// Whether validation found errors in the imported configuration (it
    /// must be edited before it runs).
    pub fn needs_edits(&self) -> bool {
        self.check.iter().any(lvs_cf::Diagnostic::is_error)
    }
}

impl fmt::Display for Report {
    /// A line per directive (`FILE:LINE: FATE: DIRECTIVE: HOW`), then the
    /// counts and validation's findings (`imported lvs.cf: ...`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for entry in &self.entries {
            writeln!(
                f,
                "{}:{}: {}: {}: {}",
                entry.at.file.display(),
                entry.at.line,
                entry.fate.word(),
                entry.directive,
                entry.fate.how()
            )?;
        }
        let (mapped, approximated, dropped) = self.counts();
        writeln!(
            f,
            "{} directives: {mapped} mapped, {approximated} approximated, {dropped} dropped",
            self.entries.len()
        )?;
        for diagnostic in &self.check {
            writeln!(f, "imported lvs.cf: {diagnostic}")?;
        }
        Ok(())
    }
}
