//! From tokens to the model, directive by directive, in the order Piranha's
//! `lvsParseConfig()` checks them, so the first error reported is Piranha's.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use crate::error::{ErrorKind, LoadError, ParseError};
use crate::include::Origins;
use crate::keys::{self, Key, Read, Scope};
use crate::lexer::{self, ChunkCache, Dialect, Lexer, Token, TokenKind};
use crate::model::*;
use crate::services::Services;
use crate::validate::{Diagnostic, Severity};
use crate::values::{self, SecondsValue};

/// How to parse.
#[derive(Clone, Copy, Debug, Default)]
pub struct ParseOptions<'s> {
    /// Accept only what Piranha 0.8.6 accepts, rejecting each lvs-rs extension
    /// with Piranha's error.
    pub strict: bool,
    /// The services database for `port = http`; `None` reads `/etc/services`
    /// (or the built-in table) the first time a name is looked up.
    pub services: Option<&'s Services>,
}

impl ParseOptions<'_> {
    /// Piranha 0.8.6's syntax only: each lvs-rs extension is an error.
    pub fn strict() -> Self {
        ParseOptions {
            strict: true,
            services: None,
        }
    }
}

/// Where something stands in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Location {
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1.
    pub column: usize,
}

/// Where each directive of a block was read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockMap {
    /// The `virtual NAME {` or `server NAME {` line.
    pub header: Location,
    /// Each key with the location of its last occurrence (the one that counts).
    pub keys: Vec<(&'static str, Location)>,
    /// The server blocks, in the order of the model's `servers`.
    pub servers: Vec<BlockMap>,
    /// The check blocks, in the order of the model's `checks`.
    pub checks: Vec<BlockMap>,
}

impl BlockMap {
    /// Where the block sets `key`, if it does.
    pub fn key(&self, key: &str) -> Option<Location> {
        self.keys
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|&(_, loc)| loc)
    }

    /// The line of `key`, else of the block's header.
    pub fn line_of(&self, key: &str) -> usize {
        self.key(key).unwrap_or(self.header).line
    }
}

/// Where each part of a parsed [`Config`] came from, for diagnostics.
/// Kept apart from the model so that models compare by meaning alone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceMap {
    /// Where each top-level key is set, in the file's order.
    pub globals: Vec<(&'static str, Location)>,
    /// Each `virtual` block's keys.
    pub virtual_services: Vec<BlockMap>,
    /// Each `failover` block's keys.
    pub failover_services: Vec<BlockMap>,
    /// Each `router` block's keys.
    pub routers: Vec<BlockMap>,
    /// Each `vip_group` block's keys.
    pub vip_groups: Vec<BlockMap>,
    /// Each `track` block's keys.
    pub tracks: Vec<BlockMap>,
}

impl SourceMap {
    /// Where the top level sets `key`, if it does.
    pub fn global(&self, key: &str) -> Option<Location> {
        self.globals
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|&(_, loc)| loc)
    }
}

/// A parsed file: the model, where its parts were read, and the warnings
/// the parser itself raised (see [`Parsed::diagnostics`] for all of them).
#[derive(Clone, Debug)]
pub struct Parsed {
    /// The model.
    pub config: Config,
    /// Where each key stands in the file.
    pub source_map: SourceMap,
    /// What the parser noticed but accepted.
    pub warnings: Vec<Diagnostic>,
    /// Which file each line came from, when `include` lines brought in
    /// others; the lines of `source_map` and `warnings` count the text with
    /// the included files in place.
    pub origins: Origins,
}

impl Parsed {
    /// The parser's warnings followed by every validation finding, each
    /// with its file and line (see [`Parsed::locate`]).
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        let mut all = self.warnings.clone();
        all.extend(crate::validate::validate(&self.config, Some(&self.source_map)));
        all.into_iter().map(|d| self.locate(d)).collect()
    }

    /// `diagnostic`, whose line counts the text with its included files in
    /// place (as the source map's lines do), with the line in the file it
    /// came from, and that file when it is an included one.
    pub fn locate(&self, mut diagnostic: Diagnostic) -> Diagnostic {
        if let Some(line) = diagnostic.line.filter(|_| self.origins.has_includes()) {
            let (file, line) = self.origins.locate(line);
            diagnostic.file = file.map(Path::to_path_buf);
            diagnostic.line = Some(line);
        }
        diagnostic
    }
}

/// Parses lvs.cf text in the lvs-rs dialect with the system services database.
pub fn parse(text: &str) -> Result<Parsed, ParseError> {
    parse_with(text, &ParseOptions::default())
}

/// Parses lvs.cf text.
pub fn parse_with(text: &str, options: &ParseOptions<'_>) -> Result<Parsed, ParseError> {
    parse_text(text, options, &[], None)
}

/// Parses lvs.cf bytes. Bytes that are not UTF-8 are accepted in comments
/// (old files carry Latin-1 comments) and are an error anywhere else.
pub fn parse_bytes(bytes: &[u8], options: &ParseOptions<'_>) -> Result<Parsed, ParseError> {
    parse_bytes_with(bytes, options, None)
}

fn parse_bytes_with(
    bytes: &[u8],
    options: &ParseOptions<'_>,
    cache: Option<&mut ReparseCache>,
) -> Result<Parsed, ParseError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_text(text, options, &[], cache),
        Err(_) => {
            let text = String::from_utf8_lossy(bytes);
            let bad_lines = lines_with_invalid_utf8(bytes);
            parse_text(&text, options, &bad_lines, cache)
        }
    }
}

/// Reads and parses a file.
pub fn parse_file(path: &Path, options: &ParseOptions<'_>) -> Result<Parsed, LoadError> {
    parse_file_with(path, options, None)
}

fn parse_file_with(
    path: &Path,
    options: &ParseOptions<'_>,
    cache: Option<&mut ReparseCache>,
) -> Result<Parsed, LoadError> {
    let (bytes, origins) = crate::include::expand(path, options.strict)?;
    match parse_bytes_with(&bytes, options, cache) {
        Ok(mut parsed) => {
            parsed.origins = origins;
            Ok(parsed)
        }
        Err(mut error) => {
            let (file, line) = origins.locate(error.line);
            error.line = line;
            Err(LoadError::Parse {
                path: file.unwrap_or(path).to_owned(),
                error,
            })
        }
    }
}

