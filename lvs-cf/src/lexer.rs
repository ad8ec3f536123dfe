//! Lines and tokens, from the pest grammar in `lvs.pest`.

use pest::iterators::Pair;
use pest::Parser as _;
use std::collections::HashMap;
use std::sync::mpsc::{sync_channel, Receiver};

use crate::model::Quote;

#[derive(pest_derive::Parser)]
#[grammar = "lvs.pest"]
struct LvsGrammar;

/// Which tokenizer to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// lvs-rs: `key=value` and trailing comments.
    Extended,
    /// Piranha 0.8.6's tokenizer.
    Strict,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Word,
    /// A quote that does not close: "quotation mismatch".
    BadQuote,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Token<'a> {
    /// The token's text; for a quoted token, what is between the quotes.
    pub text: &'a str,
    pub quote: Quote,
    /// Byte offset of the token (its opening quote, if any) in the line.
    pub offset: usize,
    pub kind: TokenKind,
}

/// The bytes of text handed to pest at once: large enough to amortize the
/// parser's set-up, small enough to bound the memory of its token queue.
const CHUNK_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, Debug)]
struct LineInfo<'a> {
    text: &'a str,
    tokens: (usize, usize),
}

/// The lines of one chunk and their tokens.
#[derive(Debug, Default)]
struct Chunk<'a> {
    lines: Vec<LineInfo<'a>>,
    tokens: Vec<Token<'a>>,
}

/// Turns CRLF and lone CR into LF, so that the grammar sees one line end.
/// Line contents, and so columns, do not change; nor does the line count.
pub(crate) fn normalize_line_ends(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\r') {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
}

/// Where chunks come from: lexed on demand, or by worker threads that lex
/// ahead (chunk `i` by worker `i % n`, so they arrive in order).
enum Source<'a> {
    Inline {
        rest: &'a str,
        dialect: Dialect,
    },
    Workers {
        receivers: Vec<Receiver<Chunk<'a>>>,
        turn: usize,
    },
}

/// The lines and tokens of the chunks of earlier texts, by chunk text, so
/// that lexing a new version of a file lexes only the chunks that changed.
/// It holds the chunks of the last text lexed through it (about twice that
/// text's size in memory).
#[derive(Debug, Default)]
pub(crate) struct ChunkCache {
    dialect: Option<Dialect>,
    /// What the last complete pass saw.
    previous: HashMap<Box<str>, StoredChunk, ChunkHasher>,
    /// What the current pass has seen so far.
    current: HashMap<Box<str>, StoredChunk, ChunkHasher>,
    /// Chunks lexed afresh, over the cache's life.
    lexed: usize,
}

impl ChunkCache {
    /// Readies the cache for a pass over a new text in `dialect`.
    fn begin(&mut self, dialect: Dialect) {
        if self.dialect != Some(dialect) {
            self.previous.clear();
            self.current.clear();
            self.dialect = Some(dialect);
        }
        // A pass that stopped early (at an error) left its chunks in `current`.
        let unfinished = std::mem::take(&mut self.current);
        self.previous.extend(unfinished);
        self.current.reserve(self.previous.len());
    }

    /// Puts the lines and tokens of `text` in `chunk`, lexing it only if
    /// no earlier pass saw the same text.
    fn fill<'a>(&mut self, text: &'a str, dialect: Dialect, chunk: &mut Chunk<'a>) {
        match self.previous.remove_entry(text) {
            Some((key, stored)) => {
                stored.fill(text, chunk);
                self.current.entry(key).or_insert(stored);
            }
            None => {
                self.lexed += 1;
                *chunk = lex_chunk(text, dialect);
                let stored = StoredChunk::of(chunk, text);
                self.current.entry(text.into()).or_insert(stored);
            }
        }
    }

    /// The pass is complete: what it did not see is dropped. (A lexer that
    /// is asked again at the end finishes again: that changes nothing.)
    fn finish(&mut self) {
        if !self.current.is_empty() {
            self.previous = std::mem::take(&mut self.current);
        }
    }
}

/// Hashes chunk texts a word at a time: the keys are the file's own text,
/// not chosen by an adversary, and SipHash over the whole file would cost
/// more than the rest of a cached pass.
type ChunkHasher = std::hash::BuildHasherDefault<WordHasher>;

#[derive(Default)]
struct WordHasher(u64);

