//! `include = PATTERN` (an lvs-rs extension): further files read in place
//! of the line, as conf.d fragments are. [`expand`] makes one text of a file
//! and what it includes, and [`Origins`] says where each of its lines came
//! from, so that errors and findings name the included file and its line.
//!
//! The expansion is textual, like keepalived's `include`: a fragment may hold
//! globals, whole blocks or the servers of a block opened around it. A
//! pattern is a glob (`lvs.d/*.cf`), relative to the including file's folder;
//! its matches are read in name order. A pattern without glob characters
//! must name a file; a glob may match nothing (an empty conf.d). Includes
//! nest, up to [`MAX_DEPTH`]; a file that includes itself, directly or not,
//! is an error.

use std::path::{Path, PathBuf};

use crate::error::LoadError;

/// How deep includes may nest.
pub const MAX_DEPTH: usize = 16;

/// Where the lines of an expanded text came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origins {
    /// Runs of lines from one file: (first expanded line, file index, its
    /// line in that file), in order.
    runs: Vec<(usize, usize, usize)>,
    /// The files; the first is the one read.
    files: Vec<PathBuf>,
}

impl Origins {
    /// Whether the text came from more than one file.
    pub fn has_includes(&self) -> bool {
        self.files.len() > 1
    }

    /// The file and line that expanded line `line` came from; `None` for the
    /// file that was read (index 0) when it is the only one.
    pub fn locate(&self, line: usize) -> (Option<&Path>, usize) {
        let run = self.runs.partition_point(|&(first, _, _)| first <= line);
        match run.checked_sub(1).and_then(|i| self.runs.get(i)) {
            Some(&(first, file, file_line)) => {
                let path = (file > 0).then(|| self.files[file].as_path());
                (path, file_line + (line - first))
            }
            None => (None, line),
        }
    }
}

/// The text of `path` with its includes expanded, and where each line came
/// from. `strict` leaves `include` lines alone, for the parser to refuse.
pub(crate) fn expand(path: &Path, strict: bool) -> Result<(Vec<u8>, Origins), LoadError> {
    let mut expansion = Expansion {
        out: Vec::new(),
        lines: 0,
        origins: Origins::default(),
        strict,
    };
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })?;
    expansion.file(path, &bytes, &mut Vec::new())?;
    Ok((expansion.out, expansion.origins))
}

struct Expansion {
    out: Vec<u8>,
    /// Lines written so far.
    lines: usize,
    origins: Origins,
    strict: bool,
}

impl Expansion {
    /// Writes `bytes` (the content of `path`), expanding its includes;
    /// `reading` holds the files being read around it.
    fn file(&mut self, path: &Path, bytes: &[u8], reading: &mut Vec<PathBuf>) -> Result<(), LoadError> {
        let index = self.origins.files.len();
        self.origins.files.push(path.to_owned());
        reading.push(canonical(path));
        let mut run_open = false;
        for (number, line) in lines(bytes).enumerate().map(|(i, l)| (i + 1, l)) {
            if !run_open {
                self.origins.runs.push((self.lines + 1, index, number));
                run_open = true;
            }
            let pattern = if self.strict { None } else { include_pattern(line) };
            let Some(pattern) = pattern else {
                self.push(line);
                continue;
            };
            // The include line itself stays, blank, so that the file's own
            // lines keep their numbers within its runs.
            self.push(b"");
            let pattern = pattern.map_err(|why| include_error(path, number, why))?;
            if reading.len() > MAX_DEPTH {
                return Err(include_error(
                    path,
                    number,
                    format!("includes nest deeper than {MAX_DEPTH} files"),
                ));
            }
            for included in matches(path, &pattern).map_err(|why| include_error(path, number, why))? {
                if reading.contains(&canonical(&included)) {
                    return Err(include_error(
                        path,
                        number,
                        format!("include loop: {} is already being read", included.display()),
                    ));
                }
                let content = std::fs::read(&included).map_err(|e| {
                    include_error(path, number, format!("cannot read {}: {e}", included.display()))
                })?;
                self.file(&included, &content, reading)?;
                run_open = false;
            }
        }
        reading.pop();
        Ok(())
    }

    fn push(&mut self, line: &[u8]) {
        self.out.extend_from_slice(line);
        self.out.push(b'\n');
        self.lines += 1;
    }
}

fn include_error(path: &Path, line: usize, why: String) -> LoadError {
    LoadError::Include {
        path: path.to_owned(),
        line,
        why,
    }
}

