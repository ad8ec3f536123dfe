//! `ipvsadm-rs`: ipvsadm 1.31's command line over `lvs-ipvs`.
//!
//! [`run`] reads options as popt reads them for ipvsadm (the `scan`
//! module), gives them ipvsadm's meaning and checks (`command`), and carries
//! them out with its messages, listings and exit statuses (`list`,
//! `names`). Beyond
//! ipvsadm: `-L --json`, a `hint:` line on standard error after a kernel
//! error whose ipvsadm wording is cryptic, `-h` and `-v` without IPVS, and
//! `-R` sent to the kernel as pipelined batches.
//!
//! # Non-features
//!
//! - Not a library of table operations: that is `lvs-ipvs`; this crate is
//!   the command line and its output, byte for byte ipvsadm's.
//! - No `--mcast-*` options beyond ipvsadm 1.31's, and no persistence of
//!   rules of its own (`-S` writes them, `-R` reads them back).

mod command;
mod list;
mod names;
mod scan;

use std::io::{BufRead, Write};

use lvs_ipvs::{ApplyOptions, DaemonState, Ipvs, IpvsError, Operation, Service, ServiceKey};

use command::{Cmd, Entry, Opt, Stop};

/// The version line, in ipvsadm's place and shape.
pub const VERSION: &str = concat!(
    "ipvsadm-rs ",
    env!("CARGO_PKG_VERSION"),
    " (lvs-rs; for ipvsadm v1.31 2019/12/24, IPVS v1.2.1)"
);

/// Standard input, output and error of one run.
pub struct Io<'a> {
    /// Standard input (`-R` reads rules from it).
    pub input: &'a mut dyn BufRead,
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Standard error.
    pub err: &'a mut dyn Write,
}

/// How a command ended: with a result for the caller (a restore goes on to
/// its next line), or by ending the program at once with a status.
enum Flow {
    Result(i32),
    Exit(i32),
}

/// Runs one ipvsadm command line; returns the exit status.
pub fn run(program: &str, words: &[String], io: &mut Io<'_>) -> i32 {
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let parsed = if words.is_empty() {
        None
    } else {
        Some(command::parse(&words))
    };
    // ipvsadm needs IPVS even for -h and -v; lvs-rs answers them at once.
    if let Some(Err(stop @ (Stop::Usage | Stop::Version))) = parsed {
        return status(stop_flow(program, stop, io));
    }
    let mut ipvs = match Ipvs::connect() {
        Ok(ipvs) => ipvs,
        Err(error) => {
            let _ = writeln!(
                io.err,
                "Can't initialize ipvs: {}\nAre you sure that IP Virtual Server is built in the kernel or as module?",
                error.ipvsadm_message()
            );
            hint(io, &error);
            return 2;
        }
    };
    let flow = match parsed {
        // Without arguments ipvsadm lists the table, with names.
        None => list_all(&mut ipvs, &command::Format::default(), io),
        Some(Err(stop)) => stop_flow(program, stop, io),
        Some(Ok(entry)) if entry.cmd == Cmd::Restore => restore(program, &mut ipvs, io),
        Some(Ok(entry)) => execute(&mut ipvs, &entry, io),
    };
    status(flow)
}

fn status(flow: Flow) -> i32 {
    match flow {
        // `return -1` from main: 255.
        Flow::Result(result) | Flow::Exit(result) => result & 0xff,
    }
}

fn stop_flow(program: &str, stop: Stop, io: &mut Io<'_>) -> Flow {
    match stop {
        Stop::Fail(status, message) => {
            let _ = writeln!(io.err, "{message}");
            Flow::Exit(status)
        }
        Stop::TryHelp => {
            let _ = writeln!(
                io.err,
                "Try `{program} -h' or '{program} --help' for more information."
            );
            Flow::Exit(255)
        }
        Stop::Usage => {
            let _ = write!(io.out, "{}", usage(program));
            Flow::Exit(0)
        }
        Stop::Version => {
            let _ = writeln!(io.out, "{VERSION}");
            Flow::Exit(0)
        }
        Stop::Scan(word, error) => {
            let _ = writeln!(io.err, "{word}: {}", error.message());
            Flow::Result(-1)
        }
    }
}