impl std::hash::Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut array = [0u8; 8];
            array.copy_from_slice(word);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(array)).wrapping_mul(K);
        }
        for &b in words.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A chunk's lines and tokens as byte ranges of its text.
#[derive(Debug)]
struct StoredChunk {
    /// Each line's start and end, and its tokens' range in `tokens`.
    lines: Vec<(u32, u32, u32, u32)>,
    tokens: Vec<StoredToken>,
}

#[derive(Debug)]
struct StoredToken {
    start: u32,
    end: u32,
    offset: u32,
    quote: Quote,
    kind: TokenKind,
}

impl StoredChunk {
    fn of(chunk: &Chunk<'_>, text: &str) -> StoredChunk {
        // Chunks are far below 4 GiB (CACHED_CHUNK_MAX_BYTES).
        let at = |part: &str| (part.as_ptr() as usize - text.as_ptr() as usize) as u32;
        StoredChunk {
            lines: chunk
                .lines
                .iter()
                .map(|line| {
                    let start = at(line.text);
                    (
                        start,
                        start + line.text.len() as u32,
                        line.tokens.0 as u32,
                        line.tokens.1 as u32,
                    )
                })
                .collect(),
            tokens: chunk
                .tokens
                .iter()
                .map(|token| {
                    let start = at(token.text);
                    StoredToken {
                        start,
                        end: start + token.text.len() as u32,
                        offset: token.offset as u32,
                        quote: token.quote,
                        kind: token.kind,
                    }
                })
                .collect(),
        }
    }

    /// The chunk, over `text` (equal to the text it was stored from), in
    /// `chunk`'s buffers.
    fn fill<'a>(&self, text: &'a str, chunk: &mut Chunk<'a>) {
        let slice = |start: u32, end: u32| text.get(start as usize..end as usize).unwrap_or("");
        chunk.lines.clear();
        chunk
            .lines
            .extend(self.lines.iter().map(|&(start, end, first, last)| LineInfo {
                text: slice(start, end),
                tokens: (first as usize, last as usize),
            }));
        chunk.tokens.clear();
        chunk.tokens.extend(self.tokens.iter().map(|token| Token {
            text: slice(token.start, token.end),
            quote: token.quote,
            offset: token.offset as usize,
            kind: token.kind,
        }));
    }
}

/// Cached chunks end where a line's hash says, at least this far in...
const CACHED_CHUNK_MIN_BYTES: usize = 2 * 1024;
/// ...and at the first line end after this, whatever the hashes.
const CACHED_CHUNK_MAX_BYTES: usize = 64 * 1024;
/// A line ends a chunk when its hash is a multiple of this.
const CACHED_CHUNK_LINES: u64 = 64;

/// The first chunk of `text` and the rest, cut by content: an edit moves
/// only the boundaries near it, so the chunks after it are found again.
fn split_cached_chunk(text: &str) -> (&str, &str) {
    let mut line_start = 0;
    let bytes = text.as_bytes();
    while let Some(i) = find_newline(&bytes[line_start..]) {
        let line_end = line_start + i;
        let cut = line_end >= CACHED_CHUNK_MAX_BYTES
            || (line_end >= CACHED_CHUNK_MIN_BYTES
                && line_hash(&text.as_bytes()[line_start..line_end]).is_multiple_of(CACHED_CHUNK_LINES));
        if cut {
            return (&text[..line_end], &text[line_end + 1..]);
        }
        line_start = line_end + 1;
    }
    (text.strip_suffix('\n').unwrap_or(text), "")
}

