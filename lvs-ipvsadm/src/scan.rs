//! The command line as popt reads it for ipvsadm: short options bundled
//! (`-Ln`), an argument glued on (`-p300`, `--persistent=300`) or in the next
//! word, an optional argument taken only when the next word does not start
//! with `-`, words that are not options set aside as arguments, `--` ending
//! the options.

/// Whether an option takes an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Takes {
    Nothing,
    Value,
    OptionalValue,
}

/// One entry of the option table.
#[derive(Clone, Copy, Debug)]
pub struct OptionSpec {
    pub long: &'static str,
    pub short: Option<char>,
    pub takes: Takes,
    pub tag: Tag,
}

/// What an option means, whatever it was spelled as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tag {
    AddService,
    EditService,
    DeleteService,
    Clear,
    List,
    Zero,
    AddServer,
    EditServer,
    DeleteServer,
    Set,
    Help,
    Version,
    Restore,
    Save,
    StartDaemon,
    StopDaemon,
    TcpService,
    UdpService,
    SctpService,
    FwmarkService,
    Scheduler,
    Persistent,
    Netmask,
    RealServer,
    Masquerading,
    Ipip,
    Gatewaying,
    Weight,
    UThreshold,
    LThreshold,
    Numeric,
    Connection,
    McastInterface,
    SyncId,
    Timeout,
    Daemon,
    Stats,
    Rate,
    Thresholds,
    PersistentConn,
    NoSort,
    Sort,
    Exact,
    Ipv6,
    OnePacket,
    PersistenceEngine,
    SchedFlags,
    McastGroup,
    McastPort,
    McastTtl,
    SyncMaxlen,
    TunInfo,
    TunType,
    TunPort,
    TunNoCsum,
    TunCsum,
    TunRemCsum,
    /// lvs-rs's own: `-L --json`.
    Json,
}

const fn spec(long: &'static str, short: Option<char>, takes: Takes, tag: Tag) -> OptionSpec {
    OptionSpec {
        long,
        short,
        takes,
        tag,
    }
}

use Takes::{Nothing, OptionalValue, Value};

/// ipvsadm 1.31's options, in its table's order, and `--json`.
pub const OPTIONS: &[OptionSpec] = &[
    spec("add-service", Some('A'), Nothing, Tag::AddService),
    spec("edit-service", Some('E'), Nothing, Tag::EditService),
    spec("delete-service", Some('D'), Nothing, Tag::DeleteService),
    spec("clear", Some('C'), Nothing, Tag::Clear),
    spec("list", Some('L'), Nothing, Tag::List),
    spec("list", Some('l'), Nothing, Tag::List),
    spec("zero", Some('Z'), Nothing, Tag::Zero),
    spec("add-server", Some('a'), Nothing, Tag::AddServer),
    spec("edit-server", Some('e'), Nothing, Tag::EditServer),
    spec("delete-server", Some('d'), Nothing, Tag::DeleteServer),
    spec("set", None, Nothing, Tag::Set),
    spec("help", Some('h'), Nothing, Tag::Help),
    spec("version", Some('v'), Nothing, Tag::Version),
    spec("restore", Some('R'), Nothing, Tag::Restore),
    spec("save", Some('S'), Nothing, Tag::Save),
    spec("start-daemon", None, Value, Tag::StartDaemon),
    spec("stop-daemon", None, Value, Tag::StopDaemon),
    spec("tcp-service", Some('t'), Value, Tag::TcpService),
    spec("udp-service", Some('u'), Value, Tag::UdpService),
    spec("sctp-service", None, Value, Tag::SctpService),
    spec("fwmark-service", Some('f'), Value, Tag::FwmarkService),
    spec("scheduler", Some('s'), Value, Tag::Scheduler),
    spec("persistent", Some('p'), OptionalValue, Tag::Persistent),
    spec("netmask", Some('M'), Value, Tag::Netmask),
    spec("real-server", Some('r'), Value, Tag::RealServer),
    spec("masquerading", Some('m'), Nothing, Tag::Masquerading),
    spec("ipip", Some('i'), Nothing, Tag::Ipip),
    spec("gatewaying", Some('g'), Nothing, Tag::Gatewaying),
    spec("weight", Some('w'), Value, Tag::Weight),
    spec("u-threshold", Some('x'), Value, Tag::UThreshold),
    spec("l-threshold", Some('y'), Value, Tag::LThreshold),
    spec("numeric", Some('n'), Nothing, Tag::Numeric),
    spec("connection", Some('c'), Nothing, Tag::Connection),
    spec("mcast-interface", None, Value, Tag::McastInterface),
    spec("syncid", None, Value, Tag::SyncId),
    spec("timeout", None, Nothing, Tag::Timeout),
    spec("daemon", None, Nothing, Tag::Daemon),
    spec("stats", None, Nothing, Tag::Stats),
    spec("rate", None, Nothing, Tag::Rate),
    spec("thresholds", None, Nothing, Tag::Thresholds),
    spec("persistent-conn", None, Nothing, Tag::PersistentConn),
    spec("nosort", None, Nothing, Tag::NoSort),
    spec("sort", None, Nothing, Tag::Sort),
    spec("exact", Some('X'), Nothing, Tag::Exact),
    spec("ipv6", Some('6'), Nothing, Tag::Ipv6),
    spec("ops", Some('o'), Nothing, Tag::OnePacket),
    spec("pe", None, Value, Tag::PersistenceEngine),
    spec("sched-flags", Some('b'), Value, Tag::SchedFlags),
    spec("mcast-group", None, Value, Tag::McastGroup),
    spec("mcast-port", None, Value, Tag::McastPort),
    spec("mcast-ttl", None, Value, Tag::McastTtl),
    spec("sync-maxlen", None, Value, Tag::SyncMaxlen),
    spec("tun-info", None, Nothing, Tag::TunInfo),
    spec("tun-type", None, Value, Tag::TunType),
    spec("tun-port", None, Value, Tag::TunPort),
    spec("tun-nocsum", None, Nothing, Tag::TunNoCsum),
    spec("tun-csum", None, Nothing, Tag::TunCsum),
    spec("tun-remcsum", None, Nothing, Tag::TunRemCsum),
    spec("json", None, Nothing, Tag::Json),
];