/// The kernel operation of a command that changes the table, if it is one.
fn operation(entry: &Entry) -> Option<Operation> {
    let key = entry.svc.key();
    let service = || entry.svc.service();
    Some(match entry.cmd {
        Cmd::Add => Operation::AddService(service()?),
        Cmd::Edit => Operation::EditService(service()?),
        Cmd::Delete => Operation::DeleteService(key?),
        Cmd::Zero => Operation::Zero(key),
        Cmd::Flush => Operation::Flush,
        Cmd::AddDest => Operation::AddDest(key?, entry.dest.destination()?),
        Cmd::EditDest => Operation::EditDest(key?, entry.dest.destination()?),
        Cmd::DeleteDest => Operation::DeleteDest(key?, entry.dest.addr()?, entry.dest.port()),
        Cmd::SetTimeouts => Operation::SetTimeouts(entry.timeouts),
        Cmd::StartDaemon => Operation::StartDaemon(entry.daemon.clone()),
        Cmd::StopDaemon => Operation::StopDaemon(entry.daemon.state),
        Cmd::List | Cmd::Save | Cmd::Restore => return None,
    })
}

fn execute(ipvs: &mut Ipvs, entry: &Entry, io: &mut Io<'_>) -> Flow {
    match entry.cmd {
        Cmd::List => list(ipvs, entry, io),
        Cmd::Save => {
            let mut text = String::new();
            match ipvs.listing() {
                Ok(table) => list::save(&mut text, &table, &entry.format),
                Err(error) => return listing_failed(io, &error),
            }
            let _ = io.out.write_all(text.as_bytes());
            Flow::Result(0)
        }
        // ipvsadm refuses a restore from within a restore.
        Cmd::Restore => Flow::Exit(255),
        _ => match operation(entry) {
            Some(op) => {
                let results = ipvs.apply(std::slice::from_ref(&op), ApplyOptions::default());
                report(io, results.into_iter().next().unwrap_or(Ok(())))
            }
            None => Flow::Result(0),
        },
    }
}

/// A kernel result as ipvsadm reports it: its message and -1 on failure.
fn report(io: &mut Io<'_>, result: Result<(), IpvsError>) -> Flow {
    match result {
        Ok(()) => Flow::Result(0),
        Err(error) => {
            print_error(io, &error);
            Flow::Result(-1)
        }
    }
}

/// A listing that fails ends ipvsadm with status 1.
fn listing_failed(io: &mut Io<'_>, error: &IpvsError) -> Flow {
    print_error(io, error);
    Flow::Exit(1)
}

/// ipvsadm's message for a kernel error, then our hint, if there is one.
fn print_error(io: &mut Io<'_>, error: &IpvsError) {
    let _ = writeln!(io.err, "{}", error.ipvsadm_message());
    hint(io, error);
}

/// The line lvs-rs adds after ipvsadm's message where that one is cryptic.
fn hint(io: &mut Io<'_>, error: &IpvsError) {
    if let Some(explanation) = error.explanation() {
        let _ = writeln!(io.err, "  hint: {explanation}");
    }
}

fn list_all(ipvs: &mut Ipvs, format: &command::Format, io: &mut Io<'_>) -> Flow {
    let info = match ipvs.info() {
        Ok(info) => info,
        Err(error) => return listing_failed(io, &error),
    };
    let table = match ipvs.listing() {
        Ok(table) => table,
        Err(error) => return listing_failed(io, &error),
    };
    let text = if format.json {
        json(Some(&info), &table)
    } else {
        let mut text = String::new();
        list::list_all(&mut text, &info, &table, format);
        text
    };
    let _ = io.out.write_all(text.as_bytes());
    Flow::Result(0)
}

