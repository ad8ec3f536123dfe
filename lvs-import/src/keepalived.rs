//! keepalived.conf, as keepalived 2.4 reads it.
//!
//! Reading happens in three steps, as in keepalived itself:
//! - the reader takes physical lines, drops comments (`#` or `!` outside
//!   double quotes), keeps only the lines of this router's config id
//!   (`@ID`, `@^ID`), records `$NAME=value` parameters (several lines with
//!   a trailing `\`), expands `~SEQ(...)` and `~LST(...)` into one line per
//!   value, substitutes `$NAME` and `${NAME}`, and reads `include` patterns
//!   (globs, relative to the including file's directory) in place;
//! - each logical line is split into words and braces by a grammar of its
//!   own (`keepalived.pest`), and the braces make a tree of statements;
//! - the tree is mapped onto lvs.cf: `virtual_server` (and
//!   `virtual_server_group`) into virtual services with their real servers
//!   and checkers, the first `vrrp_instance` into pulse's settings, and
//!   `global_defs`' LVS settings into the global ones.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use lvs_cf::{
    AddressOnDevice, CheckBlock, CheckType, Config, DnsTransport, Host, HttpVersion, Netmask, Network,
    Payload, PersistenceEngine, Protocol, RealServer, RecordType, Scheduler, SchedulerFlag, Seconds,
    ServerOptions, StatusRange, TunnelChecksum, TunnelType, VirtualService,
};
use pest::Parser as _;

use crate::error::{ImportError, Position};
use crate::report::{Fate, Report};
use crate::Routers;

mod grammar {
    #![allow(missing_docs)] // pest's generated rule enum
    #[derive(pest_derive::Parser)]
    #[grammar = "keepalived.pest"]
    pub(super) struct Grammar;
}
use grammar::{Grammar, Rule};

/// The most lines one line may expand to (`~SEQ` and ranges): a typo must
/// not write millions of services.
pub const MAX_EXPANSION: usize = 4096;

/// How deep parameters may refer to parameters.
const MAX_SUBSTITUTION_DEPTH: usize = 32;

/// The most logical lines a whole file may expand to (sequences within
/// sequences, parameters doubling themselves).
pub const MAX_LINES: usize = 1_000_000;

/// The longest logical line, after substitution (keepalived's own limit is
/// 1,024 bytes).
pub const MAX_LINE_LENGTH: usize = 64 * 1024;

/// The deepest nesting of blocks.
pub const MAX_BLOCK_DEPTH: usize = 64;

/// Reads the file `name` (or `text` in hand) into lvs.cf's model and a report.
pub(crate) fn import(
    name: &Path,
    text: &str,
    (on_disk, includes): (bool, bool),
    config_id: &str,
    routers: &Routers,
) -> Result<(Config, Report), ImportError> {
    let mut report = Report::default();
    let mut reader = Reader {
        config_id,
        parameters: HashMap::new(),
        reading: Vec::new(),
        lines: Vec::new(),
        expanded: 0,
        includes,
        order: HashMap::new(),
        report: &mut report,
    };
    let directory = if on_disk {
        name.parent().map(Path::to_owned).unwrap_or_default()
    } else {
        std::env::current_dir().unwrap_or_default()
    };
    if on_disk {
        // The main file is being read too: an include of it is a cycle.
        reader
            .reading
            .push(std::fs::canonicalize(name).unwrap_or_else(|_| name.to_owned()));
    }
    reader.read_text(name, text, &directory)?;
    let lines = std::mem::take(&mut reader.lines);
    let order = std::mem::take(&mut reader.order);
    let tree = parse_tree(&lines)?;
    let config = Mapper::new(routers, &mut report).map(&tree)?;
    // The report in reading order: includes in place.
    report.entries.sort_by_key(|e| {
        order
            .get(&(e.at.file.clone(), e.at.line))
            .copied()
            .unwrap_or(usize::MAX)
    });
    Ok((config, report))
}

// ------------------------------------------------------------------ reader

/// A logical line, after the reader.
#[derive(Clone, Debug)]
struct Line {
    text: String,
    at: Position,
}

struct Reader<'r> {
    config_id: &'r str,
    /// `$NAME=` parameters: their lines.
    parameters: HashMap<String, Vec<String>>,
    /// The files being read, innermost last (for cycles).
    reading: Vec<PathBuf>,
    lines: Vec<Line>,
    /// Logical lines made so far (see [`MAX_LINES`]).
    expanded: usize,
    /// Whether `include` lines are read.
    includes: bool,
    /// Each physical line read, by file and line: its place in reading order.
    order: HashMap<(PathBuf, usize), usize>,
    report: &'r mut Report,
}

/// `text` without its comment: `#` or `!` outside double quotes (`\#` and
/// `\!` are the characters themselves).
fn strip_comment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                out.push(c);
            }
            '\\' if !quoted && matches!(chars.peek(), Some('#' | '!')) => {
                out.extend(chars.next());
            }
            '#' | '!' if !quoted => break,
            _ => out.push(c),
        }
    }
    out.trim_end().to_owned()
}

/// `$NAME=value` at the start of `text`: the name and the value.
fn definition(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix('$')?;
    let end = rest.find('=')?;
    let name = &rest[..end];
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| (name, rest[end + 1..].trim_start()))
}