/// What popt reports for a word it cannot read, with its wording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanError {
    /// `POPT_ERROR_NOARG`.
    MissingArgument,
    /// `POPT_ERROR_BADOPT`.
    UnknownOption,
    /// `POPT_ERROR_UNWANTEDARG`: `--flag=value` for an option without a value.
    UnwantedArgument,
}

impl ScanError {
    pub fn message(self) -> &'static str {
        match self {
            ScanError::MissingArgument => "missing argument",
            ScanError::UnknownOption => "unknown option",
            ScanError::UnwantedArgument => "option does not take an argument",
        }
    }
}

/// One option read off the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found<'a> {
    pub tag: Tag,
    pub value: Option<&'a str>,
}

/// Reads options one at a time, as `poptGetNextOpt` does.
pub struct Scanner<'a> {
    words: &'a [&'a str],
    next: usize,
    /// The rest of a bundle of short options (`-Ln` after `L`).
    bundle: Option<(usize, &'a str)>,
    /// Only arguments from here on (after `--`).
    rest_are_arguments: bool,
    arguments: Vec<&'a str>,
}

impl<'a> Scanner<'a> {
    /// `words` are the arguments after the program name.
    pub fn new(words: &'a [&'a str]) -> Scanner<'a> {
        Scanner {
            words,
            next: 0,
            bundle: None,
            rest_are_arguments: false,
            arguments: Vec::new(),
        }
    }

    /// The word popt names in its messages: the last one it has read.
    pub fn bad_option(&self) -> &'a str {
        match self.next.checked_sub(1).and_then(|i| self.words.get(i)) {
            Some(word) => word,
            None => "",
        }
    }

    /// The arguments set aside so far, in order.
    pub fn take_arguments(&mut self) -> std::vec::IntoIter<&'a str> {
        std::mem::take(&mut self.arguments).into_iter()
    }

    /// The next option; `Ok(None)` at the end of the words.
    pub fn next_option(&mut self) -> Result<Option<Found<'a>>, ScanError> {
        if let Some((index, rest)) = self.bundle.take() {
            return self.short(index, rest).map(Some);
        }
        loop {
            let Some(&word) = self.words.get(self.next) else {
                return Ok(None);
            };
            self.next += 1;
            if self.rest_are_arguments || word == "-" || !word.starts_with('-') {
                self.arguments.push(word);
                continue;
            }
            if word == "--" {
                self.rest_are_arguments = true;
                continue;
            }
            if let Some(long) = word.strip_prefix("--") {
                return self.long(long).map(Some);
            }
            return self.short(self.next - 1, &word[1..]).map(Some);
        }
    }

    fn long(&mut self, text: &'a str) -> Result<Found<'a>, ScanError> {
        let (name, glued) = match text.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (text, None),
        };
        let spec = OPTIONS
            .iter()
            .find(|o| o.long == name)
            .ok_or(ScanError::UnknownOption)?;
        if spec.takes == Takes::Nothing && glued.is_some() {
            return Err(ScanError::UnwantedArgument);
        }
        self.value_for(spec, glued)
    }

    fn short(&mut self, index: usize, text: &'a str) -> Result<Found<'a>, ScanError> {
        let mut chars = text.chars();
        let Some(letter) = chars.next() else {
            return Err(ScanError::UnknownOption);
        };
        let rest = chars.as_str();
        let spec = OPTIONS
            .iter()
            .find(|o| o.short == Some(letter))
            .ok_or(ScanError::UnknownOption)?;
        if spec.takes == Takes::Nothing {
            if !rest.is_empty() {
                self.bundle = Some((index, rest));
            }
            return Ok(Found {
                tag: spec.tag,
                value: None,
            });
        }
        // popt drops an `=` between a short option and its glued value (`-s=rr`).
        let rest = rest.strip_prefix('=').unwrap_or(rest);
        self.value_for(spec, (!rest.is_empty()).then_some(rest))
    }

    fn value_for(&mut self, spec: &OptionSpec, glued: Option<&'a str>) -> Result<Found<'a>, ScanError> {
        let value = match (spec.takes, glued) {
            (Takes::Nothing, _) => None,
            (_, Some(value)) => Some(value),
            (Takes::Value, None) => match self.words.get(self.next) {
                Some(&word) => {
                    self.next += 1;
                    Some(word)
                }
                None => return Err(ScanError::MissingArgument),
            },
            (Takes::OptionalValue, None) => match self.words.get(self.next) {
                Some(&word) if !word.starts_with('-') => {
                    self.next += 1;
                    Some(word)
                }
                _ => None,
            },
        };
        Ok(Found { tag: spec.tag, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan<'a>(words: &'a [&'a str]) -> (Vec<Result<Found<'a>, ScanError>>, Vec<&'a str>) {
        let mut scanner = Scanner::new(words);
        let mut found = Vec::new();
        loop {
            match scanner.next_option() {
                Ok(Some(f)) => found.push(Ok(f)),
                Ok(None) => break,
                Err(e) => {
                    found.push(Err(e));
                    break;
                }
            }
        }
        (found, scanner.take_arguments().collect())
    }

    fn opt(tag: Tag, value: Option<&str>) -> Result<Found<'_>, ScanError> {
        Ok(Found { tag, value })
    }

    #[test]
    fn bundles_glued_values_and_arguments() {
        let (found, args) = scan(&["-Ln", "-t", "1.2.3.4:80", "-srr", "--weight=3", "x", "--", "-A"]);
        assert_eq!(
            found,
            vec![
                opt(Tag::List, None),
                opt(Tag::Numeric, None),
                opt(Tag::TcpService, Some("1.2.3.4:80")),
                opt(Tag::Scheduler, Some("rr")),
                opt(Tag::Weight, Some("3")),
            ]
        );
        assert_eq!(args, vec!["x", "-A"]);
    }

    #[test]
    fn an_optional_value_is_not_an_option() {
        assert_eq!(
            scan(&["-p", "-t", "a"]).0,
            vec![opt(Tag::Persistent, None), opt(Tag::TcpService, Some("a"))]
        );
        assert_eq!(scan(&["-p", "300"]).0, vec![opt(Tag::Persistent, Some("300"))]);
        assert_eq!(scan(&["-p300"]).0, vec![opt(Tag::Persistent, Some("300"))]);
        assert_eq!(scan(&["-s=rr"]).0, vec![opt(Tag::Scheduler, Some("rr"))]);
    }

    #[test]
    fn errors() {
        assert_eq!(scan(&["-q"]).0, vec![Err(ScanError::UnknownOption)]);
        assert_eq!(scan(&["-s"]).0, vec![Err(ScanError::MissingArgument)]);
        assert_eq!(scan(&["--list=x"]).0, vec![Err(ScanError::UnwantedArgument)]);
        assert_eq!(scan(&["--lis"]).0, vec![Err(ScanError::UnknownOption)]);
    }
}