/// Parses successive versions of one file, as a daemon does on each reload.
/// It remembers how it split the last version into lines and tokens, and
/// lexes again only the parts of a new version that differ, so re-reading a
/// large file with a few changes costs a fraction of a fresh parse. The
/// results are those of [`parse_file`] and [`parse_bytes`].
///
/// ```
/// let mut reparser = lvs_cf::Reparser::default();
/// let options = lvs_cf::ParseOptions::default();
/// let first = reparser.parse_bytes(b"primary = 192.0.2.1\n", &options)?;
/// let second = reparser.parse_bytes(b"primary = 192.0.2.2\n", &options)?;
/// assert_ne!(first.config, second.config);
/// # Ok::<(), lvs_cf::ParseError>(())
/// ```
#[derive(Debug, Default)]
pub struct Reparser {
    cache: ReparseCache,
}

/// What a [`Reparser`] keeps of the last version: its chunks' tokens, and
/// its blocks' models by their text.
#[derive(Debug, Default)]
struct ReparseCache {
    chunks: ChunkCache,
    blocks: BlockCache,
}

/// The models of `virtual` and `failover` blocks read before, by the
/// block's exact text (header line to closing line): the same text in the
/// same options reads to the same model, with line numbers shifted. Blocks
/// that gave warnings are not kept (their messages quote line numbers).
#[derive(Debug, Default)]
struct BlockCache {
    /// The options the blocks were read with (`strict`, services database).
    options: Option<(bool, usize)>,
    previous: HashMap<Box<str>, Vec<CachedBlock>>,
    current: HashMap<Box<str>, Vec<CachedBlock>>,
}

#[derive(Debug)]
struct CachedBlock {
    /// The whole block, from its header line to its closing line.
    text: Box<str>,
    lines: usize,
    service: VirtualService,
    map: BlockMap,
}

impl BlockCache {
    fn begin(&mut self, options: &ParseOptions<'_>) {
        let key = (
            options.strict,
            options.services.map_or(0, |s| s as *const Services as usize),
        );
        if self.options != Some(key) {
            self.previous.clear();
            self.current.clear();
            self.options = Some(key);
        }
        let unfinished = std::mem::take(&mut self.current);
        for (header, blocks) in unfinished {
            self.previous.entry(header).or_default().extend(blocks);
        }
    }

    /// The block that `rest` (from a header line on) starts with, if read before.
    fn take(&mut self, header: &str, rest: &str) -> Option<CachedBlock> {
        let candidates = self.previous.get_mut(header)?;
        let found = candidates.iter().position(|block| {
            rest.starts_with(&*block.text)
                && matches!(rest.as_bytes().get(block.text.len()), None | Some(b'\n'))
        })?;
        Some(candidates.swap_remove(found))
    }

    fn keep(&mut self, header: &str, block: CachedBlock) {
        self.current.entry(header.into()).or_default().push(block);
    }

    fn finish(&mut self) {
        self.previous = std::mem::take(&mut self.current);
    }
}

/// Moves every line number of `map` by `delta`.
fn shift(map: &mut BlockMap, delta: isize) {
    let moved = |location: &mut Location| location.line = location.line.saturating_add_signed(delta);
    moved(&mut map.header);
    for (_, location) in &mut map.keys {
        moved(location);
    }
    for server in &mut map.servers {
        shift(server, delta);
    }
}

impl Reparser {
    /// Reads and parses a file.
    pub fn parse_file(&mut self, path: &Path, options: &ParseOptions<'_>) -> Result<Parsed, LoadError> {
        parse_file_with(path, options, Some(&mut self.cache))
    }

    /// Parses lvs.cf bytes (see [`parse_bytes`]).
    pub fn parse_bytes(&mut self, bytes: &[u8], options: &ParseOptions<'_>) -> Result<Parsed, ParseError> {
        parse_bytes_with(bytes, options, Some(&mut self.cache))
    }
}

fn lines_with_invalid_utf8(bytes: &[u8]) -> Vec<usize> {
    let mut bad = Vec::new();
    let mut number = 0;
    let mut rest = bytes;
    while !rest.is_empty() {
        number += 1;
        let end = rest
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .unwrap_or(rest.len());
        if std::str::from_utf8(&rest[..end]).is_err() {
            bad.push(number);
        }
        let skip = if rest.get(end) == Some(&b'\r') && rest.get(end + 1) == Some(&b'\n') {
            2
        } else {
            1
        };
        rest = rest.get(end + skip..).unwrap_or(&[]);
    }
    bad
}

/// The error for the first line longer than [`MAX_LINE_BYTES`]: no lvs.cf
/// needs one, and refusing it keeps the lexer's memory and the time of
/// every message bounded by a small multiple of the file's size.
fn overlong_line(text: &str) -> Option<ParseError> {
    let (index, line) = text
        .split('\n')
        .enumerate()
        .find(|(_, line)| line.len() > crate::MAX_LINE_BYTES)?;
    let shown: String = line.chars().take(80).collect();
    Some(ParseError {
        line: index + 1,
        column: 1,
        kind: ErrorKind::LineTooLong,
        source_line: format!("{shown}..."),
        note: Some(format!(
            "the line has {} bytes; lines are limited to {}",
            line.len(),
            crate::MAX_LINE_BYTES
        )),
    })
}

