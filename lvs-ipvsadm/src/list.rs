//! ipvsadm 1.31's table listings and saved rules, byte for byte, from a
//! snapshot of the table: `-L` in every format, one service or all, with
//! names or numeric, and `-S`.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::net::IpAddr;

use lvs_ipvs::{
    Destination, Family, ForwardMethod, Info, Netmask, Service, ServiceFlags, ServiceKey, Stats, TunnelType,
};

use super::command::Format;
use super::names::{addr_port, push_addr_port, push_left, push_left_number, truncate_bytes};

/// Which columns a listing shows, in ipvsadm's precedence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Columns {
    Default,
    Stats,
    Rate,
    Thresholds,
    PersistentConn,
    TunInfo,
}

fn columns(format: &Format) -> Columns {
    if format.stats {
        Columns::Stats
    } else if format.rate {
        Columns::Rate
    } else if format.thresholds {
        Columns::Thresholds
    } else if format.persistent_conn {
        Columns::PersistentConn
    } else if format.tun_info {
        Columns::TunInfo
    } else {
        Columns::Default
    }
}

/// A table as the kernel lists it: services with their destinations.
pub type Listing = [(Service, Vec<Destination>)];

/// `ipvsadm -L`: the header, the title, then each service and its destinations.
pub fn list_all(out: &mut String, info: &Info, table: &Listing, format: &Format) {
    let _ = writeln!(
        out,
        "IP Virtual Server version {} (size={})",
        info.version_string(),
        info.conn_tab_size
    );
    out.push_str(&title(columns(format)));
    for (service, destinations) in sorted(table, format.nosort) {
        entry(out, service, destinations, format);
    }
}

/// `ipvsadm -L -t|-u|-f SERVICE`: the title and that service, no header.
pub fn list_one(out: &mut String, service: &Service, destinations: &[Destination], format: &Format) {
    out.push_str(&title(columns(format)));
    entry(out, service, destinations, format);
}

/// `ipvsadm -S`: the table as `-A` and `-a` command lines, in listing order.
pub fn save(out: &mut String, table: &Listing, format: &Format) {
    for (service, destinations) in sorted(table, format.nosort) {
        let name = rule_name(&service.key, format.numeric);
        let _ = write!(out, "-A {name} -s {}", service.scheduler);
        if service.flags.contains(ServiceFlags::PERSISTENT) {
            let _ = write!(out, " -p {}", service.timeout);
            if let Some(mask) = netmask(service) {
                let _ = write!(out, " -M {mask}");
            }
        }
        if let Some(pe) = &service.persistence_engine {
            let _ = write!(out, " --pe {pe}");
        }
        if service.flags.contains(ServiceFlags::ONE_PACKET) {
            out.push_str(" -o");
        }
        if let Some(flags) = sched_flags(service) {
            let _ = write!(out, " -b {flags}");
        }
        out.push('\n');
        for dest in sorted_dests(destinations, format.nosort) {
            let remote = addr_port(dest.addr, dest.port, protocol_of(&service.key), format.numeric);
            let switch = match dest.forward {
                ForwardMethod::Masquerade => "-m",
                ForwardMethod::Tunnel => "-i",
                ForwardMethod::DirectRoute | ForwardMethod::Local => "-g",
            };
            let _ = write!(out, "-a {name} -r {remote} {switch} -w {}", dest.weight as i32);
            if dest.forward == ForwardMethod::Tunnel {
                out.push_str(&tunnel_rule(dest));
            }
            out.push('\n');
        }
    }
}

/// A persistence netmask other than the full one, as ipvsadm prints it.
fn netmask(service: &Service) -> Option<String> {
    match service.netmask {
        Netmask::V4(mask) if mask != std::net::Ipv4Addr::BROADCAST => Some(mask.to_string()),
        Netmask::V6(prefix) if prefix != 128 => Some(prefix.to_string()),
        _ => None,
    }
}