fn list(ipvs: &mut Ipvs, entry: &Entry, io: &mut Io<'_>) -> Flow {
    if entry.has(Opt::Connection) {
        return list_connections(entry, io);
    }
    if entry.has(Opt::Service) {
        let Some(key) = entry.svc.key() else {
            return Flow::Exit(1);
        };
        let service = match ipvs.service(&key) {
            Ok(service) => service,
            Err(error) => return listing_failed(io, &error),
        };
        let destinations = match ipvs.destinations(&key) {
            Ok(destinations) => destinations,
            Err(error) => return listing_failed(io, &error),
        };
        let text = if entry.format.json {
            json(None, &[(service, destinations)])
        } else {
            let mut text = String::new();
            list::list_one(&mut text, &service, &destinations, &entry.format);
            text
        };
        let _ = io.out.write_all(text.as_bytes());
        return Flow::Result(0);
    }
    if entry.has(Opt::Timeout) {
        return match ipvs.timeouts() {
            Ok(t) => {
                let _ = writeln!(
                    io.out,
                    "Timeout (tcp tcpfin udp): {} {} {}",
                    t.tcp, t.tcp_fin, t.udp
                );
                Flow::Result(0)
            }
            Err(_) => Flow::Exit(1),
        };
    }
    if entry.has(Opt::Daemon) {
        let Ok(mut daemons) = ipvs.daemons() else {
            return Flow::Exit(1);
        };
        daemons.sort_by_key(|d| d.state.raw());
        for d in daemons {
            let role = match d.state {
                DaemonState::Master => "master",
                DaemonState::Backup => "backup",
            };
            let mut line = format!(
                "{role} sync daemon (mcast={}, syncid={}",
                d.mcast_interface, d.sync_id
            );
            if let Some(maxlen) = d.sync_maxlen.filter(|&m| m != 0) {
                line.push_str(&format!(", maxlen={maxlen}"));
            }
            if let Some(group) = d.mcast_group {
                line.push_str(&format!(", group={group}"));
            }
            if let Some(port) = d.mcast_port.filter(|&p| p != 0) {
                line.push_str(&format!(", port={port}"));
            }
            if let Some(ttl) = d.mcast_ttl.filter(|&t| t != 0) {
                line.push_str(&format!(", ttl={ttl}"));
            }
            let _ = writeln!(io.out, "{line})");
        }
        return Flow::Result(0);
    }
    list_all(ipvs, &entry.format, io)
}

const CONNECTIONS: &str = "/proc/net/ip_vs_conn";

/// `-L -c`: the kernel's connection entries, read from `/proc` as ipvsadm does.
fn list_connections(entry: &Entry, io: &mut Io<'_>) -> Flow {
    let Ok(text) = std::fs::read_to_string(CONNECTIONS) else {
        let _ = writeln!(io.err, "cannot open file {CONNECTIONS}");
        return Flow::Exit(1);
    };
    let mut lines = text.lines();
    if lines.next().is_none() {
        let _ = writeln!(io.err, "unexpected input from {CONNECTIONS}");
        return Flow::Exit(1);
    }
    let persistent = entry.format.persistent_conn;
    let mut out = String::from("IPVS connection entries\n");
    if persistent {
        out.push_str(&format!(
            "pro expire {:<11} {:<18} {:<18} {:<18} {:<16} {}\n",
            "state", "source", "virtual", "destination", "pe name", "pe_data"
        ));
    } else {
        out.push_str(&format!(
            "pro expire {:<11} {:<18} {:<18} {}\n",
            "state", "source", "virtual", "destination"
        ));
    }
    for line in lines {
        match connection_line(line, entry.format.numeric, persistent) {
            Some(row) => out.push_str(&row),
            None => {
                let _ = io.out.write_all(out.as_bytes());
                return Flow::Exit(1);
            }
        }
    }
    let _ = io.out.write_all(out.as_bytes());
    Flow::Result(0)
}