fn parse_text(
    text: &str,
    options: &ParseOptions<'_>,
    bad_utf8_lines: &[usize],
    cache: Option<&mut ReparseCache>,
) -> Result<Parsed, ParseError> {
    if text.is_empty() {
        return Err(ParseError {
            line: 1,
            column: 1,
            kind: ErrorKind::Empty,
            source_line: String::new(),
            note: Some("the file is empty".to_owned()),
        });
    }
    let text = lexer::normalize_line_ends(text);
    if let Some(error) = overlong_line(&text) {
        return Err(error);
    }
    let dialect = if options.strict {
        Dialect::Strict
    } else {
        Dialect::Extended
    };
    let text: &str = &text;
    if let Some(ReparseCache { chunks, blocks }) = cache {
        blocks.begin(options);
        // Line numbers of a file with bad UTF-8 lines matter to more than
        // the blocks; such a file is read afresh.
        let blocks = bad_utf8_lines.is_empty().then_some(blocks);
        // Chunks are prepared on another thread while this one builds the model.
        return std::thread::scope(|scope| {
            run(
                Lexer::cached_ahead(scope, text, dialect, chunks),
                text,
                blocks,
                options,
                bad_utf8_lines,
            )
        });
    }
    // Large files are lexed ahead by worker threads while this one builds
    // the model; the result is the same either way.
    if text.len() < PARALLEL_LEXING_BYTES {
        return run(Lexer::new(text, dialect), text, None, options, bad_utf8_lines);
    }
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(4);
    std::thread::scope(|scope| {
        run(
            Lexer::parallel(scope, text, dialect, workers),
            text,
            None,
            options,
            bad_utf8_lines,
        )
    })
}

/// Parses `text` with the lines and tokens of `lexer`.
fn run<'a>(
    lexer: Lexer<'a>,
    text: &'a str,
    blocks: Option<&mut BlockCache>,
    options: &ParseOptions<'_>,
    bad_utf8_lines: &[usize],
) -> Result<Parsed, ParseError> {
    let mut parser = Parser {
        lexer,
        text,
        blocks,
        line_no: 0,
        last_line_no: 0,
        line: "",
        tokens: Vec::with_capacity(8),
        strict: options.strict,
        services: options.services,
        bad_utf8_lines,
        warnings: Vec::new(),
    };
    let (config, source_map) = parser.parse_globals()?;
    if let Some(blocks) = parser.blocks {
        blocks.finish();
    }
    Ok(Parsed {
        config,
        source_map,
        warnings: parser.warnings,
        origins: Origins::default(),
    })
}

/// Below this size, starting threads costs more than it saves.
const PARALLEL_LEXING_BYTES: usize = 512 * 1024;

pub(crate) struct Parser<'a, 'o, 'c> {
    lexer: Lexer<'a>,
    /// The whole (normalized) text, of which each line is a slice.
    text: &'a str,
    /// With a [`Reparser`]: blocks read before.
    blocks: Option<&'c mut BlockCache>,
    line_no: usize,
    last_line_no: usize,
    line: &'a str,
    tokens: Vec<Token<'a>>,
    strict: bool,
    services: Option<&'o Services>,
    bad_utf8_lines: &'o [usize],
    warnings: Vec<Diagnostic>,
}

/// Where a block began, for the error when it is never closed.
struct Opening {
    at: Location,
    /// `virtual web`, `server www1`.
    what: String,
    /// The header line as written.
    line: String,
}

/// What a host-valued directive accepts, and the error Piranha gives.
#[derive(Clone, Copy)]
pub(crate) struct HostRule {
    zero_is_error: bool,
}

pub(crate) const ANY_HOST: HostRule = HostRule { zero_is_error: false };
pub(crate) const NONZERO_HOST: HostRule = HostRule { zero_is_error: true };

/// Piranha reads many directives with `getNum()` into an `int`; the model
/// keeps each in its natural type, so values outside it are errors here.
pub(crate) const MAX_SECONDS: i64 = i32::MAX as i64;
pub(crate) const MAX_PERSISTENT: i64 = 2_678_400; // ipvsadm's limit: 31 days
pub(crate) const MAX_WEIGHT: i64 = 65_535; // ipvsadm's limit

impl<'a> Parser<'a, '_, '_> {
    /// Loads the next line with tokens; false at the end of the file.
    fn next_statement(&mut self) -> Result<bool, ParseError> {
        loop {
            let Some((number, line, tokens)) = self.lexer.next_line() else {
                return Ok(false);
            };
            self.line_no = number;
            self.last_line_no = number;
            self.line = line;
            self.tokens.clear();
            self.tokens.extend_from_slice(tokens);
            if self.tokens.is_empty() {
                continue;
            }
            if self.bad_utf8_lines.binary_search(&number).is_ok() {
                let offset = line.find('\u{FFFD}').unwrap_or(0);
                return Err(self.error_at(
                    offset,
                    ErrorKind::InvalidUtf8,
                    Some("this line has bytes that are not UTF-8"),
                ));
            }
            if let Some(bad) = self.tokens.iter().find(|t| t.kind == TokenKind::BadQuote) {
                let note = match self.dialect() {
                    Dialect::Strict => "a quoted value must end with the same quote",
                    Dialect::Extended => "a quoted value must end with the same quote, followed by a blank or the end of the line",
                };
                return Err(self.error_at(bad.offset, ErrorKind::BadQuoting, Some(note)));
            }
            return Ok(true);
        }
    }

    fn dialect(&self) -> Dialect {
        if self.strict {
            Dialect::Strict
        } else {
            Dialect::Extended
        }
    }

    fn error_at(&self, offset: usize, kind: ErrorKind, note: Option<&str>) -> ParseError {
        let offset = offset.min(self.line.len());
        let column = self.line.get(..offset).map_or(offset, |s| s.chars().count()) + 1;
        ParseError {
            line: self.line_no,
            column,
            kind,
            source_line: self.line.to_owned(),
            note: note.map(str::to_owned),
        }
    }

    fn error(&self, token: usize, kind: ErrorKind, note: Option<String>) -> ParseError {
        let offset = self
            .tokens
            .get(token)
            .map_or_else(|| self.line.trim_end().len(), |t| t.offset);
        let mut error = self.error_at(offset, kind, None);
        error.note = note;
        error
    }

    fn here(&self, token: usize) -> Location {
        let offset = self.tokens.get(token).map_or(0, |t| t.offset);
        Location {
            line: self.line_no,
            column: self.line.get(..offset).map_or(offset, |s| s.chars().count()) + 1,
        }
    }