impl Reader<'_> {
    fn read_file(&mut self, path: &Path, at: &Position) -> Result<(), ImportError> {
        let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        if self.reading.contains(&canonical) {
            return Err(ImportError::IncludeCycle {
                at: at.clone(),
                path: path.to_owned(),
            });
        }
        if self.reading.len() >= crate::MAX_INCLUDE_DEPTH {
            return Err(ImportError::IncludeDepth { at: at.clone() });
        }
        let bytes = std::fs::read(path).map_err(|source| ImportError::Read {
            file: path.to_owned(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|e| ImportError::Syntax {
            at: crate::utf8_position(path, e.as_bytes(), e.utf8_error().valid_up_to()),
            message: "not UTF-8 text".into(),
        })?;
        self.reading.push(canonical);
        let directory = path.parent().map(Path::to_owned).unwrap_or_default();
        let read = self.read_text(path, &text, &directory);
        self.reading.pop();
        read
    }

    fn read_text(&mut self, file: &Path, text: &str, directory: &Path) -> Result<(), ImportError> {
        let physical: Vec<&str> = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .collect();
        let mut index = 0;
        while index < physical.len() {
            let at = Position {
                file: file.to_owned(),
                line: index + 1,
                column: 1,
            };
            let next = self.order.len();
            self.order.entry((file.to_owned(), index + 1)).or_insert(next);
            let mut text = strip_comment(physical[index]);
            index += 1;
            // A definition whose value ends in `\` goes on over the next lines.
            if let Some((name, value)) = definition(text.trim_start()) {
                let (name, value) = (name.to_owned(), value.to_owned());
                let mut lines = Vec::new();
                let mut current = value;
                while let Some(part) = current.strip_suffix('\\') {
                    let part = part.trim_end();
                    if !part.is_empty() {
                        lines.push(part.to_owned());
                    }
                    let Some(next) = physical.get(index) else {
                        current.clear();
                        break;
                    };
                    current = strip_comment(next).trim().to_owned();
                    index += 1;
                }
                if !current.is_empty() || lines.is_empty() {
                    lines.push(current);
                }
                self.parameters.insert(name, lines);
                continue;
            }
            // Columns count from the physical line's start.
            let indent = text.chars().take_while(|c| c.is_whitespace()).count();
            let at = Position {
                column: indent + 1,
                ..at
            };
            text = text.trim().to_owned();
            self.logical(text, &at, directory, 0)?;
        }
        Ok(())
    }

    /// One logical line: conditionals, sequences, substitution, includes.
    #[allow(clippy::too_many_lines)]
    fn logical(
        &mut self,
        text: String,
        at: &Position,
        directory: &Path,
        depth: usize,
    ) -> Result<(), ImportError> {
        if text.is_empty() {
            return Ok(());
        }
        self.expanded += 1;
        if self.expanded > MAX_LINES || text.len() > MAX_LINE_LENGTH {
            return Err(ImportError::Syntax {
                at: at.clone(),
                message: format!(
                    "the file expands to more than {MAX_LINES} lines, or to a line longer than {MAX_LINE_LENGTH} bytes"
                ),
            });
        }
        if depth > MAX_SUBSTITUTION_DEPTH {
            return Err(ImportError::Syntax {
                at: at.clone(),
                message: format!("parameters refer to each other more than {MAX_SUBSTITUTION_DEPTH} deep"),
            });
        }
        // `@ID line` is read only by the router of that id; `@^ID line` by the others.
        if let Some(rest) = text.strip_prefix('@') {
            let (negated, rest) = match rest.strip_prefix('^') {
                Some(rest) => (true, rest),
                None => (false, rest),
            };
            let (id, line) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
            if (id == self.config_id) == negated {
                return Ok(());
            }
            let skipped = text.chars().count() - line.trim_start().chars().count();
            let at = Position {
                column: at.column + skipped,
                ..at.clone()
            };
            return self.logical(line.trim().to_owned(), &at, directory, depth + 1);
        }
        if let Some((name, value)) = definition(&text) {
            self.parameters.insert(name.to_owned(), vec![value.to_owned()]);
            return Ok(());
        }
        if let Some(expanded) = self.sequence(&text, at)? {
            for (assignments, rest) in expanded {
                for (name, value) in assignments {
                    self.parameters.insert(name, vec![value]);
                }
                self.logical(rest, at, directory, depth + 1)?;
            }
            return Ok(());
        }
        let substituted = self.substitute(&text, at)?;
        if substituted.len() > 1 || substituted.first() != Some(&text) {
            for line in substituted {
                self.logical(strip_comment(&line).trim().to_owned(), at, directory, depth + 1)?;
            }
            return Ok(());
        }
        // keepalived reads `include PATTERN` (two words) as an include.
        let words: Vec<&str> = text.split_whitespace().collect();
        if let [first @ ("include" | "includer" | "includem" | "includew" | "includeb" | "includea"), pattern] =
            words[..]
        {
            let pattern = pattern.trim_matches('"');
            return self.include(first, pattern, at, directory);
        }
        self.lines.push(Line { text, at: at.clone() });
        Ok(())
    }

    fn include(
        &mut self,
        keyword: &str,
        pattern: &str,
        at: &Position,
        directory: &Path,
    ) -> Result<(), ImportError> {
        let error = |message: String| ImportError::Value {
            at: at.clone(),
            directive: keyword.to_owned(),
            message,
        };
        if !self.includes {
            return Err(error(
                "includes are not read here: import the files one by one, or on the router".into(),
            ));
        }
        // The including file's directory is a path, not a pattern; `{a,b}` is
        // expanded as keepalived's GLOB_BRACE does.
        let base = glob::Pattern::escape(&directory.to_string_lossy());
        let mut files: Vec<PathBuf> = Vec::new();
        for each in braces(pattern) {
            let full = if Path::new(&each).is_absolute() {
                each
            } else {
                format!("{base}/{each}")
            };
            let found = glob::glob(&full).map_err(|e| error(format!("{pattern:?} is not a pattern: {e}")))?;
            // Each alternative's matches sorted, the alternatives in order, as glob(3) gives them.
            let mut matched: Vec<PathBuf> = found.filter_map(Result::ok).filter(|p| p.is_file()).collect();
            matched.sort();
            files.extend(matched);
        }
        let directive = format!("{keyword} {pattern}");
        if files.is_empty() {
            if keyword != "include" {
                return Err(error(format!("{pattern:?} matches no file")));
            }
            self.report.push(
                at.clone(),
                directive,
                Fate::Dropped("matches no file (keepalived reads nothing either)".into()),
            );
            return Ok(());
        }
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        self.report.push(
            at.clone(),
            directive,
            Fate::Mapped(format!("read in place: {}", names.join(", "))),
        );
        for file in files {
            self.read_file(&file, at)?;
        }
        Ok(())
    }

    /// `~SEQ(var, ...)`, `~SEQx(...)` or `~LST(var, ...)` at the start of
    /// `text`: each set of values and the rest of the line.
    #[allow(clippy::type_complexity)]
    fn sequence(
        &self,
        text: &str,
        at: &Position,
    ) -> Result<Option<Vec<(Vec<(String, String)>, String)>>, ImportError> {
        let (kind, rest) = if let Some(rest) = text.strip_prefix("~SEQx(") {
            ("SEQx", rest)
        } else if let Some(rest) = text.strip_prefix("~SEQ(") {
            ("SEQ", rest)
        } else if let Some(rest) = text.strip_prefix("~LST(") {
            ("LST", rest)
        } else {
            return Ok(None);
        };
        let error = |message: String| ImportError::Syntax {
            at: at.clone(),
            message: format!("~{kind}: {message}"),
        };
        // The arguments run to the `)` that closes the opening one (braces of `~LST({..})` inside).
        let mut level = 1;
        let mut end = None;
        for (i, c) in rest.char_indices() {
            match c {
                '(' => level += 1,
                ')' => {
                    level -= 1;
                    if level == 0 {
                        end = Some(i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let end = end.ok_or_else(|| error("no closing )".into()))?;
        let arguments = self.substitute(&rest[..end], at)?.join(" ");
        let line = rest[end + 1..].trim().to_owned();
        let split: Vec<String> = split_arguments(&arguments);
        let mut out = Vec::new();
        if kind == "LST" {
            let (names, values) = split.split_first().ok_or_else(|| error("no variable".into()))?;
            let names: Vec<String> = braced(names).into_iter().map(|n| n.trim().to_owned()).collect();
            for value in values {
                let values = braced(value);
                let assignments = names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| (n.clone(), values.get(i).map_or("", |v| v.trim()).to_owned()))
                    .collect();
                out.push((assignments, line.clone()));
            }
        } else {
            let (name, numbers) = split.split_first().ok_or_else(|| error("no variable".into()))?;
            let numbers: Vec<i64> = numbers
                .iter()
                .map(|n| parse_c_integer(n.trim()).ok_or_else(|| error(format!("{n:?} is not a number"))))
                .collect::<Result<_, _>>()?;
            let (start, step, last) = match numbers[..] {
                [last] => (if last < 0 { -1 } else { 1 }, if last < 1 { -1 } else { 1 }, last),
                [start, last] => (start, if last < start { -1 } else { 1 }, last),
                [start, step, last] => (start, step, last),
                _ => return Err(error("one, two or three numbers after the variable".into())),
            };
            if step == 0 || (step > 0 && last < start) || (step < 0 && last > start) {
                return Err(error(format!("from {start} by {step} never reaches {last}")));
            }
            if kind == "SEQx" && (start < 0 || last < 0) {
                return Err(error("~SEQx counts from 0 up".into()));
            }
            let mut value = start;
            while (step > 0 && value <= last) || (step < 0 && value >= last) {
                let written = if kind == "SEQx" {
                    format!("{value:x}")
                } else {
                    value.to_string()
                };
                out.push((vec![(name.trim().to_owned(), written)], line.clone()));
                if out.len() > MAX_EXPANSION {
                    return Err(error(format!("more than {MAX_EXPANSION} lines")));
                }
                match value.checked_add(step) {
                    Some(next) => value = next,
                    None => break,
                }
            }
        }
        Ok(Some(out))
    }

    /// `text` with `${NAME}` and `$NAME` replaced (once; the caller reads the
    /// result again): a parameter of several lines gives several lines.
    fn substitute(&self, text: &str, at: &Position) -> Result<Vec<String>, ImportError> {
        let mut out = String::new();
        let mut lines: Vec<String> = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find('$') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let (name, consumed) = if let Some(inner) = after.strip_prefix('{') {
                match inner.find('}') {
                    Some(end) => (&inner[..end], end + 2),
                    None => ("", 0),
                }
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                // `$NAME` ends at a blank, `,`, `)` or the line's end.
                let next = after[end..].chars().next();
                if matches!(next, None | Some(' ' | '\t' | ',' | ')')) {
                    (&after[..end], end)
                } else {
                    ("", 0)
                }
            };
            let value = match name {
                // The including file's directory, absolute (keepalived's getcwd there).
                "_PWD" => {
                    let directory = at.file.parent().unwrap_or(Path::new(""));
                    let absolute = std::path::absolute(directory).unwrap_or_else(|_| directory.to_owned());
                    Some(vec![absolute.display().to_string()])
                }
                "" => None,
                name => self.parameters.get(name).cloned(),
            };
            match value {
                Some(value) if consumed > 0 => {
                    let mut value = value.into_iter();
                    out.push_str(&value.next().unwrap_or_default());
                    for line in value {
                        lines.push(std::mem::take(&mut out));
                        out = line;
                    }
                    rest = &after[consumed..];
                }
                // Unknown names stay as written, as in keepalived.
                _ => {
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        lines.push(out);
        Ok(lines)
    }
}

/// `conf.d/{a,b}.conf` as `conf.d/a.conf` and `conf.d/b.conf` (each group
/// in turn); a pattern without braces as itself.
fn braces(pattern: &str) -> Vec<String> {
    let (Some(open), Some(close)) = (pattern.find('{'), pattern.find('}')) else {
        return vec![pattern.to_owned()];
    };
    if close < open {
        return vec![pattern.to_owned()];
    }
    let (head, tail) = (&pattern[..open], &pattern[close + 1..]);
    pattern[open + 1..close]
        .split(',')
        .flat_map(|choice| braces(&format!("{head}{choice}{tail}")))
        .collect()
}

/// `a, {b, c}, d` split at the commas outside braces.
fn split_arguments(text: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut level = 0;
    for c in text.chars() {
        match c {
            '{' => level += 1,
            '}' => level -= 1,
            ',' if level == 0 => {
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = parts.last_mut() {
            last.push(c);
        }
    }
    parts.into_iter().map(|p| p.trim().to_owned()).collect()
}

/// `{a,b}` as its parts; a plain value as itself.
fn braced(text: &str) -> Vec<String> {
    match text.trim().strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
        Some(inner) => inner.split(',').map(str::to_owned).collect(),
        None => vec![text.to_owned()],
    }
}

/// A number as C's strtol with base 0 reads it: `0x1f`, `017`, `-3`.
fn parse_c_integer(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.starts_with(['+', '-']) {
        return None;
    }
    let value = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        if hex.starts_with(['+', '-']) {
            return None;
        }
        i64::from_str_radix(hex, 16).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else {
        digits.parse().ok()?
    };
    Some(if negative { -value } else { value })
}

// -------------------------------------------------------------------- tree

/// A statement: its words, and its block's statements if it opens one.
#[derive(Clone, Debug)]
struct Node {
    words: Vec<String>,
    at: Position,
    children: Option<Vec<Node>>,
}

impl Node {
    fn keyword(&self) -> &str {
        self.words.first().map_or("", String::as_str)
    }

    fn args(&self) -> &[String] {
        self.words.get(1..).unwrap_or_default()
    }

    fn arg(&self, index: usize) -> Option<&str> {
        self.words.get(index + 1).map(String::as_str)
    }

    fn children(&self) -> &[Node] {
        self.children.as_deref().unwrap_or_default()
    }

    fn written(&self) -> String {
        let mut text = self.words.join(" ");
        if self.children.is_some() {
            text.push_str(" { }");
        }
        text
    }

    fn error(&self, message: impl Into<String>) -> ImportError {
        ImportError::Value {
            at: self.at.clone(),
            directive: self.keyword().to_owned(),
            message: message.into(),
        }
    }

    /// The argument at `index`, which must be there.
    fn required(&self, index: usize, what: &str) -> Result<&str, ImportError> {
        self.arg(index).ok_or_else(|| self.error(format!("no {what}")))
    }
}

enum Token {
    Word(String),
    Open,
    Close,
}

fn parse_tree(lines: &[Line]) -> Result<Vec<Node>, ImportError> {
    let mut tokens = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let pairs = Grammar::parse(Rule::line, &line.text).map_err(|e| {
            let column = match e.line_col {
                pest::error::LineColLocation::Pos((_, c)) | pest::error::LineColLocation::Span((_, c), _) => {
                    c
                }
            };
            ImportError::Syntax {
                at: Position {
                    column: line.at.column + column - 1,
                    ..line.at.clone()
                },
                message: "a double quote that does not close".into(),
            }
        })?;
        for pair in pairs {
            let at = Position {
                column: line.at.column + pair.line_col().1 - 1,
                ..line.at.clone()
            };
            let token = match pair.as_rule() {
                Rule::open => Token::Open,
                Rule::close => Token::Close,
                Rule::quoted => Token::Word(pair.into_inner().as_str().to_owned()),
                Rule::word => Token::Word(pair.as_str().to_owned()),
                _ => continue,
            };
            // A new line starts a new statement: the line's index goes with the token.
            tokens.push((token, at, index));
        }
    }
    let mut position = 0;
    let nodes = block(&tokens, &mut position, None, 0)?;
    Ok(nodes)
}

fn block(
    tokens: &[(Token, Position, usize)],
    position: &mut usize,
    opened: Option<&Position>,
    depth: usize,
) -> Result<Vec<Node>, ImportError> {
    if depth > MAX_BLOCK_DEPTH {
        return Err(ImportError::Syntax {
            at: opened.cloned().unwrap_or_default(),
            message: format!("blocks nest deeper than {MAX_BLOCK_DEPTH}"),
        });
    }
    let mut nodes: Vec<Node> = Vec::new();
    let mut line_of_last = None;
    while let Some((token, at, line)) = tokens.get(*position) {
        *position += 1;
        match token {
            Token::Close => {
                return match opened {
                    Some(_) => Ok(nodes),
                    None => Err(ImportError::Syntax {
                        at: at.clone(),
                        message: "a } that closes no block".into(),
                    }),
                };
            }
            Token::Open => {
                let Some(owner) = nodes.last_mut().filter(|n| n.children.is_none()) else {
                    return Err(ImportError::Syntax {
                        at: at.clone(),
                        message: "a { with no keyword before it".into(),
                    });
                };
                owner.children = Some(block(tokens, position, Some(at), depth + 1)?);
                line_of_last = None;
            }
            Token::Word(word) => match nodes.last_mut() {
                Some(last) if line_of_last == Some(*line) && last.children.is_none() => {
                    last.words.push(word.clone())
                }
                _ => {
                    nodes.push(Node {
                        words: vec![word.clone()],
                        at: at.clone(),
                        children: None,
                    });
                    line_of_last = Some(*line);
                }
            },
        }
    }
    match opened {
        Some(at) => Err(ImportError::Syntax {
            at: at.clone(),
            message: "this { is never closed".into(),
        }),
        None => Ok(nodes),
    }
}

// ----------------------------------------------------------------- mapping

/// What a virtual server's keys set for its real servers and checkers
/// (keepalived passes these down: virtual server, then real server, then
/// checker).
#[derive(Clone, Debug, Default)]
struct Inherited {
    connect_timeout: Option<f64>,
    retry: Option<u32>,
    delay_loop: Option<f64>,
    virtualhost: Option<String>,
    weight: Option<u32>,
    inhibit: Option<bool>,
}

/// The global `SSL { }` block: what SSL_GET checks verify against and present.
#[derive(Clone, Debug, Default)]
struct Tls {
    ca: Option<String>,
    certificate: Option<String>,
    key: Option<String>,
}

struct Mapper<'m> {
    routers: &'m Routers,
    report: &'m mut Report,
    config: Config,
    groups: HashMap<String, Vec<Member>>,
    track_files: HashMap<String, String>,
    tls: Tls,
    /// Each VIP of the VRRP instances: its device and prefix.
    vips: HashMap<IpAddr, (String, Option<u8>)>,
    /// Service names given, for uniqueness.
    names: HashSet<String>,
    /// The most failures in a row any checker of the virtual server being read takes.
    retry: Option<u32>,
    /// Address labels given or made (`eth0:3`), so that no two VIPs share one.
    labels: HashSet<String>,
}

/// A `virtual_server_group` member.
#[derive(Clone, Debug)]
enum Member {
    Address(IpAddr, Option<u16>),
    Fwmark(u32),
}

/// Seconds to the millisecond (keepalived's timers are microseconds; lvs.cf
/// writes what it is given).
fn seconds(value: f64) -> Seconds {
    Seconds(Duration::from_millis((value * 1000.0).round() as u64))
}

fn number<T: std::str::FromStr>(node: &Node, index: usize, what: &str) -> Result<T, ImportError> {
    let text = node.required(index, what)?;
    text.parse()
        .map_err(|_| node.error(format!("{text:?} is not a valid {what}")))
}

fn timer(node: &Node) -> Result<f64, ImportError> {
    let value: f64 = number(node, 0, "number of seconds")?;
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(node.error("not a number of seconds"))
    }
}

fn address(node: &Node, index: usize) -> Result<IpAddr, ImportError> {
    let text = node.required(index, "address")?;
    text.parse().map_err(|_| {
        node.error(format!(
            "{text:?} is not an IP address (keepalived takes no names)"
        ))
    })
}

/// The name a service or server gets in lvs.cf, from its address.
fn name_of(prefix: &str, address: &str, port: Option<u16>) -> String {
    let mut name = format!("{prefix}_{}", address.replace(['.', ':'], "_"));
    if let Some(port) = port {
        name.push_str(&format!("_{port}"));
    }
    name
}

/// `lb_kind`/`lvs_method NAT|DR|TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]`.
fn method(node: &Node) -> Result<ServerOptions, ImportError> {
    let mut options = ServerOptions::default();
    let words = node.args();
    let (first, rest) = words.split_first().ok_or_else(|| node.error("no method"))?;
    options.network = Some(match first.as_str() {
        "NAT" => Network::Nat,
        "DR" => Network::Direct,
        "TUN" => Network::Tunnel,
        other => return Err(node.error(format!("{other:?} is not NAT, DR or TUN"))),
    });
    let mut rest = rest.iter();
    while let Some(word) = rest.next() {
        match word.as_str() {
            "type" => {
                let kind = rest.next().ok_or_else(|| node.error("no tunnel type"))?;
                options.tunnel_type = Some(
                    TunnelType::from_keyword(kind)
                        .ok_or_else(|| node.error(format!("{kind:?}: ipip, gue or gre")))?,
                );
            }
            "port" => {
                let port = rest.next().ok_or_else(|| node.error("no port"))?;
                options.tunnel_port = Some(
                    port.parse()
                        .map_err(|_| node.error(format!("{port:?} is not a port")))?,
                );
            }
            "nocsum" => options.tunnel_checksum = Some(TunnelChecksum::None),
            "csum" => options.tunnel_checksum = Some(TunnelChecksum::Checksum),
            "remcsum" => options.tunnel_checksum = Some(TunnelChecksum::Remote),
            other => return Err(node.error(format!("unexpected {other:?}"))),
        }
    }
    if options.network != Some(Network::Tunnel) && options.has_tunnel_keys() {
        return Err(node.error("tunnel settings with a method other than TUN"));
    }
    Ok(options)
}

fn method_words(options: &ServerOptions) -> String {
    options
        .entries()
        .into_iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl<'m> Mapper<'m> {
    fn new(routers: &'m Routers, report: &'m mut Report) -> Mapper<'m> {
        Mapper {
            routers,
            report,
            config: Config::default(),
            groups: HashMap::new(),
            track_files: HashMap::new(),
            tls: Tls::default(),
            vips: HashMap::new(),
            names: HashSet::new(),
            retry: None,
            labels: HashSet::new(),
        }
    }

    fn push(&mut self, node: &Node, fate: Fate) {
        self.report.push(node.at.clone(), node.written(), fate);
    }

    fn map(mut self, tree: &[Node]) -> Result<Config, ImportError> {
        self.config.backup_active = false;
        // What the virtual servers refer to is read first, wherever it stands.
        for node in tree {
            match node.keyword() {
                "virtual_server_group" => self.group(node)?,
                "track_file" | "vrrp_track_file" => self.track_file(node)?,
                "SSL" => self.ssl(node)?,
                "vrrp_instance" => self.collect_vips(node)?,
                _ => {}
            }
        }
        let mut instances = 0;
        for node in tree {
            match node.keyword() {
                "virtual_server" => self.virtual_server(node)?,
                "global_defs" => self.global_defs(node)?,
                "vrrp_instance" => {
                    instances += 1;
                    self.vrrp_instance(node, instances)?;
                }
                "vrrp_sync_group" => self.push(
                    node,
                    Fate::Mapped("pulse moves every VIP of the router together, as one sync group".into()),
                ),
                "virtual_server_group" | "track_file" | "vrrp_track_file" | "SSL" => {}
                "vrrp_script" | "vrrp_track_process" | "track_process" => self.push(
                    node,
                    Fate::Dropped(
                        "pulse fails over on link loss and on the lvs daemon's death; it tracks no scripts or processes"
                            .into(),
                    ),
                ),
                "bfd_instance" => self.push(node, Fate::Dropped("lvs has no BFD".into())),
                "static_ipaddress" | "static_routes" | "static_rules" => self.push(
                    node,
                    Fate::Dropped("addresses and routes that do not move belong to the system's network configuration".into()),
                ),
                "linkbeat_interfaces" | "garp_group" | "net_namespace" | "net_namespace_ipvs" | "instance"
                | "use_pid_dir" | "child_wait_time" => {
                    self.push(node, Fate::Dropped("a keepalived process setting lvs has no counterpart for".into()))
                }
                other => {
                    return Err(ImportError::UnknownKeyword {
                        at: node.at.clone(),
                        keyword: other.to_owned(),
                        context: "the top level".into(),
                    })
                }
            }
        }
        if let Some(primary) = &self.routers.primary {
            self.config.primary = Some(primary.clone());
        }
        if let Some(backup) = &self.routers.backup {
            self.config.backup = Some(backup.clone());
            self.config.backup_active = true;
        }
        crate::settle_network(&mut self.config, Network::Nat);
        Ok(self.config)
    }

    fn group(&mut self, node: &Node) -> Result<(), ImportError> {
        let name = node.required(0, "group name")?.to_owned();
        let mut members = Vec::new();
        for entry in node.children() {
            if entry.keyword() == "fwmark" {
                members.push(Member::Fwmark(number(entry, 0, "firewall mark")?));
                continue;
            }
            let port = entry
                .arg(0)
                .map(|p| p.parse::<u16>())
                .transpose()
                .map_err(|_| entry.error("not a port"))?;
            for address in expand_range(entry)? {
                members.push(Member::Address(address, port));
            }
            if members.len() > MAX_EXPANSION {
                return Err(entry.error(format!("the group names more than {MAX_EXPANSION} addresses")));
            }
        }
        self.push(
            node,
            Fate::Approximated(format!(
                "each of its {} members becomes a virtual service of its own with the group's settings and servers",
                members.len()
            )),
        );
        self.groups.insert(name, members);
        Ok(())
    }

    fn track_file(&mut self, node: &Node) -> Result<(), ImportError> {
        let name = node.required(0, "name")?.to_owned();
        let file = node
            .children()
            .iter()
            .find(|c| c.keyword() == "file")
            .map(|c| c.required(0, "file"))
            .transpose()?
            .ok_or_else(|| node.error("no file"))?;
        self.track_files.insert(name, file.to_owned());
        self.push(
            node,
            Fate::Mapped(format!("the file of FILE_CHECKs naming it: {file}")),
        );
        Ok(())
    }

    fn ssl(&mut self, node: &Node) -> Result<(), ImportError> {
        self.push(
            node,
            Fate::Mapped("the TLS settings of the SSL_GET checks".into()),
        );
        for key in node.children() {
            let value = key.required(0, "file")?.to_owned();
            let fate = match key.keyword() {
                "ca" => {
                    self.tls.ca = Some(value);
                    Fate::Mapped("ca_file, with verify = 1, in each SSL_GET check".into())
                }
                "certificate" => {
                    self.tls.certificate = Some(value);
                    Fate::Mapped("client_cert in each SSL_GET check".into())
                }
                "key" => {
                    self.tls.key = Some(value);
                    Fate::Mapped("client_key in each SSL_GET check".into())
                }
                "password" => Fate::Dropped("lvs reads unencrypted keys only: decrypt the key file".into()),
                other => {
                    return Err(ImportError::UnknownKeyword {
                        at: key.at.clone(),
                        keyword: other.to_owned(),
                        context: "SSL".into(),
                    })
                }
            };
            self.push(key, fate);
        }
        Ok(())
    }

    fn collect_vips(&mut self, node: &Node) -> Result<(), ImportError> {
        let interface = node
            .children()
            .iter()
            .find(|c| c.keyword() == "interface")
            .and_then(|c| c.arg(0))
            .unwrap_or(self.routers.device.as_str())
            .to_owned();
        for list in node
            .children()
            .iter()
            .filter(|c| matches!(c.keyword(), "virtual_ipaddress" | "virtual_ipaddress_excluded"))
        {
            for entry in list.children() {
                let (address, prefix) = match entry.keyword().split_once('/') {
                    Some((a, p)) => (
                        a,
                        Some(p.parse::<u8>().map_err(|_| entry.error("not a prefix length"))?),
                    ),
                    None => (entry.keyword(), None),
                };
                let address: IpAddr = address
                    .parse()
                    .map_err(|_| entry.error(format!("{address:?} is not an IP address")))?;
                let mut device = interface.clone();
                let mut label = None;
                let mut words = entry.args().iter();
                while let Some(word) = words.next() {
                    match word.as_str() {
                        "dev" => device = words.next().cloned().unwrap_or(device),
                        "label" => label = words.next().cloned(),
                        _ => {}
                    }
                }
                let device = match label {
                    Some(label) => {
                        self.labels.insert(label.clone());
                        label
                    }
                    None => self.new_label(&device),
                };
                self.vips.insert(address, (device, prefix));
            }
        }
        Ok(())
    }

    /// The first `DEVICE:N` label not in use.
    fn new_label(&mut self, device: &str) -> String {
        let label = (1..)
            .map(|n| format!("{device}:{n}"))
            .find(|label| !self.labels.contains(label))
            .unwrap_or_default();
        self.labels.insert(label.clone());
        label
    }

    fn global_defs(&mut self, node: &Node) -> Result<(), ImportError> {
        self.push(node, Fate::Mapped("the global part".into()));
        for key in node.children() {
            let fate = match key.keyword() {
                "lvs_sync_daemon" => {
                    let interface = key.required(0, "interface")?;
                    self.config.syncdaemon = true;
                    self.config.syncd_iface = interface.to_owned();
                    let mut words = key.args().iter().skip(1).peekable();
                    let mut dropped = Vec::new();
                    // The old positional form: interface, instance, id.
                    let mut positional = 0;
                    while let Some(word) = words.next() {
                        match word.as_str() {
                            "id" => {
                                let id = words.next().ok_or_else(|| key.error("no id"))?;
                                self.config.syncd_id =
                                    id.parse().map_err(|_| key.error(format!("{id:?} is not an id 0-255")))?;
                            }
                            "inst" => {
                                words.next();
                            }
                            "maxlen" | "port" | "ttl" | "group" => {
                                dropped.push(word.clone());
                                words.next();
                            }
                            other => {
                                positional += 1;
                                if positional == 2 {
                                    self.config.syncd_id = other
                                        .parse()
                                        .map_err(|_| key.error(format!("{other:?} is not an id 0-255")))?;
                                }
                            }
                        }
                    }
                    let mapped = format!(
                        "syncdaemon = 1, syncd_iface = {interface}, syncd_id = {}; pulse runs it as master or backup with the router's role",
                        self.config.syncd_id
                    );
                    if dropped.is_empty() {
                        Fate::Mapped(mapped)
                    } else {
                        Fate::Approximated(format!("{mapped}; {} left at the kernel's defaults", dropped.join(", ")))
                    }
                }
                "lvs_timeouts" => {
                    let mut words = key.args().iter();
                    while let Some(word) = words.next() {
                        let value = words.next().ok_or_else(|| key.error(format!("no value after {word}")))?;
                        let seconds: u32 = value.parse().map_err(|_| key.error(format!("{value:?} is not seconds")))?;
                        match word.as_str() {
                            "tcp" => self.config.tcp_timeout = seconds,
                            "tcpfin" => self.config.tcpfin_timeout = seconds,
                            "udp" => self.config.udp_timeout = seconds,
                            other => return Err(key.error(format!("{other:?}: tcp, tcpfin or udp"))),
                        }
                    }
                    Fate::Mapped("tcp_timeout, tcpfin_timeout, udp_timeout".into())
                }
                "lvs_flush" => Fate::Dropped(
                    "lvs never flushes the table: it adopts the entries of the services it names and leaves the others alone".into(),
                ),
                "lvs_flush_on_stop" => {
                    Fate::Approximated("lvsd removes the virtual services it runs when it stops".into())
                }
                "router_id" => Fate::Dropped("pulse knows the routers by their addresses (primary, backup)".into()),
                "vrrp_garp_master_repeat" => {
                    self.config.arp_count = number(key, 0, "count")?;
                    Fate::Mapped(format!("arp_count = {}", self.config.arp_count))
                }
                "notification_email" | "notification_email_from" | "smtp_server" | "smtp_connect_timeout"
                | "smtp_helo_name" | "smtp_alert" | "smtp_alert_vrrp" | "smtp_alert_checker" => {
                    Fate::Dropped("lvs sends no mail: a notify program gets every event and can".into())
                }
                "script_user" | "enable_script_security" => Fate::Dropped(
                    "lvs runs notify and check programs as root, in their own process group".into(),
                ),
                "lvs_notify_fifo" | "notify_fifo" | "vrrp_notify_fifo" => {
                    Fate::Dropped("lvsd --events streams the director's events as JSON lines".into())
                }
                _ => Fate::Dropped("a keepalived setting with no counterpart in lvs.cf".into()),
            };
            self.push(key, fate);
        }
        Ok(())
    }

    fn vrrp_instance(&mut self, node: &Node, number_of: usize) -> Result<(), ImportError> {
        if number_of > 1 {
            self.push(
                node,
                Fate::Approximated(
                    "pulse moves every VIP together: this instance's VIPs go with the first one's (VIP groups are not yet in lvs.cf)".into(),
                ),
            );
            return Ok(());
        }
        self.push(
            node,
            Fate::Mapped("pulse's settings: the routers, heartbeat timers, VIPs".into()),
        );
        let mut master = false;
        let mut priority = 100u32;
        let mut advert = 1.0f64;
        let mut source = None;
        let mut peers = Vec::new();
        for key in node.children() {
            let fate = match key.keyword() {
                "state" => {
                    master = key.arg(0) == Some("MASTER");
                    Fate::Mapped(format!(
                        "this router is the {} (primary and backup below)",
                        if master { "primary" } else { "backup" }
                    ))
                }
                "priority" => {
                    priority = number(key, 0, "priority 1-255")?;
                    Fate::Approximated(
                        "pulse has two roles, not priorities: the state says which router is primary".into(),
                    )
                }
                "advert_int" => {
                    advert = timer(key)?;
                    self.config.keepalive = seconds(advert);
                    Fate::Mapped(format!("keepalive = {advert}"))
                }
                "interface" => Fate::Mapped("the device of VIPs without one of their own".into()),
                "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
                    Fate::Mapped("each VIP is the address (and vip_nmask) of the virtual services on it".into())
                }
                "unicast_src_ip" => {
                    source = Some(address(key, 0)?);
                    Fate::Mapped("this router's address".into())
                }
                "unicast_peer" => {
                    for peer in key.children() {
                        peers.push(peer.keyword().parse::<IpAddr>().map_err(|_| {
                            peer.error(format!("{:?} is not an IP address", peer.keyword()))
                        })?);
                    }
                    Fate::Mapped("the other router's address".into())
                }
                "authentication" => Fate::Dropped(
                    "VRRP's password is eight characters in clear: set heartbeat_key to a file both routers share (HMAC-SHA-256)".into(),
                ),
                "auth_hmac" => Fate::Dropped("set heartbeat_key to a file both routers share (HMAC-SHA-256)".into()),
                "nopreempt" => Fate::Mapped("pulse's way: a returning primary stays passive until pulse --forceactive".into()),
                "preempt" | "preempt_delay" => Fate::Dropped(
                    "pulse does not fail back by itself: pulse --forceactive on the returning primary takes over".into(),
                ),
                "notify_master" => {
                    self.config.active_cmd = Some(key.args().join(" "));
                    Fate::Approximated("active_cmd: run with no arguments, not waited for".into())
                }
                "notify_backup" => {
                    self.config.inactive_cmd = Some(key.args().join(" "));
                    Fate::Approximated("inactive_cmd: run with no arguments, not waited for".into())
                }
                "track_interface" => {
                    self.config.monitor_links = true;
                    Fate::Approximated("monitor_links = 1: pulse watches the links of its heartbeat addresses".into())
                }
                "garp_master_repeat" => {
                    self.config.arp_count = number(key, 0, "count")?;
                    Fate::Mapped(format!("arp_count = {}", self.config.arp_count))
                }
                "lvs_sync_daemon_interface" => {
                    self.config.syncdaemon = true;
                    self.config.syncd_iface = key.required(0, "interface")?.to_owned();
                    Fate::Mapped(format!("syncdaemon = 1, syncd_iface = {}", self.config.syncd_iface))
                }
                "virtual_router_id" => Fate::Dropped("pulse pairs routers by their addresses".into()),
                _ => Fate::Dropped("a VRRP setting pulse has no counterpart for".into()),
            };
            self.push(key, fate);
        }
        // keepalived declares its master dead after three adverts and a skew of (256 - priority)/256 adverts.
        let skew = f64::from(256u32.saturating_sub(priority)) / 256.0;
        self.config.deadtime = seconds(advert * (3.0 + skew));
        if let (Some(me), Some(peer)) = (source, peers.first()) {
            let (primary, backup) = if master { (me, *peer) } else { (*peer, me) };
            self.config.primary = Some(Host::Ip(primary));
            self.config.backup = Some(Host::Ip(backup));
            self.config.backup_active = true;
        }
        Ok(())
    }

    fn service_name(&mut self, base: String) -> String {
        let mut name = base.clone();
        let mut n = 2;
        while !self.names.insert(name.clone()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        name
    }

    fn virtual_server(&mut self, node: &Node) -> Result<(), ImportError> {
        // The services this block makes: one, or one per group member.
        let targets: Vec<Member> = match node.arg(0) {
            Some("fwmark") => vec![Member::Fwmark(number(node, 1, "firewall mark")?)],
            Some("group") => {
                let name = node.required(1, "group name")?;
                self.groups
                    .get(name)
                    .cloned()
                    .ok_or_else(|| node.error(format!("no virtual_server_group {name}")))?
            }
            Some(_) => {
                let port = node
                    .arg(1)
                    .map(|p| p.parse::<u16>())
                    .transpose()
                    .map_err(|_| node.error("not a port"))?;
                vec![Member::Address(address(node, 0)?, port)]
            }
            None => return Err(node.error("no address")),
        };
        let mut template = VirtualService::new("");
        template.active = true;
        // keepalived's defaults where lvs.cf's differ: every server is checked once a minute,
        // and a server is back on its first passing check.
        template.check_interval = Some(seconds(60.0));
        template.reentry = 0;
        template.timeout = seconds(5.0);
        template.server_options.network = Some(Network::Nat);
        let mut inherited = Inherited::default();
        self.retry = None;
        let mut protocol_given = false;
        let mut flags: Vec<(&Node, &str)> = Vec::new();
        let mut sorry_port = None;
        for key in node.children().iter().filter(|k| k.keyword() != "real_server") {
            let fate = match key.keyword() {
                "delay_loop" => {
                    let value = timer(key)?;
                    template.check_interval = Some(seconds(value));
                    inherited.delay_loop = Some(value);
                    Fate::Mapped(format!("check_interval = {value}"))
                }
                "lb_algo" | "lvs_sched" => {
                    let word = key.required(0, "scheduler")?;
                    template.scheduler = Scheduler::from_keyword(word)
                        .ok_or_else(|| key.error(format!("{word:?} is not an IPVS scheduler")))?;
                    Fate::Mapped(format!("scheduler = {word}"))
                }
                "lb_kind" | "lvs_method" => {
                    template.server_options = method(key)?;
                    Fate::Mapped(method_words(&template.server_options))
                }
                "persistence_timeout" => {
                    template.persistent = match key.arg(0) {
                        Some(_) => number(key, 0, "timeout")?,
                        None => 360,
                    };
                    Fate::Mapped(format!("persistent = {}", template.persistent))
                }
                "persistence_granularity" => {
                    let mask = key.required(0, "netmask")?;
                    template.pmask = Some(match mask.parse::<Ipv4Addr>() {
                        Ok(mask) => Netmask::Dotted(mask),
                        Err(_) => Netmask::Prefix(mask.parse().map_err(|_| key.error("not a netmask"))?),
                    });
                    if template.persistent == 0 {
                        template.persistent = 360;
                    }
                    Fate::Mapped("pmask".into())
                }
                "persistence_engine" => {
                    template.persistence_engine = Some(match key.arg(0) {
                        Some("sip") => PersistenceEngine::Sip,
                        _ => return Err(key.error("only sip")),
                    });
                    Fate::Mapped("persistence_engine = sip".into())
                }
                "protocol" => {
                    protocol_given = true;
                    template.protocol = match key.required(0, "protocol")?.to_ascii_uppercase().as_str() {
                        "TCP" => Protocol::Tcp,
                        "UDP" => Protocol::Udp,
                        "SCTP" => Protocol::Sctp,
                        other => return Err(key.error(format!("{other:?}: TCP, UDP or SCTP"))),
                    };
                    Fate::Mapped(format!("protocol = {}", template.protocol))
                }
                "ops" => {
                    template.one_packet = true;
                    Fate::Mapped("one_packet = 1".into())
                }
                "flag-1" | "flag-2" | "flag-3" | "sh-port" | "sh-fallback" | "mh-port" | "mh-fallback" => {
                    flags.push((key, key.keyword()));
                    Fate::Mapped("scheduler_flags".into())
                }
                "sorry_server" => {
                    template.sorry_server = Some(address(key, 0)?);
                    sorry_port = key.arg(1).map(|p| p.parse::<u16>()).transpose().map_err(|_| key.error("not a port"))?;
                    Fate::Mapped("sorry_server, and sorry_port where it is reached by NAT (keepalived gives a DR or TUN sorry server the service's port)".into())
                }
                "sorry_server_lvs_method" | "sorry_server_lb_kind" => {
                    let options = method(key)?;
                    template.sorry_network = options.network;
                    Fate::Mapped(format!("sorry_network = {}", options.network.unwrap_or_default()))
                }
                "sorry_server_inhibit" => Fate::Approximated(
                    "the sorry server is added and removed with the servers' health, never inhibited at weight 0".into(),
                ),
                "quorum" => {
                    template.quorum = Some(number(key, 0, "quorum")?);
                    Fate::Mapped("quorum".into())
                }
                "hysteresis" => {
                    template.hysteresis = Some(number(key, 0, "hysteresis")?);
                    Fate::Mapped("hysteresis".into())
                }
                "quorum_up" | "quorum_down" => one_notify(
                    &mut template.notify,
                    key,
                    "the service, with the event as its arguments (quorum-lost, quorum-regained and the others)",
                ),
                "omega" => Fate::Dropped("quorum_down is not run at stop".into()),
                "alpha" | "connect_timeout" | "retry" | "nb_get_retry" | "delay_before_retry" | "warmup"
                | "virtualhost" => passed_down(key, &mut inherited)?,
                "inhibit_on_failure" => {
                    inherited.inhibit = Some(key.arg(0).is_none_or(|v| matches!(v, "on" | "true" | "yes")));
                    Fate::Mapped("quiesce_server".into())
                }
                "weight" => {
                    inherited.weight = Some(number(key, 0, "weight")?);
                    Fate::Mapped("the default weight of its real servers".into())
                }
                "ha_suspend" => Fate::Dropped("lvs keeps checking on the backup router too".into()),
                "ip_family" | "snmp_name" | "smtp_alert" => Fate::Dropped("no counterpart in lvs.cf".into()),
                other => {
                    return Err(ImportError::UnknownKeyword {
                        at: key.at.clone(),
                        keyword: other.to_owned(),
                        context: "virtual_server".into(),
                    })
                }
            };
            self.push(key, fate);
        }
        if !protocol_given {
            // keepalived's default when the block says none.
            template.protocol = Protocol::Udp;
        }
        for (key, flag) in flags {
            let word = match (flag, template.scheduler) {
                ("flag-1", Scheduler::Sh) => "sh-fallback",
                ("flag-2", Scheduler::Sh) => "sh-port",
                ("flag-1", Scheduler::Mh) => "mh-fallback",
                ("flag-2", Scheduler::Mh) => "mh-port",
                (word, _) => word,
            };
            let flag = SchedulerFlag::from_keyword(word)
                .filter(|f| f.scheduler() == template.scheduler)
                .ok_or_else(|| {
                    key.error(format!(
                        "{word} is not a flag of scheduler {}",
                        template.scheduler
                    ))
                })?;
            template.scheduler_flags.push(flag);
        }
        template.quiesce_server = inherited.inhibit.unwrap_or(false);
        let servers: Vec<&Node> = node
            .children()
            .iter()
            .filter(|k| k.keyword() == "real_server")
            .collect();
        let mut header_fate = Vec::new();
        for target in &targets {
            let mut service = template.clone();
            let (base, port) = match target {
                Member::Fwmark(mark) => {
                    service.fwmark = *mark;
                    (format!("vs_fwmark_{mark}"), None)
                }
                Member::Address(address, port) => {
                    // A VIP no VRRP instance names gets a label of its own, once.
                    let (device, prefix) = match self.vips.get(address).cloned() {
                        Some(known) => known,
                        None => {
                            let device = self.routers.device.clone();
                            let made = (self.new_label(&device), None);
                            self.vips.insert(*address, made.clone());
                            made
                        }
                    };
                    service.address = Some(AddressOnDevice {
                        host: Host::Ip(*address),
                        device,
                    });
                    service.vip_nmask = prefix
                        .filter(|p| *p != if address.is_ipv4() { 32 } else { 128 })
                        .map(Netmask::Prefix);
                    (name_of("vs", &address.to_string(), *port), *port)
                }
            };
            // A service without a port (persistent, any port) takes port 0.
            service.port = port.unwrap_or(0);
            service.name = self.service_name(base);
            // keepalived resets the port of a sorry server it does not reach by NAT to the service's.
            let sorry_by_nat = service.sorry_network.or(service.server_options.network) == Some(Network::Nat);
            service.sorry_port = sorry_port.filter(|p| Some(*p) != port && sorry_by_nat);
            header_fate.push(service.name.clone());
            self.config.virtual_services.push(service);
        }
        let mut fate = format!("virtual {}", header_fate.join(", "));
        let no_protocol = !protocol_given && targets.iter().any(|t| matches!(t, Member::Address(..)));
        if no_protocol {
            fate.push_str(
                " with protocol = udp, keepalived 2.4's default when the block names none (2.2 leaves it unset): name the protocol",
            );
        }
        let fwmark_without_vip = targets.iter().any(|t| matches!(t, Member::Fwmark(_)));
        self.push(
            node,
            if fwmark_without_vip || no_protocol {
                Fate::Approximated(if fwmark_without_vip {
                    format!(
                        "{fate}: lvs.cf also needs the VIP the mark stands for as the service's address (pulse brings it up); add `address`"
                    )
                } else {
                    fate
                })
            } else {
                Fate::Mapped(fate)
            },
        );
        let first = self.config.virtual_services.len() - targets.len();
        for server in servers {
            let mapped = self.real_server(server, &template, &inherited)?;
            for service in &mut self.config.virtual_services[first..] {
                let mut mapped = mapped.clone();
                if service.fwmark != 0 {
                    mapped.port = None;
                }
                service.servers.push(mapped);
            }
        }
        for service in &mut self.config.virtual_services[first..] {
            // Checks every server shares go to the service's block.
            if let Some(first_checks) = service.servers.first().map(|s| s.checks.clone()) {
                if !first_checks.is_empty() && service.servers.iter().all(|s| s.checks == first_checks) {
                    service.checks = first_checks;
                    for server in &mut service.servers {
                        server.checks.clear();
                    }
                }
            }
            if let Some(failures) = self.retry {
                service.failure_count = failures.max(1);
            }
            if let Some(timeout) = inherited.connect_timeout {
                service.timeout = seconds(timeout);
            }
        }
        Ok(())
    }

    fn real_server(
        &mut self,
        node: &Node,
        service: &VirtualService,
        outer: &Inherited,
    ) -> Result<RealServer, ImportError> {
        let address = address(node, 0)?;
        let port = node
            .arg(1)
            .map(|p| p.parse::<u16>())
            .transpose()
            .map_err(|_| node.error("not a port"))?;
        let mut server = RealServer::new(name_of("rs", &address.to_string(), port));
        server.address = Some(Host::Ip(address));
        server.active = true;
        server.port = port.filter(|p| *p != 0);
        server.weight = outer.weight.unwrap_or(1);
        self.push(node, Fate::Mapped(format!("server {}", server.name)));
        let mut inherited = outer.clone();
        let mut checkers = Vec::new();
        for key in node.children() {
            let fate = match key.keyword() {
                "weight" => {
                    server.weight = number(key, 0, "weight")?;
                    if server.weight > 65535 {
                        return Err(key.error("IPVS weights go up to 65535"));
                    }
                    Fate::Mapped(format!("weight = {}", server.weight))
                }
                "lvs_method" | "lb_kind" => {
                    let options = method(key)?;
                    server.options.network = options.network;
                    server.options.tunnel_type = options.tunnel_type;
                    server.options.tunnel_port = options.tunnel_port;
                    server.options.tunnel_checksum = options.tunnel_checksum;
                    Fate::Mapped(method_words(&options))
                }
                "uthreshold" => {
                    server.options.upper_threshold = Some(number(key, 0, "threshold")?);
                    Fate::Mapped("upper_threshold".into())
                }
                "lthreshold" => {
                    server.options.lower_threshold = Some(number(key, 0, "threshold")?);
                    Fate::Mapped("lower_threshold".into())
                }
                "inhibit_on_failure" => {
                    let on = key.arg(0).is_none_or(|v| matches!(v, "on" | "true" | "yes"));
                    if service.quiesce_server == on {
                        Fate::Mapped("quiesce_server, as its virtual server".into())
                    } else {
                        Fate::Approximated(
                            "lvs.cf sets quiesce_server per virtual service; set it there if every server should".into(),
                        )
                    }
                }
                "notify_up" | "notify_down" => one_notify(
                    &mut server.notify,
                    key,
                    "the server, with the event as its arguments (server-health with the old and new state)",
                ),
                "delay_loop" => {
                    inherited.delay_loop = Some(timer(key)?);
                    Fate::Approximated("lvs.cf checks every server of a service at its check_interval".into())
                }
                "alpha" | "connect_timeout" | "retry" | "nb_get_retry" | "delay_before_retry" | "warmup"
                | "virtualhost" => passed_down(key, &mut inherited)?,
                "smtp_alert" | "snmp_name" => Fate::Dropped("no counterpart in lvs.cf".into()),
                "TCP_CHECK" | "HTTP_GET" | "SSL_GET" | "SMTP_CHECK" | "DNS_CHECK" | "PING_CHECK"
                | "UDP_CHECK" | "MISC_CHECK" | "FILE_CHECK" | "BFD_CHECK" => {
                    checkers.push(key);
                    continue;
                }
                other if other.ends_with("_CHECK") || other.ends_with("_GET") => {
                    return Err(ImportError::UnknownChecker {
                        at: key.at.clone(),
                        name: other.to_owned(),
                    })
                }
                other => {
                    return Err(ImportError::UnknownKeyword {
                        at: key.at.clone(),
                        keyword: other.to_owned(),
                        context: "real_server".into(),
                    })
                }
            };
            self.push(key, fate);
        }
        for checker in checkers {
            let checks = self.checker(checker, &inherited)?;
            server.checks.extend(checks);
        }
        if server.checks.is_empty() {
            // keepalived keeps a server no checker checks in the table.
            let mut always = CheckBlock::new("always");
            always.kind = CheckType::Program;
            always.command = Some("/bin/true".into());
            server.checks.push(always);
            self.push(
                node,
                Fate::Approximated(
                    "no checker that lvs runs: keepalived keeps it in, and so does a program check that always passes (/bin/true)".into(),
                ),
            );
        }
        // Names are unique within the server.
        let mut seen = HashMap::new();
        for check in &mut server.checks {
            let count = seen.entry(check.name.clone()).or_insert(0);
            *count += 1;
            if *count > 1 {
                check.name = format!("{}_{count}", check.name);
            }
        }
        Ok(server)
    }

    /// One checker block: the check blocks it becomes (an HTTP checker one
    /// per URL, an SMTP checker one per host).
    fn checker(&mut self, node: &Node, outer: &Inherited) -> Result<Vec<CheckBlock>, ImportError> {
        let kind = node.keyword();
        let mut check = CheckBlock::new(kind.to_ascii_lowercase());
        check.kind = match kind {
            "TCP_CHECK" => CheckType::Tcp,
            "HTTP_GET" => CheckType::Http,
            "SSL_GET" => CheckType::Https,
            "SMTP_CHECK" => CheckType::Smtp,
            "DNS_CHECK" => CheckType::Dns,
            "PING_CHECK" => CheckType::Ping,
            "UDP_CHECK" => CheckType::Udp,
            "MISC_CHECK" => CheckType::Program,
            "FILE_CHECK" => CheckType::File,
            _ => {
                self.push(
                    node,
                    Fate::Dropped("lvs has no BFD: another checker of the server must do".into()),
                );
                return Ok(Vec::new());
            }
        };
        if kind == "DNS_CHECK" {
            check.record = RecordType::Soa;
            check.query = Some(".".into());
            check.transport = DnsTransport::Udp;
        }
        if kind == "SSL_GET" {
            check.verify = self.tls.ca.is_some();
            check.ca_file = self.tls.ca.clone();
            check.client_cert = self.tls.certificate.clone();
            check.client_key = self.tls.key.clone();
        }
        check.host = outer.virtualhost.clone();
        check.timeout = outer.connect_timeout.map(seconds);
        let mut urls = Vec::new();
        let mut hosts = Vec::new();
        let mut fates = Vec::new();
        let mut own_retry = None;
        for key in node.children() {
            let fate = match (key.keyword(), check.kind) {
                ("connect_ip", CheckType::Program | CheckType::File) | ("connect_port", CheckType::Ping) => {
                    return Err(key.error(format!("{kind} takes no {}", key.keyword())))
                }
                ("connect_ip", _) => {
                    check.address = Some(address(key, 0)?);
                    Fate::Mapped("address".into())
                }
                ("connect_port", _) => {
                    check.port = Some(number(key, 0, "port")?);
                    Fate::Mapped("port".into())
                }
                ("bindto", _) => {
                    check.source = Some(address(key, 0)?);
                    Fate::Mapped("source".into())
                }
                ("bind_port" | "bind_if" | "fwmark", _) => Fate::Dropped(
                    "the kernel picks the check's port and interface; lvs.cf sets only the source address"
                        .into(),
                ),
                ("connect_timeout", _) => {
                    check.timeout = Some(seconds(timer(key)?));
                    Fate::Mapped("timeout".into())
                }
                ("retry" | "nb_get_retry", _) => {
                    own_retry = Some(number(key, 0, "count")?);
                    Fate::Approximated(
                        "failure_count of its virtual service: the most failures in a row any of its checkers takes (retry + 1)".into(),
                    )
                }
                ("delay_before_retry" | "warmup", _) => {
                    Fate::Dropped("lvs checks once per check_interval and retries at the next".into())
                }
                ("delay_loop", _) => {
                    Fate::Approximated("lvs.cf checks every server of a service at its check_interval".into())
                }
                ("alpha" | "log_all_failures", _) => {
                    Fate::Dropped("lvs logs each change of a server's health".into())
                }
                ("url", CheckType::Http | CheckType::Https) => {
                    urls.push(key);
                    continue;
                }
                ("http_protocol", CheckType::Http | CheckType::Https) => {
                    check.http_version = match key.required(0, "version")? {
                        "1.1" => HttpVersion::Http11,
                        "1.0" | "1.0C" | "1.0c" => HttpVersion::Http10,
                        other => return Err(key.error(format!("{other:?}: 1.0, 1.0C or 1.1"))),
                    };
                    Fate::Mapped("http_version".into())
                }
                ("virtualhost", CheckType::Http | CheckType::Https) => {
                    check.host = Some(key.required(0, "host")?.to_owned());
                    Fate::Mapped("host".into())
                }
                ("enable_sni", CheckType::Https) => {
                    Fate::Mapped("lvs sends the SNI name always (sni)".into())
                }
                ("sni_name", CheckType::Https) => {
                    check.sni = Some(key.required(0, "name")?.to_owned());
                    Fate::Mapped("sni".into())
                }
                ("fast_recovery" | "tls_compliant", CheckType::Http | CheckType::Https) => {
                    Fate::Dropped("lvs keeps the connection between checks (reuse_connection)".into())
                }
                ("helo_name", CheckType::Smtp) => Fate::Approximated(
                    "lvs's SMTP check reads the greeting; it sends no HELO name of yours".into(),
                ),
                ("host", CheckType::Smtp) => {
                    hosts.push(key);
                    continue;
                }
                ("type", CheckType::Dns) => {
                    let word = key.required(0, "type")?.to_ascii_uppercase();
                    check.record = RecordType::from_keyword(&word)
                        .ok_or_else(|| key.error(format!("lvs.cf's dns check has no record type {word}")))?;
                    Fate::Mapped(format!("record = {word}"))
                }
                ("name", CheckType::Dns) => {
                    check.query = Some(key.required(0, "name")?.to_owned());
                    Fate::Mapped("query".into())
                }
                ("payload", CheckType::Udp) => {
                    check.send = Some(Payload::Hex(hex(key)?));
                    Fate::Mapped("send_hex".into())
                }
                ("require_reply", CheckType::Udp) => {
                    let pattern = key.arg(0).unwrap_or_default();
                    if pattern.is_empty() {
                        Fate::Mapped("lvs's UDP check requires a reply".into())
                    } else if pattern.contains(['X', 'x']) {
                        // The bytes before the first wildcard.
                        if !pattern
                            .chars()
                            .all(|c| c.is_ascii_hexdigit() || matches!(c, 'X' | 'x'))
                        {
                            return Err(key.error(format!("{pattern:?} is not hex digits with X wildcards")));
                        }
                        let fixed: String = pattern.chars().take_while(|c| !matches!(c, 'X' | 'x')).collect();
                        let fixed = &fixed[..fixed.len() - fixed.len() % 2];
                        check.expect = (!fixed.is_empty())
                            .then(|| hex_text(key, fixed))
                            .transpose()?
                            .map(Payload::Hex);
                        Fate::Approximated("expect_hex: the bytes before the first wildcard".into())
                    } else {
                        check.expect = Some(Payload::Hex(hex(key)?));
                        Fate::Mapped("expect_hex".into())
                    }
                }
                ("min_reply_length" | "max_reply_length", CheckType::Udp) => {
                    Fate::Dropped("lvs's UDP check matches the reply's first bytes, not its length".into())
                }
                ("misc_path", CheckType::Program) => {
                    check.command = Some(key.args().join(" "));
                    Fate::Mapped("command".into())
                }
                ("misc_timeout", CheckType::Program) => {
                    check.timeout = Some(seconds(timer(key)?));
                    Fate::Mapped("timeout".into())
                }
                ("misc_dynamic", CheckType::Program) => {
                    check.dynamic = true;
                    Fate::Mapped("dynamic = 1 (0 up, 1 down, 2-255 up at weight status - 2)".into())
                }
                ("user", CheckType::Program) => Fate::Dropped("lvs runs check programs as root".into()),
                ("track_file", CheckType::File) => {
                    let name = key.required(0, "track_file name")?;
                    check.file = Some(
                        self.track_files
                            .get(name)
                            .cloned()
                            .ok_or_else(|| key.error(format!("no track_file {name}")))?,
                    );
                    Fate::Mapped("file".into())
                }
                ("weight", CheckType::File) => Fate::Approximated(
                    "the file's number is the server's weight itself, not a weight added".into(),
                ),
                (other, _) => {
                    return Err(ImportError::UnknownKeyword {
                        at: key.at.clone(),
                        keyword: other.to_owned(),
                        context: kind.to_owned(),
                    })
                }
            };
            fates.push((key, fate));
        }
        for (key, fate) in fates {
            self.push(key, fate);
        }
        // keepalived takes a server out after retry + 1 failures in a row; its
        // checkers' own default is 1 retry (DNS 3, MISC none).
        let default_retry = match check.kind {
            CheckType::Dns => 3,
            CheckType::Program => 0,
            _ => 1,
        };
        let failures = own_retry.or(outer.retry).unwrap_or(default_retry) + 1;
        self.retry = self.retry.max(Some(failures));
        let mut checks = Vec::new();
        match check.kind {
            CheckType::Http | CheckType::Https => {
                if urls.is_empty() {
                    self.push(
                        node,
                        Fate::Dropped(
                            "keepalived drops an HTTP checker without a url, and so does lvs".into(),
                        ),
                    );
                    return Ok(Vec::new());
                }
                self.push(
                    node,
                    Fate::Mapped(format!(
                        "a check block of type {} per url, all of which must pass",
                        check.kind
                    )),
                );
                for (index, url) in urls.into_iter().enumerate() {
                    checks.push(self.url(url, &check, index)?);
                }
            }
            CheckType::Smtp if !hosts.is_empty() => {
                self.push(node, Fate::Mapped("a check block of type smtp per host".into()));
                for host in hosts {
                    let mut each = check.clone();
                    for key in host.children() {
                        let fate = match key.keyword() {
                            "connect_ip" => {
                                each.address = Some(address(key, 0)?);
                                Fate::Mapped("address".into())
                            }
                            "connect_port" => {
                                each.port = Some(number(key, 0, "port")?);
                                Fate::Mapped("port".into())
                            }
                            "bindto" => {
                                each.source = Some(address(key, 0)?);
                                Fate::Mapped("source".into())
                            }
                            "connect_timeout" => {
                                each.timeout = Some(seconds(timer(key)?));
                                Fate::Mapped("timeout".into())
                            }
                            _ => Fate::Dropped("no counterpart in lvs.cf's check blocks".into()),
                        };
                        self.push(key, fate);
                    }
                    self.push(host, Fate::Mapped("a check block of type smtp".into()));
                    checks.push(each);
                }
            }
            CheckType::Program if check.command.is_none() => {
                return Err(node.error("MISC_CHECK without misc_path"))
            }
            CheckType::File if check.file.is_none() => {
                return Err(node.error("FILE_CHECK without track_file"))
            }
            kind => {
                self.push(node, Fate::Mapped(format!("a check block of type {kind}")));
                checks.push(check);
            }
        }
        Ok(checks)
    }

    fn url(&mut self, url: &Node, check: &CheckBlock, index: usize) -> Result<CheckBlock, ImportError> {
        let mut each = check.clone();
        if index > 0 {
            each.name = format!("{}_{}", check.name, index + 1);
        }
        for key in url.children() {
            let fate = match key.keyword() {
                "path" => {
                    each.path = Some(key.required(0, "path")?.to_owned());
                    Fate::Mapped("path".into())
                }
                "status_code" => {
                    for word in key.args() {
                        let (low, high) = word.split_once('-').unwrap_or((word, word));
                        let parse = |t: &str| t.parse::<u16>().ok().filter(|c| (100..=599).contains(c));
                        match (parse(low), parse(high)) {
                            (Some(low), Some(high)) if low <= high => {
                                each.status.push(StatusRange { low, high })
                            }
                            _ => {
                                return Err(
                                    key.error(format!("{word:?} is not a status code or range in 100-599"))
                                )
                            }
                        }
                    }
                    Fate::Mapped("status".into())
                }
                "digest" => {
                    let text = key.required(0, "digest")?;
                    let bytes = hex_text(key, text)?;
                    each.digest = Some(
                        bytes
                            .try_into()
                            .map_err(|_| key.error("an MD5 digest is 32 hex digits"))?,
                    );
                    Fate::Mapped("digest".into())
                }
                "regex" => {
                    each.body = Some(key.args().join(" "));
                    Fate::Mapped("body".into())
                }
                "regex_no_match" => {
                    return Err(key
                        .error("lvs.cf's body must match; a check that fails on a match is a program check"))
                }
                "virtualhost" => {
                    each.host = Some(key.required(0, "host")?.to_owned());
                    Fate::Mapped("host".into())
                }
                "regex_options" | "regex_min_offset" | "regex_max_offset" | "regex_stack"
                | "tls_compliant" => {
                    Fate::Dropped("lvs matches the body with Rust's regex over the whole body".into())
                }
                other => {
                    return Err(ImportError::UnknownKeyword {
                        at: key.at.clone(),
                        keyword: other.to_owned(),
                        context: "url".into(),
                    })
                }
            };
            self.push(key, fate);
        }
        if each.path.is_none() {
            return Err(url.error("a url without a path"));
        }
        self.push(url, Fate::Mapped(format!("check {}", each.name)));
        Ok(each)
    }
}

/// The checker settings a virtual or real server passes down to its checkers
/// (keepalived: virtual server, then real server, then checker).
fn passed_down(key: &Node, inherited: &mut Inherited) -> Result<Fate, ImportError> {
    Ok(match key.keyword() {
        "connect_timeout" => {
            inherited.connect_timeout = Some(timer(key)?);
            Fate::Mapped("its checks' timeout".into())
        }
        "retry" | "nb_get_retry" => {
            inherited.retry = Some(number(key, 0, "count")?);
            Fate::Approximated(
                "failure_count of its virtual service: the most failures in a row any of its checkers takes (retry + 1)"
                    .into(),
            )
        }
        "virtualhost" => {
            inherited.virtualhost = Some(key.required(0, "host")?.to_owned());
            Fate::Mapped("its HTTP checks' host".into())
        }
        "alpha" => Fate::Mapped("lvs's way: a new server is out until its first check passes".into()),
        _ => Fate::Dropped("lvs checks once per check_interval and retries at the next".into()),
    })
}

/// lvs.cf's one notify program of a service or server (`slot`): the first
/// of keepalived's scripts; a second is dropped, saying so.
fn one_notify(slot: &mut Option<String>, key: &Node, whose: &str) -> Fate {
    if slot.is_some() {
        return Fate::Dropped(
            "lvs.cf takes one notify program, run on every event with the event as its arguments (the one above): call this script from it".into(),
        );
    }
    *slot = Some(key.args().join(" "));
    Fate::Approximated(format!("notify: the program runs on every event of {whose}"))
}

/// A virtual_server_group entry's addresses: `IP`, `IP-LAST` (the last
/// octet, or for IPv6 the last group in hex), `IP-IP`, `IP/LEN`.
fn expand_range(entry: &Node) -> Result<Vec<IpAddr>, ImportError> {
    let text = entry.keyword();
    let bad = || entry.error(format!("{text:?} is not an address, range or prefix"));
    if let Some((base, length)) = text.split_once('/') {
        let length: u32 = length.parse().map_err(|_| bad())?;
        return match base.parse::<IpAddr>().map_err(|_| bad())? {
            IpAddr::V4(a) if length <= 32 => {
                let count = 1u64 << (32 - length);
                let first = u32::from(a);
                if u64::from(first) % count != 0 || count > MAX_EXPANSION as u64 {
                    return Err(entry.error("host bits set, or more addresses than an import writes"));
                }
                Ok((0..count as u32)
                    .map(|i| IpAddr::V4(Ipv4Addr::from(first + i)))
                    .collect())
            }
            IpAddr::V6(a) if length <= 128 && 128 - length <= 12 => {
                let count = 1u128 << (128 - length);
                let first = u128::from(a);
                if first % count != 0 {
                    return Err(entry.error("host bits set"));
                }
                Ok((0..count)
                    .map(|i| IpAddr::V6(Ipv6Addr::from(first + i)))
                    .collect())
            }
            IpAddr::V4(_) if length > 32 => {
                Err(entry.error(format!("/{length} is not an IPv4 prefix length")))
            }
            IpAddr::V6(_) if length > 128 => {
                Err(entry.error(format!("/{length} is not an IPv6 prefix length")))
            }
            _ => Err(entry.error(format!(
                "/{length} names more addresses than an import writes ({MAX_EXPANSION})"
            ))),
        };
    }
    let Some((first, last)) = text.split_once('-') else {
        return Ok(vec![text.parse::<IpAddr>().map_err(|_| bad())?]);
    };
    let first: IpAddr = first.parse().map_err(|_| bad())?;
    let (start, end): (u128, u128) = match first {
        IpAddr::V4(a) => {
            let start = u32::from(a);
            let end = match last.parse::<Ipv4Addr>() {
                Ok(last) => u32::from(last),
                Err(_) => (start & !0xff) | last.parse::<u8>().map_err(|_| bad())? as u32,
            };
            (start.into(), end.into())
        }
        IpAddr::V6(a) => {
            let start = u128::from(a);
            let end = match last.parse::<Ipv6Addr>() {
                Ok(last) => u128::from(last),
                Err(_) => (start & !0xffff) | u128::from(u16::from_str_radix(last, 16).map_err(|_| bad())?),
            };
            (start, end)
        }
    };
    if end <= start || end - start >= MAX_EXPANSION as u128 {
        return Err(entry.error(format!(
            "the range is empty or names more than {MAX_EXPANSION} addresses"
        )));
    }
    Ok((start..=end)
        .map(|n| match first {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(n as u32)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
        })
        .collect())
}

fn hex(node: &Node) -> Result<Vec<u8>, ImportError> {
    hex_text(node, node.required(0, "hex digits")?)
}

fn hex_text(node: &Node, text: &str) -> Result<Vec<u8>, ImportError> {
    if !text.len().is_multiple_of(2) || !text.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(node.error(format!("{text:?} is not an even number of hex digits")));
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|_| node.error("not hex")))
        .collect()
}