fn tunnel_rule(dest: &Destination) -> String {
    let csum = |flags: u16| match flags {
        1 => "--tun-csum",
        2 => "--tun-remcsum",
        _ => "--tun-nocsum",
    };
    match dest.tunnel {
        None => " --tun-type ipip".to_owned(),
        Some(t) => match t.kind {
            TunnelType::Ipip => " --tun-type ipip".to_owned(),
            TunnelType::Gue => format!(" --tun-type gue --tun-port {} {}", t.port, csum(t.flags)),
            TunnelType::Gre => format!(" --tun-type gre {}", csum(t.flags)),
        },
    }
}

fn sorted(table: &Listing, nosort: bool) -> Vec<(&Service, &[Destination])> {
    let mut services: Vec<(&Service, &[Destination])> =
        table.iter().map(|(s, d)| (s, d.as_slice())).collect();
    if !nosort {
        glibc_qsort(&mut services, &|a, b| compare_services(&a.0.key, &b.0.key));
    }
    services
}

fn sorted_dests(destinations: &[Destination], nosort: bool) -> Vec<&Destination> {
    let mut destinations: Vec<&Destination> = destinations.iter().collect();
    if !nosort {
        glibc_qsort(&mut destinations, &|a, b| compare_dests(a, b));
    }
    destinations
}

fn protocol_of(key: &ServiceKey) -> u16 {
    match key {
        ServiceKey::Addr { protocol, .. } => protocol.raw(),
        // ipvsadm lists firewall-mark services as TCP for name look-ups.
        ServiceKey::Fwmark { .. } => lvs_ipvs::Protocol::Tcp.raw(),
    }
}