    fn key(&self) -> &'a str {
        self.tokens[0].text
    }

    /// The error of an `include` line in text that came from no file.
    pub(crate) fn include_without_a_file(&self) -> ParseError {
        self.error(
            0,
            ErrorKind::BadCommand,
            Some("`include` is read only in files (parse_file): there is no folder to look in".to_owned()),
        )
    }

    /// Piranha's `CHECK_EQUAL`.
    pub(crate) fn check_equal(&self) -> Result<(), ParseError> {
        match self.tokens.get(1) {
            Some(t) if t.text == "=" => Ok(()),
            _ => Err(self.error(
                1,
                ErrorKind::EqualExpected,
                Some(format!("write `{} = value`", self.key())),
            )),
        }
    }

    /// Piranha's `CHECK_ARGS(count)`: `key = v1 .. vcount`, exactly.
    pub(crate) fn check_args(&self, count: usize) -> Result<(), ParseError> {
        self.check_equal()?;
        let what = if count == 1 {
            "one value".to_owned()
        } else {
            format!("{count} values")
        };
        if self.tokens.len() < count + 2 {
            return Err(self.error(
                self.tokens.len(),
                ErrorKind::MissingArgs,
                Some(format!("`{}` takes {what}", self.key())),
            ));
        }
        if self.tokens.len() > count + 2 {
            let mut note = format!("`{}` takes {what}", self.key());
            if self.strict && self.tokens[count + 2].text.starts_with('#') {
                note.push_str("; comments after values are an lvs-rs extension, not accepted with --strict");
            } else if count == 1 {
                note.push_str("; quote a value that contains blanks");
            }
            return Err(self.error(count + 2, ErrorKind::ExtraArgs, Some(note)));
        }
        Ok(())
    }

    /// A block opener: `virtual NAME {`, `failover NAME {` or `server NAME {`.
    fn check_block_header(&self) -> Result<(), ParseError> {
        let note = || {
            Some(format!(
                "write `{} NAME {{` with the brace on the same line",
                self.key()
            ))
        };
        if self.tokens.len() < 3 {
            return Err(self.error(self.tokens.len(), ErrorKind::MissingArgs, note()));
        }
        if self.tokens.len() > 3 {
            return Err(self.error(3, ErrorKind::ExtraArgs, note()));
        }
        if self.tokens[2].text != "{" {
            return Err(self.error(2, ErrorKind::MissingArgs, note()));
        }
        Ok(())
    }

    fn unknown_key(&self, scope: Scope) -> ParseError {
        let key = self.key();
        let note = if key == "}" && scope == Scope::Global {
            "`}` closes a block, but no block is open".to_owned()
        } else if key == "server" && scope == Scope::Global {
            "`server` blocks belong inside a `virtual` or `failover` block".to_owned()
        } else if self.strict && key.contains('=') {
            "write `key = value` with blanks around `=`; `key=value` is an lvs-rs extension, not accepted with --strict"
                .to_owned()
        } else {
            keys::unknown_key_note(key, scope, self.strict)
        };
        self.error(0, ErrorKind::BadCommand, Some(note))
    }

    // ---- values -------------------------------------------------------

    pub(crate) fn int(&self, token: usize, min: i64, max: i64) -> Result<i64, ParseError> {
        let text = self.tokens[token].text;
        let range = || Some(format!("`{}` must be between {min} and {max}", self.key()));
        match values::strtol(text) {
            None => Err(self.error(token, ErrorKind::IntExpected, self.int_note(text))),
            Some(Err(())) => Err(self.error(token, ErrorKind::OutOfRange, range())),
            Some(Ok(v)) if v < min || v > max => Err(self.error(token, ErrorKind::OutOfRange, range())),
            Some(Ok(v)) => Ok(v),
        }
    }

    fn int_note(&self, text: &str) -> Option<String> {
        if text.len() > 1 && text.starts_with('0') && text.chars().all(|c| c.is_ascii_digit()) {
            Some(format!(
                "`{text}` starts with 0, so it is read as octal, and 8 and 9 are not octal digits"
            ))
        } else {
            None
        }
    }

    pub(crate) fn boolean(&self, token: usize) -> Result<bool, ParseError> {
        let text = self.tokens[token].text;
        match values::strtol(text) {
            None => Err(self.error(token, ErrorKind::IntExpected, Some("write 0 or 1".to_owned()))),
            Some(Ok(0)) => Ok(false),
            Some(Ok(1)) => Ok(true),
            Some(_) => Err(self.error(token, ErrorKind::BoolExpected, Some("write 0 or 1".to_owned()))),
        }
    }

    pub(crate) fn port(&self, token: usize, names: bool) -> Result<u16, ParseError> {
        let text = self.tokens[token].text;
        if values::strtol(text).is_some() || !names {
            return Ok(self.int(token, 0, 65535)? as u16);
        }
        let services = self.services.unwrap_or_else(|| Services::system());
        services.port(text).ok_or_else(|| {
            let note = self.int_note(text).unwrap_or_else(|| {
                format!("`{text}` is neither a port number nor a TCP service name in /etc/services")
            });
            self.error(token, ErrorKind::BadArgument, Some(note))
        })
    }

    pub(crate) fn seconds(&self, token: usize) -> Result<Seconds, ParseError> {
        let text = self.tokens[token].text;
        let positive = || {
            Some(format!(
                "`{}` must be a number of seconds greater than 0",
                self.key()
            ))
        };
        match values::seconds(text) {
            Some(Ok(SecondsValue::Whole(n))) if (1..=MAX_SECONDS).contains(&n) => {
                Ok(Seconds::whole(n as u64))
            }
            Some(Ok(SecondsValue::Whole(_))) | Some(Err(())) => {
                Err(self.error(token, ErrorKind::OutOfRange, positive()))
            }
            Some(Ok(SecondsValue::Fraction(_))) if self.strict => Err(self.error(
                token,
                ErrorKind::IntExpected,
                Some("fractional seconds are an lvs-rs extension, not accepted with --strict".to_owned()),
            )),
            Some(Ok(SecondsValue::Fraction(d))) => {
                if d.is_zero() || d.as_secs() > MAX_SECONDS as u64 {
                    Err(self.error(token, ErrorKind::OutOfRange, positive()))
                } else {
                    Ok(Seconds(d))
                }
            }
            None => Err(self.error(token, ErrorKind::IntExpected, self.int_note(text))),
        }
    }

    fn ipv6_note(&self) -> Option<String> {
        Some("IPv6 addresses are an lvs-rs extension, not accepted with --strict".to_owned())
    }

    /// `getHostname()`: `inet_aton`, else a host name (resolved later, not here).
    pub(crate) fn host(&self, token: usize, rule: HostRule) -> Result<Host, ParseError> {
        let text = self.tokens[token].text;
        if let Some(v4) = values::inet_aton(text) {
            if rule.zero_is_error && v4.is_unspecified() {
                return Err(self.error(
                    token,
                    ErrorKind::BadHostname,
                    Some(format!("`{}` must not be 0.0.0.0", self.key())),
                ));
            }
            return Ok(Host::Ip(IpAddr::V4(v4)));
        }
        if let Some(v6) = values::ipv6(text) {
            if self.strict {
                return Err(self.error(token, ErrorKind::BadArgument, self.ipv6_note()));
            }
            if rule.zero_is_error && v6.is_unspecified() {
                return Err(self.error(
                    token,
                    ErrorKind::BadHostname,
                    Some(format!("`{}` must not be ::", self.key())),
                ));
            }
            return Ok(Host::Ip(IpAddr::V6(v6)));
        }
        if values::is_host_name(text) {
            return Ok(Host::Name(text.to_owned()));
        }
        Err(self.error(
            token,
            ErrorKind::BadArgument,
            Some(format!("`{text}` is neither an IP address nor a host name")),
        ))
    }

    /// `sorry_server`: an address literal only (`inet_aton`, or IPv6).
    pub(crate) fn address_literal(&self, token: usize) -> Result<IpAddr, ParseError> {
        let text = self.tokens[token].text;
        match values::ip_literal(text, true) {
            Some(IpAddr::V6(_)) if self.strict => {
                Err(self.error(token, ErrorKind::BadHostname, self.ipv6_note()))
            }
            Some(ip) => Ok(ip),
            None => Err(self.error(
                token,
                ErrorKind::BadHostname,
                Some(format!("`{text}` is not an IP address")),
            )),
        }
    }

    pub(crate) fn netmask(&self, token: usize) -> Result<Netmask, ParseError> {
        let text = self.tokens[token].text;
        if let Some(mask) = values::inet_aton(text) {
            return Ok(Netmask::Dotted(mask));
        }
        if let Some(len) = text.strip_prefix('/') {
            if self.strict {
                return Err(self.error(
                    token,
                    ErrorKind::BadNetmask,
                    Some(
                        "`/N` prefix lengths are an lvs-rs extension, not accepted with --strict".to_owned(),
                    ),
                ));
            }
            if let Ok(len) = len.parse::<u8>() {
                if len <= 128 {
                    return Ok(Netmask::Prefix(len));
                }
            }
        }
        Err(self.error(
            token,
            ErrorKind::BadNetmask,
            Some("write a dotted mask such as 255.255.255.0, or a prefix length such as /24".to_owned()),
        ))
    }

    pub(crate) fn keyword<T: Copy>(
        &self,
        token: usize,
        all: &[(T, &'static str, bool)],
        from: fn(&str) -> Option<T>,
    ) -> Result<T, ParseError> {
        let text = self.tokens[token].text;
        let allowed = || {
            let words: Vec<&str> = all
                .iter()
                .filter(|(_, _, ext)| !(self.strict && *ext))
                .map(|(_, w, _)| *w)
                .collect();
            Some(format!("`{}` is one of: {}", self.key(), words.join(", ")))
        };
        match from(text) {
            Some(value) => {
                let is_extension = all.iter().any(|(_, w, ext)| *w == text && *ext);
                if self.strict && is_extension {
                    let note = format!("`{text}` is an lvs-rs extension, not accepted with --strict");
                    return Err(self.error(token, ErrorKind::BadArgument, Some(note)));
                }
                Ok(value)
            }
            None => Err(self.error(token, ErrorKind::BadArgument, allowed())),
        }
    }

    pub(crate) fn string(&self, token: usize) -> String {
        self.tokens[token].text.to_owned()
    }

    pub(crate) fn text(&self, token: usize) -> Text {
        let t = &self.tokens[token];
        Text {
            value: t.text.to_owned(),
            quote: t.quote,
        }
    }

    pub(crate) fn address_on_device(&self) -> Result<AddressOnDevice, ParseError> {
        self.check_args(2)?;
        Ok(AddressOnDevice {
            host: self.host(2, ANY_HOST)?,
            device: self.string(3),
        })
    }

    // ---- blocks -------------------------------------------------------

    fn parse_globals(&mut self) -> Result<(Config, SourceMap), ParseError> {
        let mut c = Config::default();
        let mut map = SourceMap::default();
        while self.next_statement()? {
            let at = self.here(0);
            let Some(key) = keys::find(Scope::Global, self.key(), self.strict) else {
                return Err(self.unknown_key(Scope::Global));
            };
            match key.read {
                Read::Global(read) => self.read_one(key, |p| read(p, &mut c))?,
                // A reader of another scope cannot stand in this table.
                Read::Virtual(_)
                | Read::Server(_)
                | Read::Check(_)
                | Read::Options(_)
                | Read::Router(_)
                | Read::Group(_)
                | Read::Track(_) => return Err(self.unknown_key(Scope::Global)),
                Read::Block if key.name == "router" => {
                    self.check_block_header()?;
                    let mut router = RouterBlock::new(self.tokens[1].text);
                    let block = self.parse_named_block(Scope::Router, |read, p| match read {
                        Read::Router(read) => Some(read(p, &mut router)),
                        _ => None,
                    })?;
                    c.routers.push(router);
                    map.routers.push(block);
                    continue;
                }
                Read::Block if key.name == "vip_group" => {
                    self.check_block_header()?;
                    let mut group = VipGroup::new(self.tokens[1].text);
                    let block = self.parse_named_block(Scope::Group, |read, p| match read {
                        Read::Group(read) => Some(read(p, &mut group)),
                        _ => None,
                    })?;
                    c.vip_groups.push(group);
                    map.vip_groups.push(block);
                    continue;
                }
                Read::Block if key.name == "track" => {
                    self.check_block_header()?;
                    let mut track = TrackBlock::new(self.tokens[1].text);
                    let block = self.parse_named_block(Scope::Track, |read, p| match read {
                        Read::Track(read) => Some(read(p, &mut track)),
                        _ => None,
                    })?;
                    c.tracks.push(track);
                    map.tracks.push(block);
                    continue;
                }
                // `virtual` and `failover`, the top level's blocks.
                Read::Block => {
                    self.check_block_header()?;
                    let (service, block) = self.parse_or_recall_virtual()?;
                    if key.name == "failover" {
                        c.failover_services.push(service);
                        map.failover_services.push(block);
                    } else {
                        c.virtual_services.push(service);
                        map.virtual_services.push(block);
                    }
                    continue;
                }
            }
            let key = key.name;
            map.globals.push((key, at));
        }
        Ok((c, map))
    }

    /// Reads `key`'s line with `read`, after checking for `= value` where
    /// the key takes one value.
    fn read_one(
        &self,
        key: &Key,
        read: impl FnOnce(&Self) -> Result<(), ParseError>,
    ) -> Result<(), ParseError> {
        if key.one_value() {
            self.check_args(1)?;
        }
        read(self)
    }

    /// The next key of the block `opening` began, with where it stands;
    /// `None` at the block's `}`. The file ending first, or a key the block
    /// does not take, is an error.
    fn next_in_block(
        &mut self,
        opening: &Opening,
        scope: Scope,
    ) -> Result<Option<(&'static Key, Location)>, ParseError> {
        if !self.next_statement()? {
            return Err(self.unclosed(opening.at, &opening.what, opening.line.clone()));
        }
        let at = self.here(0);
        if self.close_block()? {
            return Ok(None);
        }
        match keys::find(scope, self.key(), self.strict) {
            Some(key) => Ok(Some((key, at))),
            None => Err(self.unknown_key(scope)),
        }
    }

    /// Whether the line closes the block (`}` alone on its line).
    fn close_block(&self) -> Result<bool, ParseError> {
        if self.key() != "}" {
            return Ok(false);
        }
        if self.tokens.len() > 1 {
            return Err(self.error(
                1,
                ErrorKind::ExtraArgs,
                Some("`}` stands alone on its line".to_owned()),
            ));
        }
        Ok(true)
    }

    fn unclosed(&self, header: Location, what: &str, header_line: String) -> ParseError {
        ParseError {
            line: header.line,
            column: header.column,
            kind: ErrorKind::Eof,
            source_line: header_line,
            note: Some(format!(
                "the file ends on line {} before `{what}` is closed with `}}`",
                self.last_line_no
            )),
        }
    }

    /// A virtual block from the block cache when its text was read before,
    /// else parsed (and kept for the next version).
    fn parse_or_recall_virtual(&mut self) -> Result<(VirtualService, BlockMap), ParseError> {
        if self.blocks.is_none() {
            return self.parse_virtual();
        }
        let header = self.line;
        let header_line = self.line_no;
        let start = header.as_ptr() as usize - self.text.as_ptr() as usize;
        let rest = self.text.get(start..).unwrap_or("");
        if let Some(cached) = self.blocks.as_mut().and_then(|b| b.take(header, rest)) {
            self.lexer.skip_lines(cached.lines - 1);
            self.line_no = header_line + cached.lines - 1;
            self.last_line_no = self.line_no;
            let block_text = rest.get(..cached.text.len()).unwrap_or("");
            self.line = block_text.rsplit('\n').next().unwrap_or("");
            let mut map = cached.map.clone();
            shift(&mut map, header_line as isize - cached.map.header.line as isize);
            let service = cached.service.clone();
            if let Some(blocks) = self.blocks.as_mut() {
                blocks.keep(header, cached);
            }
            return Ok((service, map));
        }
        let warnings_before = self.warnings.len();
        let (service, map) = self.parse_virtual()?;
        let end = self.line.as_ptr() as usize + self.line.len() - self.text.as_ptr() as usize;
        if self.warnings.len() == warnings_before {
            let block = CachedBlock {
                text: self.text.get(start..end).unwrap_or("").into(),
                lines: self.line_no + 1 - header_line,
                service: service.clone(),
                map: map.clone(),
            };
            if let Some(blocks) = self.blocks.as_mut() {
                blocks.keep(header, block);
            }
        }
        Ok((service, map))
    }

    fn parse_virtual(&mut self) -> Result<(VirtualService, BlockMap), ParseError> {
        let mut vs = VirtualService::new(self.tokens[1].text);
        let mut block = BlockMap {
            header: self.here(0),
            ..BlockMap::default()
        };
        let what = format!("{} {}", self.key(), vs.name);
        let opening = Opening {
            at: block.header,
            what: what.clone(),
            line: self.line.to_owned(),
        };
        // Per server: the port it inherited and whether its block set one.
        let mut inherited: Vec<(u16, bool)> = Vec::new();
        while let Some((key, at)) = self.next_in_block(&opening, Scope::Virtual)? {
            match key.read {
                Read::Virtual(read) => self.read_one(key, |p| read(p, &mut vs))?,
                Read::Options(read) => self.read_one(key, |p| read(p, &mut vs.server_options))?,
                Read::Global(_)
                | Read::Server(_)
                | Read::Check(_)
                | Read::Router(_)
                | Read::Group(_)
                | Read::Track(_) => return Err(self.unknown_key(Scope::Virtual)),
                Read::Block if key.name == "check" => {
                    self.check_block_header()?;
                    let (check, check_block) = self.parse_check()?;
                    vs.checks.push(check);
                    block.checks.push(check_block);
                    continue;
                }
                Read::Block => {
                    self.check_block_header()?;
                    let (server, server_block, explicit_port) = self.parse_server()?;
                    inherited.push((vs.port, explicit_port));
                    vs.servers.push(server);
                    block.servers.push(server_block);
                    continue;
                }
            }
            let key = key.name;
            block.keys.push((key, at));
        }
        // A server takes the virtual's port as of its block; keep that where
        // a later `port` changed the virtual's.
        for ((server, server_block), (port, explicit)) in
            vs.servers.iter_mut().zip(&block.servers).zip(inherited)
        {
            if explicit || port == vs.port {
                continue;
            }
            server.port = Some(port);
            let port_line = block.line_of("port");
            self.warnings.push(Diagnostic {
                file: None,
                severity: Severity::Warning,
                line: Some(server_block.header.line),
                message: format!(
                    "server `{}` comes before `port = {}` (line {port_line}) in `{what}`, so it takes port {port}, \
                     the virtual's port when its block was read; move `port` above the server blocks or give the server its own `port`",
                    server.name, vs.port
                ),
            });
        }
        Ok((vs, block))
    }

    /// `groups = [ a b ]`: words, none twice.
    pub(crate) fn words(&self) -> Result<Vec<String>, ParseError> {
        let words = self.bracketed(&format!("write `{} = [ a b ]`", self.key()))?;
        let mut out: Vec<String> = Vec::new();
        for (i, word) in words {
            if out.iter().any(|known| known == word) {
                return Err(self.error(
                    i,
                    ErrorKind::BadArgument,
                    Some(format!("`{word}` is listed twice")),
                ));
            }
            out.push(word.to_owned());
        }
        Ok(out)
    }

    /// `priorities = [ primary:200 backup:100 ]`: router names, each with a
    /// priority from 1 to 254, none twice.
    pub(crate) fn priorities(&self) -> Result<Vec<(String, u8)>, ParseError> {
        let note = "write `priorities = [ primary:200 backup:100 ]`, each priority from 1 to 254";
        let mut out: Vec<(String, u8)> = Vec::new();
        for (i, word) in self.bracketed(note)? {
            let bad = || self.error(i, ErrorKind::BadArgument, Some(note.to_owned()));
            let (name, priority) = word.rsplit_once(':').ok_or_else(bad)?;
            let priority = priority
                .parse::<u8>()
                .ok()
                .filter(|p| (1..=254).contains(p))
                .ok_or_else(bad)?;
            if name.is_empty() {
                return Err(bad());
            }
            if out.iter().any(|(known, _)| known == name) {
                return Err(self.error(
                    i,
                    ErrorKind::BadArgument,
                    Some(format!("router `{name}` is listed twice")),
                ));
            }
            out.push((name.to_owned(), priority));
        }
        Ok(out)
    }

    /// `heartbeat_keys = [ 1:/etc/sysconfig/ha/k1 2:/etc/sysconfig/ha/k2 ]`:
    /// key files by id (0 to 255), no id twice.
    pub(crate) fn key_files(&self) -> Result<Vec<(u8, String)>, ParseError> {
        let note = "write `heartbeat_keys = [ 1:/etc/sysconfig/ha/key1 2:/etc/sysconfig/ha/key2 ]`, ids from 0 to 255";
        let mut out: Vec<(u8, String)> = Vec::new();
        for (i, word) in self.bracketed(note)? {
            let bad = || self.error(i, ErrorKind::BadArgument, Some(note.to_owned()));
            let (id, path) = word.split_once(':').ok_or_else(bad)?;
            let id = id.parse::<u8>().map_err(|_| bad())?;
            if path.is_empty() {
                return Err(bad());
            }
            if out.iter().any(|(known, _)| *known == id) {
                return Err(self.error(
                    i,
                    ErrorKind::BadArgument,
                    Some(format!("key id {id} is listed twice")),
                ));
            }
            out.push((id, path.to_owned()));
        }
        Ok(out)
    }

    /// `dirs = [ a b ]`.
    pub(crate) fn list(&self) -> Result<Vec<String>, ParseError> {
        let words = self.bracketed("write `dirs = [ a b ]`")?;
        Ok(words.into_iter().map(|(_, word)| word.to_owned()).collect())
    }

    /// `key = [ a b ]` where each word is one of a keyword enum's.
    pub(crate) fn keyword_list<T: Copy>(
        &self,
        all: &[(T, &'static str, bool)],
        from: fn(&str) -> Option<T>,
    ) -> Result<Vec<T>, ParseError> {
        let note = format!(
            "write `{} = [ {} ]`",
            self.key(),
            all.first().map_or("", |(_, w, _)| *w)
        );
        let words = self.bracketed(&note)?;
        words
            .into_iter()
            .map(|(i, _)| self.keyword(i, all, from))
            .collect()
    }

    fn parse_server(&mut self) -> Result<(RealServer, BlockMap, bool), ParseError> {
        let mut server = RealServer::new(self.tokens[1].text);
        let mut block = BlockMap {
            header: self.here(0),
            ..BlockMap::default()
        };
        let opening = Opening {
            at: block.header,
            what: format!("server {}", server.name),
            line: self.line.to_owned(),
        };
        let mut explicit_port = false;
        while let Some((key, at)) = self.next_in_block(&opening, Scope::Server)? {
            match key.read {
                Read::Server(read) => self.read_one(key, |p| read(p, &mut server))?,
                Read::Options(read) => self.read_one(key, |p| read(p, &mut server.options))?,
                // `check`, the only block inside a server one.
                Read::Block => {
                    self.check_block_header()?;
                    let (check, check_block) = self.parse_check()?;
                    server.checks.push(check);
                    block.checks.push(check_block);
                    continue;
                }
                Read::Global(_)
                | Read::Virtual(_)
                | Read::Check(_)
                | Read::Router(_)
                | Read::Group(_)
                | Read::Track(_) => return Err(self.unknown_key(Scope::Server)),
            }
            explicit_port |= key.name == "port";
            let key = key.name;
            block.keys.push((key, at));
        }
        Ok((server, block, explicit_port))
    }

    /// A block of the top level that holds only keys (`router`, `vip_group`,
    /// `track`): `read` reads a key of the block's scope into its model, and
    /// says `None` for a reader of another scope.
    fn parse_named_block(
        &mut self,
        scope: Scope,
        mut read: impl FnMut(Read, &Self) -> Option<Result<(), ParseError>>,
    ) -> Result<BlockMap, ParseError> {
        let mut block = BlockMap {
            header: self.here(0),
            ..BlockMap::default()
        };
        let opening = Opening {
            at: block.header,
            what: format!("{} {}", self.key(), self.tokens[1].text),
            line: self.line.to_owned(),
        };
        while let Some((key, at)) = self.next_in_block(&opening, scope)? {
            if key.one_value() {
                self.check_args(1)?;
            }
            match read(key.read, self) {
                Some(outcome) => outcome?,
                None => return Err(self.unknown_key(scope)),
            }
            block.keys.push((key.name, at));
        }
        Ok(block)
    }

    fn parse_check(&mut self) -> Result<(CheckBlock, BlockMap), ParseError> {
        let mut check = CheckBlock::new(self.tokens[1].text);
        let mut block = BlockMap {
            header: self.here(0),
            ..BlockMap::default()
        };
        let opening = Opening {
            at: block.header,
            what: format!("check {}", check.name),
            line: self.line.to_owned(),
        };
        while let Some((key, at)) = self.next_in_block(&opening, Scope::Check)? {
            match key.read {
                Read::Check(read) => self.read_one(key, |p| read(p, &mut check))?,
                // No block nests in a check.
                _ => return Err(self.unknown_key(Scope::Check)),
            }
            block.keys.push((key.name, at));
        }
        Ok((check, block))
    }

    // ---- check values -------------------------------------------------

    /// Bytes in hexadecimal, two digits each (`send_hex = 0a1b`).
    pub(crate) fn hex(&self, token: usize) -> Result<Vec<u8>, ParseError> {
        let text = self.tokens[token].text;
        let bad = |why: &str| {
            self.error(
                token,
                ErrorKind::BadArgument,
                Some(format!("`{}` {why}", self.key())),
            )
        };
        if !text.len().is_multiple_of(2) {
            return Err(bad("must have an even number of hex digits, two per byte"));
        }
        text.as_bytes()
            .chunks(2)
            .map(|pair| {
                std::str::from_utf8(pair)
                    .ok()
                    .and_then(|digits| u8::from_str_radix(digits, 16).ok())
                    .ok_or_else(|| bad("takes hex digits only (0-9, a-f)"))
            })
            .collect()
    }

    /// An HTTP request target: it starts with `/` and has no blank or
    /// control character (it goes on the request line as written).
    pub(crate) fn request_path(&self, token: usize) -> Result<String, ParseError> {
        let text = self.tokens[token].text;
        if !text.starts_with('/') || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(self.error(
                token,
                ErrorKind::BadArgument,
                Some("`path` starts with / and has no blanks (write %20 for one)".to_owned()),
            ));
        }
        Ok(text.to_owned())
    }

    /// A value sent in a header or a handshake (`host`, `sni`): no blank or
    /// control character, so that it cannot add a header.
    pub(crate) fn header_value(&self, token: usize) -> Result<String, ParseError> {
        let text = self.tokens[token].text;
        if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(self.error(
                token,
                ErrorKind::BadArgument,
                Some(format!("`{}` is a host name without blanks", self.key())),
            ));
        }
        Ok(text.to_owned())
    }

    /// `status = [ 200 204 300-399 ]`.
    pub(crate) fn status_ranges(&self) -> Result<Vec<StatusRange>, ParseError> {
        let note = "write `status = [ 200 301-302 ]`: codes from 100 to 599, ranges low-high";
        let words = self.bracketed(note)?;
        let mut ranges = Vec::with_capacity(words.len());
        for (index, word) in words {
            let code = |text: &str| text.parse::<u16>().ok().filter(|c| (100..=599).contains(c));
            let range = match word.split_once('-') {
                Some((low, high)) => code(low).zip(code(high)).filter(|(l, h)| l <= h),
                None => code(word).map(|c| (c, c)),
            };
            let Some((low, high)) = range else {
                return Err(self.error(index, ErrorKind::BadArgument, Some(note.to_owned())));
            };
            ranges.push(StatusRange { low, high });
        }
        if ranges.is_empty() {
            return Err(self.error(2, ErrorKind::ListExpected, Some(note.to_owned())));
        }
        Ok(ranges)
    }

    /// An MD5 digest: 32 hex digits.
    pub(crate) fn md5(&self, token: usize) -> Result<[u8; 16], ParseError> {
        let note =
            || Some("`digest` is an MD5 sum: 32 hex digits, as keepalived's genhash prints".to_owned());
        let bytes = self
            .hex(token)
            .map_err(|_| self.error(token, ErrorKind::BadArgument, note()))?;
        bytes
            .try_into()
            .map_err(|_| self.error(token, ErrorKind::BadArgument, note()))
    }

    /// A DNS name to query (`example.com`, `.` for the root).
    pub(crate) fn dns_name(&self, token: usize) -> Result<String, ParseError> {
        let text = self.tokens[token].text;
        let labels_fit = text
            .trim_end_matches('.')
            .split('.')
            .all(|label| (1..=63).contains(&label.len()));
        if text == "."
            || (text.len() <= 253 && labels_fit && text.is_ascii() && !text.contains(char::is_whitespace))
        {
            return Ok(text.to_owned());
        }
        Err(self.error(
            token,
            ErrorKind::BadArgument,
            Some("`query` is a DNS name: labels of 1 to 63 characters, 253 in all".to_owned()),
        ))
    }

    /// The words of `key = [ a b ]`, each with its token's index.
    fn bracketed(&self, note: &str) -> Result<Vec<(usize, &'a str)>, ParseError> {
        match self.tokens.get(2) {
            Some(t) if t.text == "[" => {}
            _ => return Err(self.error(2, ErrorKind::ListExpected, Some(note.to_owned()))),
        }
        let Some(close) = self
            .tokens
            .iter()
            .skip(3)
            .position(|t| t.text == "]")
            .map(|i| i + 3)
        else {
            return Err(self.error(self.tokens.len(), ErrorKind::ListExpected, Some(note.to_owned())));
        };
        if close + 1 < self.tokens.len() {
            return Err(self.error(close + 1, ErrorKind::ExtraArgs, Some(note.to_owned())));
        }
        Ok((3..close).map(|i| (i, self.tokens[i].text)).collect())
    }
}