/// The path as the loop check compares it.
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// The lines of `bytes`, split as the parser splits them (`\n`, `\r\n` or `\r`).
fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(bytes);
    std::iter::from_fn(move || {
        let text = rest?;
        if text.is_empty() {
            rest = None;
            return None;
        }
        let end = text
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .unwrap_or(text.len());
        let skip = match (text.get(end), text.get(end + 1)) {
            (Some(b'\r'), Some(b'\n')) => 2,
            (Some(_), _) => 1,
            (None, _) => 0,
        };
        rest = Some(&text[end + skip..]);
        Some(&text[..end])
    })
}

/// The pattern of an `include` line (`None`: not one), or why it is not a
/// valid one.
fn include_pattern(line: &[u8]) -> Option<Result<String, String>> {
    let text = std::str::from_utf8(line).ok()?.trim_start();
    let after = text.strip_prefix("include")?;
    if !after.starts_with([' ', '\t', '=']) {
        return None;
    }
    let Some(value) = after.trim_start().strip_prefix('=') else {
        return Some(Err("write `include = PATTERN`".to_owned()));
    };
    let value = value.trim();
    let (pattern, rest) = match value.strip_prefix('"') {
        Some(quoted) => match quoted.split_once('"') {
            Some((pattern, rest)) => (pattern, rest),
            None => return Some(Err("quotation mismatch".to_owned())),
        },
        None => value.split_at(value.find([' ', '\t']).unwrap_or(value.len())),
    };
    let rest = rest.trim();
    if !rest.is_empty() && !rest.starts_with('#') {
        return Some(Err(format!("unexpected arguments after the pattern: `{rest}`")));
    }
    if pattern.is_empty() {
        return Some(Err("write `include = PATTERN`".to_owned()));
    }
    Some(Ok(pattern.to_owned()))
}

/// The files `pattern` names, relative to the folder of `including`, in
/// name order.
fn matches(including: &Path, pattern: &str) -> Result<Vec<PathBuf>, String> {
    let folder = including.parent().filter(|_| Path::new(pattern).is_relative());
    let full = match folder {
        Some(folder) => folder.join(pattern),
        None => PathBuf::from(pattern),
    };
    let is_glob = pattern.contains(['*', '?', '[']);
    if !is_glob {
        return if full.is_file() {
            Ok(vec![full])
        } else {
            Err(format!("no file {}", full.display()))
        };
    }
    // Only the pattern is a glob: the folder's name is taken as written.
    let glob = match folder.filter(|folder| !folder.as_os_str().is_empty()) {
        Some(folder) => {
            let folder = folder
                .to_str()
                .ok_or_else(|| format!("the folder {} is not UTF-8", folder.display()))?;
            format!("{}/{pattern}", glob::Pattern::escape(folder))
        }
        None => pattern.to_owned(),
    };
    let paths = glob::glob(&glob).map_err(|e| format!("bad pattern `{pattern}`: {e}"))?;
    let mut found = Vec::new();
    for path in paths {
        let path = path.map_err(|e| format!("cannot read {}: {}", e.path().display(), e.error()))?;
        if path.is_file() {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_lines_and_their_patterns() {
        assert_eq!(
            include_pattern(b"include = a/*.cf"),
            Some(Ok("a/*.cf".to_owned()))
        );
        assert_eq!(
            include_pattern(b"  include=\"b c.cf\" # x"),
            Some(Ok("b c.cf".to_owned()))
        );
        assert_eq!(include_pattern(b"included = 1"), None);
        assert_eq!(include_pattern(b"# include = x"), None);
        assert!(matches!(include_pattern(b"include x"), Some(Err(_))));
        assert!(matches!(include_pattern(b"include = a b"), Some(Err(_))));
    }

    #[test]
    fn lines_split_as_the_parser_splits_them() {
        let split: Vec<&[u8]> = lines(b"a\r\nb\rc\n\nd").collect();
        assert_eq!(split, [&b"a"[..], b"b", b"c", b"", b"d"]);
    }

    #[test]
    fn origins_map_expanded_lines_back() {
        let origins = Origins {
            runs: vec![(1, 0, 1), (3, 1, 1), (5, 0, 3)],
            files: vec!["main".into(), "part".into()],
        };
        assert_eq!(origins.locate(2), (None, 2));
        assert_eq!(origins.locate(4), (Some(Path::new("part")), 2));
        assert_eq!(origins.locate(6), (None, 4));
    }
}