/// One row of `-L -c` from a line of `/proc/net/ip_vs_conn`.
fn connection_line(line: &str, numeric: bool, persistent: bool) -> Option<String> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.is_empty() {
        return None;
    }
    let field = |i: usize| fields.get(i).copied().unwrap_or("");
    let hex = |i: usize| u16::from_str_radix(field(i), 16).unwrap_or(0);
    let protocol = match field(0) {
        "TCP" => 6,
        "UDP" => 17,
        "SCTP" => 132,
        _ => 0,
    };
    let address = |text: &str| -> IpAddr {
        if let Ok(v6) = text.parse::<Ipv6Addr>() {
            IpAddr::V6(v6)
        } else if let Ok(v4) = text.parse::<Ipv4Addr>() {
            IpAddr::V4(v4)
        } else {
            IpAddr::V4(Ipv4Addr::from(u32::from_str_radix(text, 16).unwrap_or(0)))
        }
    };
    let source = names::addr_port(address(field(1)), hex(2), protocol, numeric);
    let virtual_ = names::addr_port(address(field(3)), hex(4), protocol, numeric);
    let destination = names::addr_port(address(field(5)), hex(6), protocol, numeric);
    let expires: u32 = field(8).parse().unwrap_or(0);
    let expire = format!("{:02}:{:02}", expires / 60, expires % 60);
    let state = field(7);
    let proto = field(0);
    Some(if persistent && fields.len() >= 11 {
        format!(
            "{proto:<3} {expire:<6} {state:<11} {source:<18} {virtual_:<18} {destination:<16} {:<18} {}\n",
            field(9),
            field(10)
        )
    } else {
        format!("{proto:<3} {expire:<6} {state:<11} {source:<18} {virtual_:<18} {destination}\n")
    })
}

/// `-L --json`: the table for programs.
fn json(info: Option<&lvs_ipvs::Info>, table: &[(Service, Vec<lvs_ipvs::Destination>)]) -> String {
    use serde_json::{json, Value};
    let stats = |s: Option<lvs_ipvs::Stats>| -> Value {
        s.map_or(Value::Null, |s| {
            json!({
                "conns": s.conns, "in_pkts": s.in_pkts, "out_pkts": s.out_pkts,
                "in_bytes": s.in_bytes, "out_bytes": s.out_bytes,
                "cps": s.cps, "in_pps": s.in_pps, "out_pps": s.out_pps,
                "in_bps": s.in_bps, "out_bps": s.out_bps,
            })
        })
    };
    let services: Vec<Value> = table
        .iter()
        .map(|(service, destinations)| {
            let flags = service.flags;
            let flag_names: Vec<&str> = [
                (lvs_ipvs::ServiceFlags::PERSISTENT, "persistent"),
                (lvs_ipvs::ServiceFlags::ONE_PACKET, "ops"),
                (lvs_ipvs::ServiceFlags::SCHED1, "sched-1"),
                (lvs_ipvs::ServiceFlags::SCHED2, "sched-2"),
                (lvs_ipvs::ServiceFlags::SCHED3, "sched-3"),
            ]
            .iter()
            .filter(|(bit, _)| flags.contains(*bit))
            .map(|(_, name)| *name)
            .collect();
            let (protocol, address, port, fwmark) = match service.key {
                ServiceKey::Addr { protocol, addr, port } => {
                    (Value::from(protocol.to_string()), Value::from(addr.to_string()), Value::from(port), Value::Null)
                }
                ServiceKey::Fwmark { mark, .. } => (Value::Null, Value::Null, Value::Null, Value::from(mark)),
            };
            let netmask = match service.netmask {
                lvs_ipvs::Netmask::V4(mask) => Value::from(mask.to_string()),
                lvs_ipvs::Netmask::V6(prefix) => Value::from(prefix),
            };
            let dests: Vec<Value> = destinations
                .iter()
                .map(|d| {
                    json!({
                        "address": d.addr.to_string(),
                        "port": d.port,
                        "forward": format!("{:?}", d.forward).to_lowercase(),
                        "weight": d.weight,
                        "upper_threshold": d.upper_threshold,
                        "lower_threshold": d.lower_threshold,
                        "active_conns": d.active_conns,
                        "inactive_conns": d.inactive_conns,
                        "persistent_conns": d.persistent_conns,
                        "tunnel": d.tunnel.filter(|_| d.forward == lvs_ipvs::ForwardMethod::Tunnel).map(|t| json!({
                            "type": format!("{:?}", t.kind).to_lowercase(), "port": t.port, "flags": t.flags,
                        })),
                        "stats": stats(d.stats),
                    })
                })
                .collect();
            json!({
                "family": if service.key.family() == lvs_ipvs::Family::Inet6 { "inet6" } else { "inet" },
                "protocol": protocol,
                "address": address,
                "port": port,
                "fwmark": fwmark,
                "scheduler": service.scheduler,
                "flags": flag_names,
                "timeout": service.timeout,
                "netmask": netmask,
                "persistence_engine": service.persistence_engine,
                "stats": stats(service.stats),
                "destinations": dests,
            })
        })
        .collect();
    let mut document = serde_json::Map::new();
    if let Some(info) = info {
        document.insert("version".into(), Value::from(info.version_string()));
        document.insert("conn_tab_size".into(), Value::from(info.conn_tab_size));
    }
    document.insert("services".into(), Value::from(services));
    let mut text = serde_json::to_string_pretty(&Value::Object(document)).unwrap_or_default();
    text.push('\n');
    text
}