/// The title lines, from ipvsadm's format strings (padding included).
fn title(columns: Columns) -> String {
    const PROT: &str = "Prot LocalAddress:Port";
    const REMOTE: &str = "  -> RemoteAddress:Port";
    match columns {
        Columns::Default => {
            format!("{PROT} Scheduler Flags\n{REMOTE}           Forward Weight ActiveConn InActConn\n")
        }
        Columns::TunInfo => {
            format!("{PROT} Scheduler Flags\n{REMOTE}           Forward TunnelInfo    Weight ActiveConn InActConn\n")
        }
        Columns::Stats => format!(
            "{PROT:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n{REMOTE}\n",
            "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        ),
        Columns::Rate => format!(
            "{PROT:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n{REMOTE}\n",
            "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        ),
        Columns::Thresholds => format!(
            "{PROT:<33} {:<10} {:<10} {:<10} {:<10}\n{REMOTE}\n",
            "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        ),
        Columns::PersistentConn => format!(
            "{PROT:<33} {:<9} {:<11} {:<10} {:<10}\n{REMOTE}\n",
            "Weight", "PersistConn", "ActiveConn", "InActConn"
        ),
    }
}

/// ipvsadm compares with `int` differences of unsigned values: addresses
/// 2^31 or more apart compare the wrong way round, and a clone must too.
fn int_difference(a: u32, b: u32) -> Ordering {
    (a.wrapping_sub(b) as i32).cmp(&0)
}

/// An address as ipvsadm's comparisons see it: four host-order words, an
/// IPv4 address in the first.
fn words(addr: IpAddr) -> [u32; 4] {
    match addr {
        IpAddr::V4(v4) => [u32::from(v4), 0, 0, 0],
        IpAddr::V6(v6) => {
            let o = v6.octets();
            let word = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
            [word(0), word(4), word(8), word(12)]
        }
    }
}

/// Addresses as ipvsadm orders them: an `int` difference of each host-order
/// word, all four when the first address is IPv6, the first alone otherwise.
fn compare_addrs(a: IpAddr, b: IpAddr) -> Ordering {
    let (wa, wb) = (words(a), words(b));
    let count = if a.is_ipv6() { 4 } else { 1 };
    (0..count)
        .map(|i| int_difference(wa[i], wb[i]))
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

/// glibc's `qsort`, a top-down merge sort that takes from the left half
/// unless the comparison says greater. ipvsadm's comparisons are not
/// consistent (see [`int_difference`]), so only the same algorithm gives the
/// same order.
fn glibc_qsort<T: Copy>(items: &mut [T], compare: &impl Fn(&T, &T) -> Ordering) {
    let mut merged = Vec::with_capacity(items.len());
    merge_sort(items, &mut merged, compare);
}

fn merge_sort<T: Copy>(items: &mut [T], merged: &mut Vec<T>, compare: &impl Fn(&T, &T) -> Ordering) {
    let n = items.len();
    if n <= 1 {
        return;
    }
    let half = n / 2;
    {
        let (left, right) = items.split_at_mut(half);
        merge_sort(left, merged, compare);
        merge_sort(right, merged, compare);
    }
    merged.clear();
    let (mut i, mut j) = (0, half);
    while i < half && j < n {
        if compare(&items[i], &items[j]) != Ordering::Greater {
            merged.push(items[i]);
            i += 1;
        } else {
            merged.push(items[j]);
            j += 1;
        }
    }
    merged.extend_from_slice(&items[i..half]);
    // What is left of the right half is already in place.
    items[..merged.len()].copy_from_slice(merged);
}

fn compare_services(a: &ServiceKey, b: &ServiceKey) -> Ordering {
    let mark = |k: &ServiceKey| match *k {
        ServiceKey::Fwmark { mark, .. } => mark,
        ServiceKey::Addr { .. } => 0,
    };
    let family = |k: &ServiceKey| u32::from(k.family().raw());
    let rest = |a: &ServiceKey, b: &ServiceKey| match (*a, *b) {
        (
            ServiceKey::Addr {
                protocol: pa,
                addr: aa,
                port: qa,
            },
            ServiceKey::Addr {
                protocol: pb,
                addr: ab,
                port: qb,
            },
        ) => int_difference(u32::from(pa.raw()), u32::from(pb.raw()))
            .then(compare_addrs(aa, ab))
            .then(int_difference(u32::from(qa), u32::from(qb))),
        _ => Ordering::Equal,
    };
    int_difference(mark(a), mark(b))
        .then(int_difference(family(a), family(b)))
        .then(rest(a, b))
}

fn compare_dests(a: &Destination, b: &Destination) -> Ordering {
    compare_addrs(a.addr, b.addr).then(int_difference(u32::from(a.port), u32::from(b.port)))
}

/// The service's name in listings: protocol and address (an IPv4 one cut
/// to 33 bytes, as ipvsadm does), or its firewall mark.
fn list_name(key: &ServiceKey, numeric: bool) -> String {
    match *key {
        ServiceKey::Addr { protocol, addr, port } => {
            let mut name = format!(
                "{:<4} {}",
                protocol.to_string(),
                addr_port(addr, port, protocol.raw(), numeric)
            );
            if key.family() != Family::Inet6 {
                truncate_bytes(&mut name, 33);
            }
            name
        }
        ServiceKey::Fwmark {
            family: Family::Inet,
            mark,
        } => format!("FWM  {}", printed_mark(mark)),
        ServiceKey::Fwmark {
            family: Family::Inet6,
            mark,
        } => format!("FWM  {} IPv6", printed_mark(mark)),
    }
}

/// The service as `-S` names it: `-t|-u|--sctp-service ADDR:PORT` or `-f MARK [-6]`.
fn rule_name(key: &ServiceKey, numeric: bool) -> String {
    match *key {
        ServiceKey::Addr { protocol, addr, port } => {
            let option = match protocol {
                lvs_ipvs::Protocol::Tcp => "-t",
                lvs_ipvs::Protocol::Udp => "-u",
                lvs_ipvs::Protocol::Sctp => "--sctp-service",
            };
            format!("{option} {}", addr_port(addr, port, protocol.raw(), numeric))
        }
        ServiceKey::Fwmark {
            family: Family::Inet,
            mark,
        } => format!("-f {}", printed_mark(mark)),
        ServiceKey::Fwmark {
            family: Family::Inet6,
            mark,
        } => format!("-f {} -6", printed_mark(mark)),
    }
}

/// A firewall mark as ipvsadm 1.31 prints it, in `-L` and `-S` alike: as a
/// signed 32-bit number, so marks from 2^31 up come out negative (`FWM  -1`
/// for 4294967295). Debian's ipvsadm 1.31 does so; the fix came after the
/// release. As there, `-f` refuses a negative number, so such a rule
/// is saved in a form that `-R` does not take back.
fn printed_mark(mark: u32) -> i32 {
    mark as i32
}

fn sched_flags(service: &Service) -> Option<String> {
    let flags = service.flags;
    let names: [&str; 3] = match service.scheduler.as_str() {
        "sh" => ["sh-fallback", "sh-port", "flag-3"],
        "mh" => ["mh-fallback", "mh-port", "flag-3"],
        _ => ["flag-1", "flag-2", "flag-3"],
    };
    let set: Vec<&str> = [ServiceFlags::SCHED1, ServiceFlags::SCHED2, ServiceFlags::SCHED3]
        .iter()
        .zip(names)
        .filter(|(bit, _)| flags.contains(**bit))
        .map(|(_, name)| name)
        .collect();
    (!set.is_empty()).then(|| set.join(","))
}

fn forward(method: ForwardMethod) -> &'static str {
    match method {
        ForwardMethod::Masquerade => "Masq",
        ForwardMethod::Local => "Local",
        ForwardMethod::Tunnel => "Tunnel",
        ForwardMethod::DirectRoute => "Route",
    }
}

/// `--tun-info`'s column: `ipip`, `gue:PORT:-c|+c|r+c`, `gre:-c|+c`, else `n/a`.
fn tunnel_info(dest: &Destination) -> String {
    if dest.forward != ForwardMethod::Tunnel {
        return "n/a".to_owned();
    }
    let tunnel = dest.tunnel.unwrap_or(lvs_ipvs::Tunnel {
        kind: TunnelType::Ipip,
        port: 0,
        flags: 0,
    });
    let csum = match tunnel.flags {
        1 => "+c",
        2 => "r+c",
        _ => "-c",
    };
    match tunnel.kind {
        TunnelType::Ipip => "ipip".to_owned(),
        TunnelType::Gue => format!("gue:{}:{csum}", tunnel.port),
        TunnelType::Gre => format!("gre:{csum}"),
    }
}

/// ipvsadm's `print_largenum`: at most 8 digits, then K, M, G, T units.
fn largenum(out: &mut String, n: u64, exact: bool) {
    if exact {
        let digits = n.to_string();
        let width = (digits.len() + 1).max(9);
        let _ = write!(out, "{digits:>width$}");
        return;
    }
    let _ = match n {
        n if n < 100_000_000 => write!(out, "{n:>9}"),
        n if n < 1_000_000_000 => write!(out, "{:>8}K", n / 1_000),
        n if n < 100_000_000_000 => write!(out, "{:>8}M", n / 1_000_000),
        n if n < 100_000_000_000_000 => write!(out, "{:>8}G", n / 1_000_000_000),
        n => write!(out, "{:>8}T", n / 1_000_000_000_000),
    };
}

fn counters(out: &mut String, stats: Option<Stats>, rate: bool, exact: bool) {
    let s = stats.unwrap_or_default();
    let values = if rate {
        [s.cps, s.in_pps, s.out_pps, s.in_bps, s.out_bps]
    } else {
        [s.conns, s.in_pkts, s.out_pkts, s.in_bytes, s.out_bytes]
    };
    for value in values {
        largenum(out, value, exact);
    }
}

fn entry(out: &mut String, service: &Service, destinations: &[Destination], format: &Format) {
    let columns = columns(format);
    let name = list_name(&service.key, format.numeric);
    match columns {
        Columns::Stats | Columns::Rate => {
            let _ = write!(out, "{name:<33}");
            counters(out, service.stats, columns == Columns::Rate, format.exact);
            out.push('\n');
        }
        _ => {
            let _ = write!(out, "{name} {}", service.scheduler);
            if let Some(flags) = sched_flags(service) {
                let _ = write!(out, " ({flags})");
            }
            if service.flags.contains(ServiceFlags::PERSISTENT) {
                let _ = write!(out, " persistent {}", service.timeout);
                if let Some(mask) = netmask(service) {
                    let _ = write!(out, " mask {mask}");
                }
                if let Some(pe) = &service.persistence_engine {
                    let _ = write!(out, " pe {pe}");
                }
            }
            if service.flags.contains(ServiceFlags::ONE_PACKET) {
                out.push_str(" ops");
            }
            out.push('\n');
        }
    }
    let mut remote = String::with_capacity(64);
    for dest in sorted_dests(destinations, format.nosort) {
        remote.clear();
        push_addr_port(
            &mut remote,
            dest.addr,
            dest.port,
            protocol_of(&service.key),
            format.numeric,
        );
        if !dest.addr.is_ipv6() {
            truncate_bytes(&mut remote, 28);
        }
        let _ = match columns {
            // The common listing, written without the formatting machinery.
            Columns::Default => {
                out.push_str("  -> ");
                push_left(out, &remote, 28);
                out.push(' ');
                push_left(out, forward(dest.forward), 7);
                out.push(' ');
                push_left_number(out, i64::from(dest.weight as i32), 6);
                out.push(' ');
                push_left_number(out, i64::from(dest.active_conns), 10);
                out.push(' ');
                push_left_number(out, i64::from(dest.inactive_conns), 10);
                out.push('\n');
                Ok(())
            }
            Columns::TunInfo => writeln!(
                out,
                "  -> {remote:<28} {:<7} {:<13} {:<6} {:<10} {:<10}",
                forward(dest.forward),
                tunnel_info(dest),
                dest.weight as i32,
                dest.active_conns,
                dest.inactive_conns
            ),
            Columns::Stats => {
                let _ = write!(out, "  -> {remote:<28}");
                counters(out, dest.stats, false, format.exact);
                writeln!(out)
            }
            Columns::Rate => {
                let s = dest.stats.unwrap_or_default();
                let _ = write!(
                    out,
                    "  -> {remote:<28} {:>8} {:>8} {:>8}",
                    s.cps, s.in_pps, s.out_pps
                );
                largenum(out, s.in_bps, format.exact);
                largenum(out, s.out_bps, format.exact);
                writeln!(out)
            }
            Columns::Thresholds => writeln!(
                out,
                "  -> {remote:<28} {:<10} {:<10} {:<10} {:<10}",
                dest.upper_threshold, dest.lower_threshold, dest.active_conns, dest.inactive_conns
            ),
            Columns::PersistentConn => writeln!(
                out,
                "  -> {remote:<28} {:<9} {:<11} {:<10} {:<10}",
                dest.weight, dest.persistent_conns, dest.active_conns, dest.inactive_conns
            ),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_numbers() {
        let cases: [(u64, &str); 8] = [
            (0, "        0"),
            (99_999_999, " 99999999"),
            (100_000_000, "  100000K"),
            (987_654_321, "  987654K"),
            (5_000_000_000, "    5000M"),
            (123_000_000_000, "     123G"),
            (5_000_000_000_000_000, "    5000T"),
            (12, "       12"),
        ];
        for (n, want) in cases {
            let mut s = String::new();
            largenum(&mut s, n, false);
            assert_eq!(s, want, "{n}");
        }
        let mut s = String::new();
        largenum(&mut s, 1_234_567_890_123, true);
        assert_eq!(s, " 1234567890123");
    }

    #[test]
    fn sorting_compares_like_ipvsadm() {
        // 10.0.0.1 and 200.0.0.1 are more than 2^31 apart: ipvsadm's int difference puts 200 first.
        assert_eq!(
            int_difference(
                u32::from(std::net::Ipv4Addr::new(200, 0, 0, 1)),
                u32::from(std::net::Ipv4Addr::new(10, 0, 0, 1))
            ),
            Ordering::Less
        );
        assert_eq!(int_difference(5, 3), Ordering::Greater);
    }

    #[test]
    fn the_merge_sort_is_glibcs() {
        // An inconsistent order, as ipvsadm's comparisons of far-apart
        // addresses give: the result depends on the algorithm. glibc's merge
        // keeps [200, 10] and [100, 127] (each pair "less"), then takes 100
        // and 127 before 200 (200 - 100 and 200 - 127 are positive).
        let first = |o: u8| u32::from(std::net::Ipv4Addr::new(o, 0, 0, 1));
        let mut items = [first(200), first(10), first(100), first(127)];
        glibc_qsort(&mut items, &|a, b| int_difference(*a, *b));
        assert_eq!(items, [first(100), first(127), first(200), first(10)]);
        let mut sorted = [5u32, 1, 4, 2, 3];
        glibc_qsort(&mut sorted, &|a, b| a.cmp(b));
        assert_eq!(sorted, [1, 2, 3, 4, 5]);
    }
}