/// The index of the first `\n` in `bytes`, eight bytes at a time (lines
/// are short, and this runs over the whole file on every reload).
fn find_newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const NEWLINES: u64 = ONES * b'\n' as u64;
    let mut words = bytes.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let mut array = [0u8; 8];
        array.copy_from_slice(word);
        let x = u64::from_le_bytes(array) ^ NEWLINES;
        // A zero byte in x is a newline in the word.
        let zeros = x.wrapping_sub(ONES) & !x & HIGHS;
        if zeros != 0 {
            return Some(at + (zeros.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words.remainder().iter().position(|&b| b == b'\n').map(|i| at + i)
}

fn line_hash(bytes: &[u8]) -> u64 {
    use std::hash::Hasher as _;
    let mut hasher = WordHasher::default();
    hasher.write(bytes);
    // The low bits of a product are its weakest: fold the high ones in.
    let hash = hasher.finish();
    hash ^ (hash >> 29)
}

/// Splits a file into lines and tokens, a chunk of whole lines at a time.
/// The text must end its lines with LF only ([`normalize_line_ends`]).
pub(crate) struct Lexer<'a> {
    source: Source<'a>,
    chunk: Chunk<'a>,
    cursor: usize,
    /// The number of the current chunk's first line.
    base: usize,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(text: &'a str, dialect: Dialect) -> Self {
        Lexer::from_source(Source::Inline { rest: text, dialect })
    }

    /// A lexer whose chunks are lexed by `workers` threads of `scope` while
    /// the caller consumes lines. Each worker keeps at most two chunks ready.
    pub(crate) fn parallel<'scope>(
        scope: &'scope std::thread::Scope<'scope, 'a>,
        text: &'a str,
        dialect: Dialect,
        workers: usize,
    ) -> Self {
        let mut chunks = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let (chunk, after) = split_chunk(rest);
            chunks.push(chunk);
            rest = after;
        }
        let workers = workers.clamp(1, chunks.len().max(1));
        let chunks = std::sync::Arc::new(chunks);
        let mut receivers = Vec::with_capacity(workers);
        for worker in 0..workers {
            let (sender, receiver) = sync_channel::<Chunk<'a>>(2);
            let chunks = std::sync::Arc::clone(&chunks);
            scope.spawn(move || {
                for chunk in chunks.iter().skip(worker).step_by(workers) {
                    // The consumer stops early on the first error; stop too.
                    if sender.send(lex_chunk(chunk, dialect)).is_err() {
                        break;
                    }
                }
            });
            receivers.push(receiver);
        }
        Lexer::from_source(Source::Workers { receivers, turn: 0 })
    }

    /// A lexer that takes the chunks it has seen before from `cache` and
    /// leaves in it the chunks of `text`. A thread of `scope` splits, looks
    /// up (or lexes) and lays out the chunks a few ahead of the caller, which
    /// is left the model to build.
    pub(crate) fn cached_ahead<'scope>(
        scope: &'scope std::thread::Scope<'scope, 'a>,
        text: &'a str,
        dialect: Dialect,
        cache: &'a mut ChunkCache,
    ) -> Self {
        cache.begin(dialect);
        let (sender, receiver) = sync_channel::<Chunk<'a>>(4);
        scope.spawn(move || {
            let mut rest = text;
            while !rest.is_empty() {
                let (chunk_text, after) = split_cached_chunk(rest);
                rest = after;
                let mut chunk = Chunk::default();
                cache.fill(chunk_text, dialect, &mut chunk);
                // The consumer stops early on the first error; stop too (the
                // next pass takes in what this one kept).
                if sender.send(chunk).is_err() {
                    return;
                }
            }
            cache.finish();
        });
        Lexer::from_source(Source::Workers {
            receivers: vec![receiver],
            turn: 0,
        })
    }

    fn from_source(source: Source<'a>) -> Self {
        Lexer {
            source,
            chunk: Chunk::default(),
            cursor: 0,
            base: 1,
        }
    }

    /// Skips `count` lines (a block read before).
    pub(crate) fn skip_lines(&mut self, mut count: usize) {
        while count > 0 {
            let left = self.chunk.lines.len() - self.cursor;
            if count <= left {
                self.cursor += count;
                return;
            }
            count -= left;
            self.cursor = self.chunk.lines.len();
            if self.next_line().is_none() {
                return;
            }
            count -= 1;
        }
    }

    /// The next line: its 1-based number, its text without the terminator,
    /// and its tokens (none for blank and comment lines).
    pub(crate) fn next_line(&mut self) -> Option<(usize, &'a str, &[Token<'a>])> {
        while self.cursor == self.chunk.lines.len() {
            let next = self.next_chunk()?;
            self.base += self.chunk.lines.len();
            self.chunk = next;
            self.cursor = 0;
        }
        let line = self.chunk.lines[self.cursor];
        let number = self.base + self.cursor;
        self.cursor += 1;
        Some((
            number,
            line.text,
            &self.chunk.tokens[line.tokens.0..line.tokens.1],
        ))
    }

    fn next_chunk(&mut self) -> Option<Chunk<'a>> {
        match &mut self.source {
            Source::Inline { rest, dialect } => {
                if rest.is_empty() {
                    return None;
                }
                let (chunk, after) = split_chunk(rest);
                *rest = after;
                Some(lex_chunk(chunk, *dialect))
            }
            Source::Workers { receivers, turn } => {
                let chunk = receivers[*turn % receivers.len()].recv().ok()?;
                *turn += 1;
                Some(chunk)
            }
        }
    }
}