/// `-R`: command lines from standard input, as ipvsadm's restore reads them
/// (words split on blanks, a word `ipvsadm` dropped, one command a line).
/// Changes to the table go to the kernel in pipelined batches; a listing, a
/// bad line or the end of the input sends what is pending first, so output
/// and messages come in ipvsadm's order. A kernel error is reported and the
/// restore goes on; a bad line ends it. The status is the last line's.
fn restore(program: &str, ipvs: &mut Ipvs, io: &mut Io<'_>) -> Flow {
    let mut pending: Vec<Operation> = Vec::new();
    let mut result = 0;
    let mut text = String::new();
    let _ = io.input.read_to_string(&mut text);
    let mut words: Vec<&str> = Vec::with_capacity(16);
    for line in restore_lines(&text) {
        words.clear();
        words.extend(restore_words(line));
        if words.is_empty() {
            continue;
        }
        match command::parse(&words) {
            Ok(entry) => match operation(&entry) {
                Some(op) => {
                    pending.push(op);
                    // A restore's status is that of its last line.
                    result = 0;
                }
                None => {
                    send(ipvs, &mut pending, io);
                    if entry.cmd == Cmd::Restore {
                        let _ = writeln!(
                            io.err,
                            "Try `{program} -h' or '{program} --help' for more information."
                        );
                        return Flow::Exit(255);
                    }
                    match execute(ipvs, &entry, io) {
                        Flow::Result(r) => result = r,
                        exit @ Flow::Exit(_) => return exit,
                    }
                }
            },
            Err(stop) => {
                send(ipvs, &mut pending, io);
                match stop_flow(program, stop, io) {
                    Flow::Result(r) => result = r,
                    exit @ Flow::Exit(_) => return exit,
                }
            }
        }
    }
    if let Some(last) = send(ipvs, &mut pending, io) {
        result = last;
    }
    Flow::Result(result)
}

/// Sends the pending operations as one pipelined batch and reports each
/// failure in order; returns the last operation's result, if any was sent.
fn send(ipvs: &mut Ipvs, pending: &mut Vec<Operation>, io: &mut Io<'_>) -> Option<i32> {
    if pending.is_empty() {
        return None;
    }
    let results = ipvs.apply(pending, ApplyOptions::default());
    pending.clear();
    let mut last = 0;
    for result in results {
        last = match report(io, result) {
            Flow::Result(r) | Flow::Exit(r) => r,
        };
    }
    Some(last)
}

