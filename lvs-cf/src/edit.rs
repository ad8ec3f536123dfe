//! lvs.cf as a program edits it (the web tool does): blocks of `key = value` entries, each
//! value as lvs.cf spells it. A panel replaces the entries of one block; the
//! edited document is turned back into text and read by `lvs-cf`, so a value
//! means in the tool exactly what it means in the file, and every error
//! `lvs-cf` finds is traced back to the block and key it came from.

use crate::{Config, Diagnostic, ParseError, ParseOptions};

/// Which block an entry belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The top level.
    Global,
    /// A `virtual` or `failover` block, by its index in the document.
    Block(usize),
    /// A server of a block.
    Server(usize, usize),
    /// A check block: of a block (`server` is `None`) or of one of its servers.
    Check {
        /// The block.
        block: usize,
        /// The server, when the check is a server's.
        server: Option<usize>,
        /// The check's index among its owner's.
        check: usize,
    },
    /// A `router`, `vip_group` or `track` block, by its index among them.
    KeyBlock(usize),
}

impl Place {
    /// The block it is in, or is.
    pub fn block(self) -> Option<usize> {
        match self {
            Place::Global | Place::KeyBlock(_) => None,
            Place::Block(b) | Place::Server(b, _) | Place::Check { block: b, .. } => Some(b),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// The keyword of a service block.
pub enum BlockKind {
    /// `virtual NAME {`.
    Virtual,
    /// `failover NAME {`.
    Failover,
}

impl BlockKind {
    /// The keyword as written.
    pub fn keyword(self) -> &'static str {
        match self {
            BlockKind::Virtual => "virtual",
            BlockKind::Failover => "failover",
        }
    }
}

/// `key = value`, the value as lvs.cf spells it (quotes included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// The value as written, quotes included.
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
/// A `server NAME { }` block.
pub struct ServerBlock {
    /// Its name.
    pub name: String,
    /// Its entries, in order.
    pub entries: Vec<Entry>,
    /// Its check blocks.
    pub checks: Vec<CheckEntries>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
/// A `check NAME { }` block.
pub struct CheckEntries {
    /// Its name.
    pub name: String,
    /// Its entries, in order.
    pub entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
/// A `virtual` or `failover` block.
pub struct Block {
    /// Which keyword opens it.
    pub kind: BlockKind,
    /// Its name.
    pub name: String,
    /// Its entries, in order.
    pub entries: Vec<Entry>,
    /// Its check blocks.
    pub checks: Vec<CheckEntries>,
    /// Its server blocks.
    pub servers: Vec<ServerBlock>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
/// A top-level block of keys alone: `router`, `vip_group` or `track`.
pub struct KeyBlock {
    /// The keyword that opens it.
    pub keyword: String,
    /// Its name.
    pub name: String,
    /// Its entries, in order.
    pub entries: Vec<Entry>,
}

/// The keywords of [`KeyBlock`]s.
const KEY_BLOCKS: [&str; 3] = ["router", "vip_group", "track"];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
/// A whole lvs.cf as blocks of entries.
pub struct Document {
    /// The top level's entries.
    pub globals: Vec<Entry>,
    /// The `router`, `vip_group` and `track` blocks, in order.
    pub key_blocks: Vec<KeyBlock>,
    /// The service blocks, in order.
    pub blocks: Vec<Block>,
}

/// A problem `lvs-cf` found, placed on the field it concerns when it can be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The block it is about, when it is about one.
    pub place: Option<Place>,
    /// The key (`name` for a block's name), when the line was an entry.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl Entry {
    /// `key = value`.
    pub fn new(key: &str, value: impl Into<String>) -> Entry {
        Entry {
            key: key.to_owned(),
            value: value.into(),
        }
    }
}

/// The value of `key` among `entries`.
pub fn value_of<'e>(entries: &'e [Entry], key: &str) -> Option<&'e str> {
    entries.iter().rfind(|e| e.key == key).map(|e| e.value.as_str())
}

/// Sets `key` to `value` (`None` removes it), keeping its place.
pub fn set(entries: &mut Vec<Entry>, key: &str, value: Option<String>) {
    match (entries.iter().position(|e| e.key == key), value) {
        (Some(i), Some(value)) => {
            entries[i].value = value;
            // Only the first occurrence stays.
            let mut first = true;
            entries.retain(|e| e.key != key || std::mem::take(&mut first));
        }
        (Some(_), None) => entries.retain(|e| e.key != key),
        (None, Some(value)) => entries.push(Entry::new(key, value)),
        (None, None) => {}
    }
}

impl Document {
    /// The document of `config`, in the canonical layout.
    pub fn of(config: &Config) -> Document {
        let text = crate::write(config);
        let mut document = Document::default();
        let mut in_block = false;
        let mut in_server = false;
        let mut in_check = false;
        let mut in_key_block = false;
        for line in text.lines() {
            let line = line.trim();
            // The writer's layout: a line is a block header when its first
            // word is the block keyword of its level (no key is one), so a
            // value such as `expect = {` stays a value.
            let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
            let header = rest
                .strip_suffix(" {")
                .map(|name| crate::unquote(name).to_owned());
            match (word, header) {
                (keyword, Some(name)) if !in_block && !in_key_block && KEY_BLOCKS.contains(&keyword) => {
                    document.key_blocks.push(KeyBlock {
                        keyword: keyword.to_owned(),
                        name,
                        entries: Vec::new(),
                    });
                    in_key_block = true;
                }
                ("}", _) if in_key_block => in_key_block = false,
                ("check", Some(name)) if in_block && !in_check => {
                    let check = CheckEntries {
                        name,
                        entries: Vec::new(),
                    };
                    if let Some(block) = document.blocks.last_mut() {
                        match block.servers.last_mut().filter(|_| in_server) {
                            Some(server) => server.checks.push(check),
                            None => block.checks.push(check),
                        }
                    }
                    in_check = true;
                }
                ("server", Some(name)) if in_block && !in_server => {
                    if let Some(block) = document.blocks.last_mut() {
                        block.servers.push(ServerBlock {
                            name,
                            entries: Vec::new(),
                            checks: Vec::new(),
                        });
                    }
                    in_server = true;
                }
                ("virtual" | "failover", Some(name)) if !in_block => {
                    let kind = if word == "failover" {
                        BlockKind::Failover
                    } else {
                        BlockKind::Virtual
                    };
                    document.blocks.push(Block {
                        kind,
                        name,
                        entries: Vec::new(),
                        checks: Vec::new(),
                        servers: Vec::new(),
                    });
                    in_block = true;
                }
                ("}", _) if in_check => in_check = false,
                ("}", _) if in_server => in_server = false,
                ("}", _) => in_block = false,
                _ => {
                    let Some((key, value)) = line.split_once(" = ") else {
                        continue;
                    };
                    let entry = Entry::new(key, value);
                    if in_key_block {
                        if let Some(block) = document.key_blocks.last_mut() {
                            block.entries.push(entry);
                        }
                        continue;
                    }
                    let Some(block) = document.blocks.last_mut().filter(|_| in_block) else {
                        document.globals.push(entry);
                        continue;
                    };
                    let server = block.servers.last_mut().filter(|_| in_server);
                    match (in_check, server) {
                        (true, Some(server)) => {
                            if let Some(check) = server.checks.last_mut() {
                                check.entries.push(entry);
                            }
                        }
                        (true, None) => {
                            if let Some(check) = block.checks.last_mut() {
                                check.entries.push(entry);
                            }
                        }
                        (false, Some(server)) => server.entries.push(entry),
                        (false, None) => block.entries.push(entry),
                    }
                }
            }
        }
        document
    }

    /// The document as lvs.cf text, with the place and key of each line.
    pub fn text(&self) -> (String, Vec<(Place, Option<String>)>) {
        let mut text = String::new();
        let mut lines = Vec::new();
        let mut line = |text: &mut String, content: String, place: Place, key: Option<&str>| {
            text.push_str(&content);
            text.push('\n');
            lines.push((place, key.map(str::to_owned)));
        };
        for entry in &self.globals {
            let content = format!("{} = {}", entry.key, entry.value);
            line(&mut text, content, Place::Global, Some(&entry.key));
        }
        for (k, block) in self.key_blocks.iter().enumerate() {
            let place = Place::KeyBlock(k);
            let header = format!("{} {} {{", block.keyword, crate::quote(&block.name));
            line(&mut text, header, place, Some("name"));
            for entry in &block.entries {
                let content = format!("     {} = {}", entry.key, entry.value);
                line(&mut text, content, place, Some(&entry.key));
            }
            line(&mut text, "}".to_owned(), place, None);
        }
        for (b, block) in self.blocks.iter().enumerate() {
            let place = Place::Block(b);
            let header = format!("{} {} {{", block.kind.keyword(), crate::quote(&block.name));
            line(&mut text, header, place, Some("name"));
            for entry in &block.entries {
                line(
                    &mut text,
                    format!("     {} = {}", entry.key, entry.value),
                    place,
                    Some(&entry.key),
                );
            }
            for (c, check) in block.checks.iter().enumerate() {
                let place = Place::Check {
                    block: b,
                    server: None,
                    check: c,
                };
                check_lines(&mut text, &mut line, "     ", check, place);
            }
            for (s, server) in block.servers.iter().enumerate() {
                let place = Place::Server(b, s);
                line(
                    &mut text,
                    format!("     server {} {{", crate::quote(&server.name)),
                    place,
                    Some("name"),
                );
                for entry in &server.entries {
                    let content = format!("         {} = {}", entry.key, entry.value);
                    line(&mut text, content, place, Some(&entry.key));
                }
                for (c, check) in server.checks.iter().enumerate() {
                    let place = Place::Check {
                        block: b,
                        server: Some(s),
                        check: c,
                    };
                    check_lines(&mut text, &mut line, "         ", check, place);
                }
                line(&mut text, "     }".to_owned(), place, None);
            }
            line(&mut text, "}".to_owned(), place, None);
        }
        (text, lines)
    }

    /// Reads the document with `lvs-cf`: the model, or every error found,
    /// each placed on the block and key of its line.
    pub fn check(&self) -> Result<Config, Vec<Problem>> {
        let (text, lines) = self.text();
        let locate = |line: Option<usize>| {
            line.and_then(|n| n.checked_sub(1))
                .and_then(|i| lines.get(i))
                .cloned()
        };
        let problem = |line: Option<usize>, message: String| {
            let (place, key) = match locate(line) {
                Some((place, key)) => (Some(place), key),
                None => (None, None),
            };
            Problem { place, key, message }
        };
        match crate::parse_with(&text, &ParseOptions::default()) {
            Err(error) => Err(vec![problem(Some(error.line), parse_message(&error))]),
            Ok(parsed) => {
                let errors: Vec<Problem> = parsed
                    .diagnostics()
                    .into_iter()
                    .filter(Diagnostic::is_error)
                    .map(|d| problem(d.line, d.message))
                    .collect();
                if errors.is_empty() {
                    Ok(parsed.config)
                } else {
                    Err(errors)
                }
            }
        }
    }

    /// The entries of `place`, if it exists.
    pub fn entries(&self, place: Place) -> Option<&Vec<Entry>> {
        match place {
            Place::Global => Some(&self.globals),
            Place::KeyBlock(k) => self.key_blocks.get(k).map(|k| &k.entries),
            Place::Block(b) => self.blocks.get(b).map(|b| &b.entries),
            Place::Server(b, s) => self.blocks.get(b)?.servers.get(s).map(|s| &s.entries),
            Place::Check { .. } => self.check_block(place).map(|c| &c.entries),
        }
    }

    /// The entries at `place`, to change them.
    pub fn entries_mut(&mut self, place: Place) -> Option<&mut Vec<Entry>> {
        match place {
            Place::Global => Some(&mut self.globals),
            Place::KeyBlock(k) => self.key_blocks.get_mut(k).map(|k| &mut k.entries),
            Place::Block(b) => self.blocks.get_mut(b).map(|b| &mut b.entries),
            Place::Server(b, s) => self.blocks.get_mut(b)?.servers.get_mut(s).map(|s| &mut s.entries),
            Place::Check { .. } => self.check_mut(place).map(|c| &mut c.entries),
        }
    }

    /// The name of a block, server or check (`None` for the globals).
    pub fn name_mut(&mut self, place: Place) -> Option<&mut String> {
        match place {
            Place::Global => None,
            Place::KeyBlock(k) => self.key_blocks.get_mut(k).map(|k| &mut k.name),
            Place::Block(b) => self.blocks.get_mut(b).map(|b| &mut b.name),
            Place::Server(b, s) => self.blocks.get_mut(b)?.servers.get_mut(s).map(|s| &mut s.name),
            Place::Check { .. } => self.check_mut(place).map(|c| &mut c.name),
        }
    }

    /// The check block at `place`, if `place` is one that exists.
    pub fn check_block(&self, place: Place) -> Option<&CheckEntries> {
        let Place::Check { block, server, check } = place else {
            return None;
        };
        let block = self.blocks.get(block)?;
        match server {
            Some(s) => block.servers.get(s)?.checks.get(check),
            None => block.checks.get(check),
        }
    }

    /// Removes the check block at `place`; whether there was one.
    pub fn remove_check(&mut self, place: Place) -> bool {
        let Place::Check { block, server, check } = place else {
            return false;
        };
        let Some(block) = self.blocks.get_mut(block) else {
            return false;
        };
        let checks = match server {
            Some(s) => match block.servers.get_mut(s) {
                Some(server) => &mut server.checks,
                None => return false,
            },
            None => &mut block.checks,
        };
        (check < checks.len()).then(|| checks.remove(check)).is_some()
    }

    fn check_mut(&mut self, place: Place) -> Option<&mut CheckEntries> {
        let Place::Check { block, server, check } = place else {
            return None;
        };
        let block = self.blocks.get_mut(block)?;
        match server {
            Some(s) => block.servers.get_mut(s)?.checks.get_mut(check),
            None => block.checks.get_mut(check),
        }
    }
}

/// The lines of a check block, indented by `indent`.
fn check_lines(
    text: &mut String,
    line: &mut impl FnMut(&mut String, String, Place, Option<&str>),
    indent: &str,
    check: &CheckEntries,
    place: Place,
) {
    let header = format!("{indent}check {} {{", crate::quote(&check.name));
    line(text, header, place, Some("name"));
    for entry in &check.entries {
        let content = format!("{indent}    {} = {}", entry.key, entry.value);
        line(text, content, place, Some(&entry.key));
    }
    line(text, format!("{indent}}}"), place, None);
}

/// A parse error in one line: what is wrong, and the parser's note.
fn parse_message(error: &ParseError) -> String {
    match &error.note {
        Some(note) => format!("{} ({note})", error.kind),
        None => error.kind.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CF: &str = "serial_no = 4\nprimary = 192.0.2.1\nservice = lvs\nnetwork = nat\n\
        nat_router = 10.0.0.254 eth1:1\n\
        virtual \"web site\" {\n active = 1\n address = 192.0.2.100 eth0:1\n port = 80\n\
        send = \"GET / HTTP/1.0\\r\\n\\r\\n\"\n expect = \"HTTP\"\n\
        server a {\n address = 10.0.0.1\n active = 1\n weight = 2\n }\n}\n\
        failover ftp {\n active = 0\n address = 192.0.2.101 eth0:2\n port = 21\n}\n";

    fn config() -> Config {
        crate::parse(CF).expect("valid").config
    }

    #[test]
    fn a_document_reads_back_to_its_model() {
        let config = config();
        let document = Document::of(&config);
        assert_eq!(document.blocks.len(), 2);
        assert_eq!(document.blocks[0].name, "web site");
        assert_eq!(document.blocks[1].kind, BlockKind::Failover);
        assert_eq!(
            value_of(&document.globals, "nat_router"),
            Some("10.0.0.254 eth1:1")
        );
        assert_eq!(
            value_of(&document.blocks[0].entries, "send"),
            Some("\"GET / HTTP/1.0\\r\\n\\r\\n\"")
        );
        assert_eq!(
            value_of(&document.blocks[0].servers[0].entries, "weight"),
            Some("2")
        );
        assert_eq!(document.check(), Ok(config));
    }

    #[test]
    fn errors_land_on_their_block_and_key() {
        let mut document = Document::of(&config());
        set(
            &mut document.blocks[0].servers[0].entries,
            "weight",
            Some("heavy".into()),
        );
        let problems = document.check().expect_err("a bad weight");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].place, Some(Place::Server(0, 0)));
        assert_eq!(problems[0].key.as_deref(), Some("weight"));

        // A validation error (not a syntax one) lands on its key too.
        let mut document = Document::of(&config());
        set(&mut document.blocks[0].entries, "timeout", Some("0".into()));
        let problems = document.check().expect_err("validation errors");
        assert!(
            problems
                .iter()
                .any(|p| p.place == Some(Place::Block(0)) && p.key.as_deref() == Some("timeout")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_brace_value_is_a_value() {
        let mut config = config();
        config.virtual_services[0].expect = Some(crate::Text {
            value: "{".into(),
            quote: crate::Quote::None,
        });
        let document = Document::of(&config);
        assert_eq!(document.blocks.len(), 2);
        assert_eq!(value_of(&document.blocks[0].entries, "expect"), Some("{"));
        assert_eq!(document.blocks[0].servers.len(), 1);
        assert_eq!(document.check(), Ok(config));
    }

    #[test]
    fn set_replaces_in_place_adds_and_removes() {
        let mut entries = vec![Entry::new("a", "1"), Entry::new("b", "2")];
        set(&mut entries, "a", Some("3".into()));
        set(&mut entries, "c", Some("4".into()));
        set(&mut entries, "b", None);
        assert_eq!(entries, vec![Entry::new("a", "3"), Entry::new("c", "4")]);
    }
}