fn lex_chunk(text: &str, dialect: Dialect) -> Chunk<'_> {
    let mut chunk = Chunk {
        lines: Vec::with_capacity(text.len() / 16),
        tokens: Vec::with_capacity(text.len() / 8),
    };
    let rule = match dialect {
        Dialect::Extended => Rule::lines,
        Dialect::Strict => Rule::strict_lines,
    };
    let is_line = |p: &Pair<'_, Rule>| matches!(p.as_rule(), Rule::line | Rule::strict_line);
    match LvsGrammar::parse(rule, text) {
        Ok(pairs) => {
            for line in pairs.filter(is_line) {
                chunk.push_line(line);
            }
        }
        // The grammar accepts every input; should it ever not, lex line by
        // line and report the rest of a failing line as a quoting error.
        Err(_) => {
            for line in LineSplit(text) {
                match LvsGrammar::parse(rule, line) {
                    Ok(mut pairs) => match pairs.find(is_line) {
                        Some(pair) => chunk.push_line(pair),
                        None => chunk.push_failed(line, 0),
                    },
                    Err(error) => {
                        let offset = match error.location {
                            pest::error::InputLocation::Pos(p) => p,
                            pest::error::InputLocation::Span((start, _)) => start,
                        };
                        chunk.push_failed(line, offset);
                    }
                }
            }
        }
    }
    chunk
}

impl<'a> Chunk<'a> {
    fn push_line(&mut self, line: Pair<'a, Rule>) {
        let text = line.as_str();
        let base = line.as_span().start();
        let first = self.tokens.len();
        for pair in line.into_inner() {
            if let Some(token) = token_of(pair, base) {
                self.tokens.push(token);
            }
        }
        self.lines.push(LineInfo {
            text,
            tokens: (first, self.tokens.len()),
        });
    }

    fn push_failed(&mut self, text: &'a str, offset: usize) {
        let offset = (0..=offset.min(text.len()))
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        let first = self.tokens.len();
        self.tokens.push(Token {
            text: &text[offset..],
            quote: Quote::None,
            offset,
            kind: TokenKind::BadQuote,
        });
        self.lines.push(LineInfo {
            text,
            tokens: (first, self.tokens.len()),
        });
    }
}

/// The first chunk of whole lines, without the terminator of its last line,
/// and the text after that terminator.
fn split_chunk(text: &str) -> (&str, &str) {
    let search_from = CHUNK_BYTES.min(text.len());
    match text.as_bytes()[search_from..].iter().position(|&b| b == b'\n') {
        Some(i) => {
            let end = search_from + i;
            (&text[..end], &text[end + 1..])
        }
        // A file's last line terminator ends a line; it does not start an empty one.
        None => (text.strip_suffix('\n').unwrap_or(text), ""),
    }
}

/// Lines split at LF.
struct LineSplit<'a>(&'a str);

impl<'a> Iterator for LineSplit<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.0.is_empty() {
            return None;
        }
        match self.0.split_once('\n') {
            Some((line, rest)) => {
                self.0 = rest;
                Some(line)
            }
            None => Some(std::mem::take(&mut self.0)),
        }
    }
}