/// The lines of a restore input as ipvsadm's `config_stream_read` splits
/// them; a last line without a newline counts only when it has words.
fn restore_lines(text: &str) -> impl Iterator<Item = &str> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.split('\n')
        .filter(|line| !line.is_empty() || !text.is_empty())
}

/// A restore line's words: between blanks (space, tab, CR), the word
/// `ipvsadm` dropped.
fn restore_words(line: &str) -> impl Iterator<Item = &str> {
    line.split([' ', '\t', '\r'])
        .filter(|w| !w.is_empty() && *w != "ipvsadm")
}

/// ipvsadm's usage text, after our version line.
pub fn usage(program: &str) -> String {
    let p = program;
    format!(
        "{VERSION}\n\
Usage:\n\
\x20 {p} -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe persistence_engine] [-b sched-flags]\n\
\x20 {p} -D virtual-service\n\
\x20 {p} -C\n\
\x20 {p} -R\n\
\x20 {p} -S [-n]\n\
\x20 {p} -a|e virtual-service -r server-address [options]\n\
\x20 {p} -d virtual-service -r server-address\n\
\x20 {p} -L|l [virtual-service] [options]\n\
\x20 {p} -Z [virtual-service]\n\
\x20 {p} --set tcp tcpfin udp\n\
\x20 {p} --start-daemon {{master|backup}} [daemon-options]\n\
\x20 {p} --stop-daemon {{master|backup}}\n\
\x20 {p} -h\n\
\n\
Commands:\n\
Either long or short options are allowed.\n\
\x20 --add-service     -A        add virtual service with options\n\
\x20 --edit-service    -E        edit virtual service with options\n\
\x20 --delete-service  -D        delete virtual service\n\
\x20 --clear           -C        clear the whole table\n\
\x20 --restore         -R        restore rules from stdin\n\
\x20 --save            -S        save rules to stdout\n\
\x20 --add-server      -a        add real server with options\n\
\x20 --edit-server     -e        edit real server with options\n\
\x20 --delete-server   -d        delete real server\n\
\x20 --list            -L|-l     list the table\n\
\x20 --zero            -Z        zero counters in a service or all services\n\
\x20 --set tcp tcpfin udp        set connection timeout values\n\
\x20 --start-daemon              start connection sync daemon\n\
\x20 --stop-daemon               stop connection sync daemon\n\
\x20 --help            -h        display this help message\n\
\n\
virtual-service:\n\
\x20 --tcp-service|-t  service-address   service-address is host[:port]\n\
\x20 --udp-service|-u  service-address   service-address is host[:port]\n\
\x20 --sctp-service    service-address   service-address is host[:port]\n\
\x20 --fwmark-service|-f fwmark          fwmark is an integer greater than zero\n\
\n\
Options:\n\
\x20 --ipv6         -6                   fwmark entry uses IPv6\n\
\x20 --scheduler    -s scheduler         one of rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh,\n\
\x20                                     the default scheduler is wlc.\n\
\x20 --pe            engine              alternate persistence engine may be sip,\n\
\x20                                     not set by default.\n\
\x20 --persistent   -p [timeout]         persistent service\n\
\x20 --netmask      -M netmask           persistent granularity mask\n\
\x20 --real-server  -r server-address    server-address is host (and port)\n\
\x20 --gatewaying   -g                   gatewaying (direct routing) (default)\n\
\x20 --ipip         -i                   ipip encapsulation (tunneling)\n\
\x20 --masquerading -m                   masquerading (NAT)\n\
\x20 --tun-type      type                one of ipip|gue|gre,\n\
\x20                                     the default tunnel type is ipip.\n\
\x20 --tun-port      port                tunnel destination port\n\
\x20 --tun-nocsum                        tunnel encapsulation without checksum\n\
\x20 --tun-csum                          tunnel encapsulation with checksum\n\
\x20 --tun-remcsum                       tunnel encapsulation with remote checksum\n\
\x20 --weight       -w weight            capacity of real server\n\
\x20 --u-threshold  -x uthreshold        upper threshold of connections\n\
\x20 --l-threshold  -y lthreshold        lower threshold of connections\n\
\x20 --connection   -c                   output of current IPVS connections\n\
\x20 --timeout                           output of timeout (tcp tcpfin udp)\n\
\x20 --daemon                            output of daemon information\n\
\x20 --stats                             output of statistics information\n\
\x20 --rate                              output of rate information\n\
\x20 --exact                             expand numbers (display exact values)\n\
\x20 --thresholds                        output of thresholds information\n\
\x20 --persistent-conn                   output of persistent connection info\n\
\x20 --tun-info                          output of tunnel information\n\
\x20 --nosort                            disable sorting output of service/server entries\n\
\x20 --sort                              does nothing, for backwards compatibility\n\
\x20 --ops          -o                   one-packet scheduling\n\
\x20 --numeric      -n                   numeric output of addresses and ports\n\
\x20 --sched-flags  -b flags             scheduler flags (comma-separated)\n\
Daemon Options:\n\
\x20 --syncid sid                        syncid for connection sync (default=255)\n\
\x20 --sync-maxlen length                Max sync message length (default=1472)\n\
\x20 --mcast-interface interface         multicast interface for connection sync\n\
\x20 --mcast-group address               IPv4/IPv6 group (default=224.0.0.81)\n\
\x20 --mcast-port port                   UDP port (default=8848)\n\
\x20 --mcast-ttl ttl                     Multicast TTL (default=1)\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usage_names_every_option_of_ipvsadm() {
        let text = usage("ipvsadm");
        assert!(text.starts_with(VERSION));
        for option in scan::OPTIONS.iter().filter(|o| o.tag != scan::Tag::Json) {
            // ipvsadm's help leaves out --version.
            assert!(
                text.contains(&format!("--{}", option.long)) || option.long == "version",
                "--{} is not in the usage",
                option.long
            );
        }
    }

    #[test]
    fn restore_input_splits_like_config_stream_read() {
        let split = |text: &str| -> Vec<Vec<String>> {
            restore_lines(text)
                .map(|line| restore_words(line).map(str::to_owned).collect())
                .collect()
        };
        assert_eq!(
            split("ipvsadm -A -t a:80\r\n\n\t-C \t\nlast"),
            vec![
                vec!["-A".to_owned(), "-t".to_owned(), "a:80".to_owned()],
                vec![],
                vec!["-C".to_owned()],
                vec!["last".to_owned()],
            ]
        );
        assert_eq!(split("-C\n"), vec![vec!["-C".to_owned()]]);
        assert!(split("").is_empty());
    }

    #[test]
    fn connection_rows() {
        let row = connection_line(
            "TCP C0000201 D431 C0000202 0050 0A000001 1F90 ESTABLISHED 899",
            true,
            false,
        );
        assert_eq!(
            row.as_deref(),
            Some("TCP 14:59  ESTABLISHED 192.0.2.1:54321    192.0.2.2:80       10.0.0.1:8080\n")
        );
        let row = connection_line(
            "UDP 2001:0db8:0000:0000:0000:0000:0000:0001 0035 2001:0db8:0000:0000:0000:0000:0000:0002 0035 2001:0db8:0000:0000:0000:0000:0000:0003 0035 UDP 60 sip abc",
            true,
            true,
        );
        assert_eq!(
            row.as_deref(),
            Some("UDP 01:00  UDP         [2001:db8::1]:53   [2001:db8::2]:53   [2001:db8::3]:53 sip                abc\n")
        );
    }
}