fn token_of(pair: Pair<'_, Rule>, base: usize) -> Option<Token<'_>> {
    let span = pair.as_span();
    let offset = span.start() - base;
    let word = |text, quote| {
        Some(Token {
            text,
            quote,
            offset,
            kind: TokenKind::Word,
        })
    };
    match pair.as_rule() {
        Rule::key | Rule::bare | Rule::equals => word(span.as_str(), Quote::None),
        Rule::quoted | Rule::strict_quoted => {
            let quote = if span.as_str().starts_with('"') {
                Quote::Double
            } else {
                Quote::Single
            };
            let inner = pair.into_inner().next().map(|p| p.as_str()).unwrap_or("");
            word(inner, quote)
        }
        Rule::bad_quote => Some(Token {
            text: span.as_str(),
            quote: Quote::None,
            offset,
            kind: TokenKind::BadQuote,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(line: &str, dialect: Dialect) -> Vec<(String, Quote, usize, TokenKind)> {
        let line = normalize_line_ends(line);
        let mut lexer = Lexer::new(&line, dialect);
        let (_, _, tokens) = lexer.next_line().unwrap_or((1, "", &[]));
        tokens
            .iter()
            .map(|t| (t.text.to_owned(), t.quote, t.offset, t.kind))
            .collect()
    }

    fn all_lines(text: &str) -> Vec<(usize, String, usize)> {
        let text = normalize_line_ends(text);
        let mut lexer = Lexer::new(&text, Dialect::Extended);
        let mut out = Vec::new();
        while let Some((n, line, tokens)) = lexer.next_line() {
            out.push((n, line.to_owned(), tokens.len()));
        }
        out
    }

    fn texts(line: &str, dialect: Dialect) -> Vec<String> {
        toks(line, dialect).into_iter().map(|t| t.0).collect()
    }

    type Lexed = Vec<(usize, String, Vec<(String, Quote, usize, TokenKind)>)>;

    fn lex_all(mut lexer: Lexer<'_>) -> Lexed {
        let mut out = Vec::new();
        while let Some((n, line, tokens)) = lexer.next_line() {
            let tokens = tokens
                .iter()
                .map(|t| (t.text.to_owned(), t.quote, t.offset, t.kind))
                .collect();
            out.push((n, line.to_owned(), tokens));
        }
        out
    }

    fn big_file(weight_of: impl Fn(usize) -> usize) -> String {
        let mut text = String::from("primary = 192.0.2.1\n");
        for s in 0..400 {
            text.push_str(&format!(
                "virtual vs{s} {{\n address = \"10.0.{}.{} eth0:1\"\n",
                s / 250,
                s % 250
            ));
            for d in 0..5 {
                text.push_str(&format!(
                    "  server r{d} {{\n    address = 10.1.{s}.{d} # note\n    weight = {}\n  }}\n",
                    weight_of(s * 5 + d)
                ));
            }
            text.push_str("}\n");
        }
        text
    }

    /// Runs `with` on a cached lexer over `text`.
    fn cached<R>(
        text: &str,
        dialect: Dialect,
        cache: &mut ChunkCache,
        with: impl FnOnce(Lexer<'_>) -> R,
    ) -> R {
        std::thread::scope(|scope| with(Lexer::cached_ahead(scope, text, dialect, cache)))
    }

    #[test]
    fn a_cached_lexer_relexes_only_chunks_that_changed() {
        let before = big_file(|_| 1);
        // One server's weight changes, in the middle; one line is longer.
        let after = big_file(|i| if i == 1000 { 1000 } else { 1 });
        let mut cache = ChunkCache::default();
        for dialect in [Dialect::Extended, Dialect::Strict] {
            let first = cached(&before, dialect, &mut cache, lex_all);
            assert_eq!(first, lex_all(Lexer::new(&before, dialect)));
            let lexed_first = cache.lexed;
            assert!(
                lexed_first > 20,
                "{lexed_first} chunks: the file should make many"
            );
            let second = cached(&after, dialect, &mut cache, lex_all);
            assert_eq!(second, lex_all(Lexer::new(&after, dialect)));
            let lexed_again = cache.lexed - lexed_first;
            assert!((1..=2).contains(&lexed_again), "{lexed_again} chunks lexed again");
            // A pass that stops early keeps what it did not reach.
            cached(&before, dialect, &mut cache, |mut partial| {
                for _ in 0..10 {
                    partial.next_line();
                }
            });
            let lexed = cache.lexed;
            assert_eq!(cached(&after, dialect, &mut cache, lex_all), second);
            assert_eq!(cache.lexed, lexed, "every chunk of `after` was still there");
            cache.lexed = 0;
        }
    }

    #[test]
    fn newlines_are_found_where_they_are() {
        for text in [
            "",
            "\n",
            "abc",
            "abcdefgh\n",
            "abcdefghijklmnop",
            "a\nb",
            "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\n",
            "1234567\u{80}\n",
        ] {
            let bytes = text.as_bytes();
            assert_eq!(
                find_newline(bytes),
                bytes.iter().position(|&b| b == b'\n'),
                "{text:?}"
            );
        }
        let long: Vec<u8> = (0..300u32)
            .map(|i| {
                if i % 37 == 36 {
                    b'\n'
                } else {
                    b'a' + (i % 26) as u8
                }
            })
            .collect();
        for start in 0..long.len() {
            assert_eq!(
                find_newline(&long[start..]),
                long[start..].iter().position(|&b| b == b'\n')
            );
        }
    }

    #[test]
    fn skipped_lines_leave_the_lexer_where_reading_would() {
        let text = big_file(|i| i % 7);
        let all = lex_all(Lexer::new(&text, Dialect::Extended));
        let mut cache = ChunkCache::default();
        let _ = cached(&text, Dialect::Extended, &mut cache, lex_all);
        let lexed = cache.lexed;
        for skip in [0, 1, 5, 150, 2000, 4001, all.len() - 1, all.len(), all.len() + 3] {
            let rest = cached(&text, Dialect::Extended, &mut cache, |mut lexer| {
                lexer.skip_lines(3);
                lexer.skip_lines(skip);
                lex_all(lexer)
            });
            assert_eq!(
                rest,
                all.get(3 + skip..).unwrap_or_default(),
                "after skipping {skip}"
            );
            assert_eq!(cache.lexed, lexed, "skipped chunks stay cached (skip {skip})");
        }
    }

    #[test]
    fn lines_end_at_cr_lf_and_crlf() {
        let got: Vec<_> = all_lines("a\r\nb\rc\n\nd")
            .into_iter()
            .map(|(n, l, _)| (n, l))
            .collect();
        let want: Vec<(usize, String)> = [(1, "a"), (2, "b"), (3, "c"), (4, ""), (5, "d")]
            .iter()
            .map(|&(n, l)| (n, l.to_owned()))
            .collect();
        assert_eq!(got, want);
        assert!(all_lines("").is_empty());
        assert_eq!(all_lines("x\n"), vec![(1, "x".to_owned(), 1)]);
        assert_eq!(all_lines("x\r\n\r\n").len(), 2);
    }

    #[test]
    fn workers_give_the_same_lines_in_order() {
        let mut text = String::new();
        for i in 0..20_000 {
            text.push_str(&format!("     key{i} = \"value {i}\"\n# comment\n\n"));
        }
        let sequential = all_lines(&text);
        for workers in [1, 2, 3] {
            let parallel = std::thread::scope(|scope| {
                let mut lexer = Lexer::parallel(scope, &text, Dialect::Extended, workers);
                let mut out = Vec::new();
                while let Some((n, line, tokens)) = lexer.next_line() {
                    out.push((n, line.to_owned(), tokens.len()));
                }
                out
            });
            assert_eq!(parallel, sequential, "{workers} workers");
        }
    }

    #[test]
    fn chunks_end_at_line_ends() {
        let line = "     weight = 1\r\n";
        let text = line.repeat(3 * CHUNK_BYTES / line.len() + 7);
        let lines = all_lines(&text);
        assert_eq!(lines.len(), text.matches("\r\n").count());
        assert!(lines
            .iter()
            .enumerate()
            .all(|(i, (n, l, t))| *n == i + 1 && l == "     weight = 1" && *t == 3));
    }

    #[test]
    fn blank_and_comment_lines_have_no_tokens() {
        for dialect in [Dialect::Extended, Dialect::Strict] {
            assert!(toks("", dialect).is_empty());
            assert!(toks(" \t ", dialect).is_empty());
            assert!(toks("  # a comment = 1", dialect).is_empty());
        }
    }

    #[test]
    fn key_equals_value() {
        for dialect in [Dialect::Extended, Dialect::Strict] {
            assert_eq!(texts("\tport = 80", dialect), ["port", "=", "80"]);
            assert_eq!(
                texts("address = 1.2.3.4 eth0:1  ", dialect),
                ["address", "=", "1.2.3.4", "eth0:1"]
            );
        }
    }

    #[test]
    fn glued_equals_splits_only_in_the_extended_dialect() {
        assert_eq!(texts("port=80", Dialect::Extended), ["port", "=", "80"]);
        assert_eq!(texts("port= 80", Dialect::Extended), ["port", "=", "80"]);
        assert_eq!(texts("port =80", Dialect::Extended), ["port", "=", "80"]);
        assert_eq!(
            texts("send_program = /bin/x --a=b", Dialect::Extended),
            ["send_program", "=", "/bin/x", "--a=b"]
        );
        assert_eq!(texts("port=80", Dialect::Strict), ["port=80"]);
        assert_eq!(texts("port =80", Dialect::Strict), ["port", "=80"]);
    }

    #[test]
    fn trailing_comments_only_in_the_extended_dialect() {
        assert_eq!(texts("port = 80 # web", Dialect::Extended), ["port", "=", "80"]);
        assert_eq!(
            texts("send = \"a b\" # x", Dialect::Extended),
            ["send", "=", "a b"]
        );
        assert_eq!(texts("expect = a#b", Dialect::Extended), ["expect", "=", "a#b"]);
        assert_eq!(
            texts("port = 80 # web", Dialect::Strict),
            ["port", "=", "80", "#", "web"]
        );
    }

    #[test]
    fn quoted_tokens_keep_backslashes_and_blanks() {
        for dialect in [Dialect::Extended, Dialect::Strict] {
            let got = toks(r#"send = "GET / HTTP/1.0\r\n\r\n""#, dialect);
            assert_eq!(got[2].0, r"GET / HTTP/1.0\r\n\r\n");
            assert_eq!(got[2].1, Quote::Double);
            assert_eq!(got[2].2, 7);
            let got = toks("expect = 'it is'", dialect);
            assert_eq!((got[2].0.as_str(), got[2].1), ("it is", Quote::Single));
            assert_eq!(texts(r#"x = """#, dialect), ["x", "=", ""]);
        }
    }

    #[test]
    fn unterminated_quotes_are_bad_quotes() {
        for dialect in [Dialect::Extended, Dialect::Strict] {
            let got = toks(r#"send = "abc"#, dialect);
            assert_eq!(got[2].3, TokenKind::BadQuote);
            assert_eq!(got[2].2, 7);
            let got = toks(r#"send = ""#, dialect);
            assert_eq!(got[2].3, TokenKind::BadQuote);
        }
    }

    #[test]
    fn piranha_quote_quirks_in_the_strict_dialect() {
        // A comment after a quoted value runs to the end of the line looking for a quote.
        assert_eq!(
            toks(r#"send = "abc" # x"#, Dialect::Strict)[2].3,
            TokenKind::BadQuote
        );
        // So does any token after a quoted value without blanks.
        assert_eq!(
            toks(r#"address = "1.2.3.4" eth0"#, Dialect::Strict)[2].3,
            TokenKind::BadQuote
        );
        assert_eq!(
            texts(r#"address = "1.2.3.4" eth0"#, Dialect::Extended),
            ["address", "=", "1.2.3.4", "eth0"]
        );
        // The token extends to the next quote after the first blank, and the
        // rest of the line is tokenized afresh.
        assert_eq!(
            texts(r#"x = "a"b "c""#, Dialect::Strict),
            ["x", "=", "a\"b ", "c\""]
        );
        assert_eq!(texts(r#"x = "a"b""#, Dialect::Strict), ["x", "=", "a\"b"]);
        assert_eq!(toks(r#"x = "a"b"#, Dialect::Strict)[2].3, TokenKind::BadQuote);
        assert_eq!(toks(r#"x = "a"b"#, Dialect::Extended)[2].3, TokenKind::BadQuote);
    }

    #[test]
    fn quoted_first_token_is_a_key() {
        // Piranha: a blank-free quoted token followed by more tokens is a mismatch.
        assert_eq!(toks(r#""port" = 80"#, Dialect::Strict)[0].3, TokenKind::BadQuote);
        assert_eq!(texts(r#""port" = "80""#, Dialect::Strict), ["port\" = ", "80\""]);
        assert_eq!(texts(r#""port" = 80"#, Dialect::Extended), ["port", "=", "80"]);
    }

    #[test]
    fn any_bytes_tokenize_without_panic() {
        for line in [
            "\u{0}",
            "=",
            "= =",
            "'",
            "\"",
            "'\"'",
            "#",
            "a\u{FFFD}b",
            "é = ü",
            "\"\t\"",
        ] {
            for dialect in [Dialect::Extended, Dialect::Strict] {
                toks(line, dialect);
            }
        }
    }
}
