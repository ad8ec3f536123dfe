//! ipvsadm 1.31's table listings, byte for byte, from a snapshot of the
//! table (numeric output, `-n`). The start of `ipvsadm-rs`; the kernel tests
//! compare it with the real ipvsadm on the same table.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::net::IpAddr;

use lvs_ipvs::{Destination, Family, ForwardMethod, Info, Netmask, Service, ServiceFlags, ServiceKey, Stats};

/// Which columns a listing shows (ipvsadm's precedence: stats, rate,
/// thresholds, persistent-conn; otherwise the default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Columns {
    #[default]
    Default,
    Stats,
    Rate,
    Thresholds,
    PersistentConn,
}

/// Listing options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    pub columns: Columns,
    /// `--exact`: full numbers in stats and rates.
    pub exact: bool,
    /// `--nosort`: the kernel's order.
    pub nosort: bool,
}

/// `ipvsadm -Ln [...]` of the whole table: header, title, then each service
/// with its destinations.
pub fn list(info: &Info, table: &[(Service, Vec<Destination>)], options: ListOptions) -> String {
    let mut out = format!(
        "IP Virtual Server version {} (size={})\n",
        info.version_string(),
        info.conn_tab_size
    );
    out.push_str(&title(options.columns));
    let mut services: Vec<&(Service, Vec<Destination>)> = table.iter().collect();
    if !options.nosort {
        services.sort_by(|a, b| compare_services(&a.0.key, &b.0.key));
    }
    for (service, destinations) in services {
        let mut destinations: Vec<&Destination> = destinations.iter().collect();
        if !options.nosort {
            destinations.sort_by(|a, b| compare_dests(a, b));
        }
        service_lines(&mut out, service, &destinations, options);
    }
    out
}

/// `ipvsadm -S -n`: the table as `-A` and `-a` command lines, in listing order.
pub fn save(table: &[(Service, Vec<Destination>)], nosort: bool) -> String {
    let mut out = String::new();
    let mut services: Vec<&(Service, Vec<Destination>)> = table.iter().collect();
    if !nosort {
        services.sort_by(|a, b| compare_services(&a.0.key, &b.0.key));
    }
    for (service, destinations) in services {
        let key = match service.key {
            ServiceKey::Addr { protocol, addr, port } => {
                let option = match protocol {
                    lvs_ipvs::Protocol::Tcp => "-t",
                    lvs_ipvs::Protocol::Udp => "-u",
                    lvs_ipvs::Protocol::Sctp => "--sctp-service",
                };
                format!("{option} {}", host_port(addr, port))
            }
            ServiceKey::Fwmark {
                family: Family::Inet,
                mark,
            } => format!("-f {mark}"),
            ServiceKey::Fwmark {
                family: Family::Inet6,
                mark,
            } => format!("-f {mark} -6"),
        };
        let _ = write!(out, "-A {key} -s {}", service.scheduler);
        if service.flags.contains(ServiceFlags::PERSISTENT) {
            let _ = write!(out, " -p {}", service.timeout);
            match service.netmask {
                Netmask::V4(mask) if mask != std::net::Ipv4Addr::BROADCAST => {
                    let _ = write!(out, " -M {mask}");
                }
                Netmask::V6(prefix) if prefix != 128 => {
                    let _ = write!(out, " -M {prefix}");
                }
                _ => {}
            }
            if let Some(pe) = &service.persistence_engine {
                let _ = write!(out, " --pe {pe}");
            }
        }
        if service.flags.contains(ServiceFlags::ONE_PACKET) {
            out.push_str(" -o");
        }
        if let Some(flags) = sched_flags(service) {
            let _ = write!(out, " -b {flags}");
        }
        out.push('\n');
        let mut destinations: Vec<&Destination> = destinations.iter().collect();
        if !nosort {
            destinations.sort_by(|a, b| compare_dests(a, b));
        }
        for dest in destinations {
            let method = match dest.forward {
                ForwardMethod::Masquerade => "-m",
                ForwardMethod::Tunnel => "-i",
                ForwardMethod::DirectRoute | ForwardMethod::Local => "-g",
            };
            let _ = write!(
                out,
                "-a {key} -r {} {method} -w {}",
                host_port(dest.addr, dest.port),
                dest.weight as i32
            );
            if dest.forward == ForwardMethod::Tunnel {
                out.push_str(&tunnel_options(dest.tunnel));
            }
            out.push('\n');
        }
    }
    out
}

fn tunnel_options(tunnel: Option<lvs_ipvs::Tunnel>) -> String {
    use lvs_ipvs::TunnelType;
    let csum = |flags: u16| match flags {
        1 => "--tun-csum",
        2 => "--tun-remcsum",
        _ => "--tun-nocsum",
    };
    match tunnel {
        None => " --tun-type ipip".to_owned(),
        Some(t) => match t.kind {
            TunnelType::Ipip => " --tun-type ipip".to_owned(),
            TunnelType::Gue => format!(" --tun-type gue --tun-port {} {}", t.port, csum(t.flags)),
            TunnelType::Gre => format!(" --tun-type gre {}", csum(t.flags)),
        },
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
        Columns::Stats => {
            format!(
                "{PROT:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n{REMOTE}\n",
                "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
            )
        }
        Columns::Rate => format!(
            "{PROT:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n{REMOTE}\n",
            "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        ),
        Columns::Thresholds => {
            format!(
                "{PROT:<33} {:<10} {:<10} {:<10} {:<10}\n{REMOTE}\n",
                "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
            )
        }
        Columns::PersistentConn => {
            format!(
                "{PROT:<33} {:<9} {:<11} {:<10} {:<10}\n{REMOTE}\n",
                "Weight", "PersistConn", "ActiveConn", "InActConn"
            )
        }
    }
}

/// ipvsadm compares with `int` differences of unsigned values: addresses
/// 2^31 or more apart compare the wrong way round, and a clone must too.
fn int_difference(a: u32, b: u32) -> Ordering {
    (a.wrapping_sub(b) as i32).cmp(&0)
}

/// Addresses as ipvsadm orders them: IPv4 by an `int` difference of the
/// host-order values, IPv6 byte by byte.
fn compare_addrs(a: IpAddr, b: IpAddr) -> Ordering {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => int_difference(u32::from(a), u32::from(b)),
        (IpAddr::V6(a), IpAddr::V6(b)) => a.octets().cmp(&b.octets()),
        (IpAddr::V4(_), IpAddr::V6(_)) => Ordering::Less,
        (IpAddr::V6(_), IpAddr::V4(_)) => Ordering::Greater,
    }
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

fn host_port(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

fn service_name(key: &ServiceKey) -> String {
    match *key {
        ServiceKey::Addr { protocol, addr, port } => {
            format!("{:<4} {}", protocol.to_string(), host_port(addr, port))
        }
        ServiceKey::Fwmark {
            family: Family::Inet,
            mark,
        } => format!("FWM  {mark}"),
        ServiceKey::Fwmark {
            family: Family::Inet6,
            mark,
        } => format!("FWM  {mark} IPv6"),
    }
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

fn counters(out: &mut String, stats: Option<Stats>, columns: Columns, exact: bool) {
    let s = stats.unwrap_or_default();
    let values = if columns == Columns::Rate {
        [s.cps, s.in_pps, s.out_pps, s.in_bps, s.out_bps]
    } else {
        [s.conns, s.in_pkts, s.out_pkts, s.in_bytes, s.out_bytes]
    };
    for value in values {
        largenum(out, value, exact);
    }
}

fn service_lines(out: &mut String, service: &Service, destinations: &[&Destination], options: ListOptions) {
    let name = service_name(&service.key);
    match options.columns {
        Columns::Stats | Columns::Rate => {
            let _ = write!(out, "{name:<33}");
            counters(out, service.stats, options.columns, options.exact);
            out.push('\n');
        }
        _ => {
            let _ = write!(out, "{name} {}", service.scheduler);
            if let Some(flags) = sched_flags(service) {
                let _ = write!(out, " ({flags})");
            }
            if service.flags.contains(ServiceFlags::PERSISTENT) {
                let _ = write!(out, " persistent {}", service.timeout);
                match service.netmask {
                    Netmask::V4(mask) if mask != std::net::Ipv4Addr::BROADCAST => {
                        let _ = write!(out, " mask {mask}");
                    }
                    Netmask::V6(prefix) if prefix != 128 => {
                        let _ = write!(out, " mask {prefix}");
                    }
                    _ => {}
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
    for dest in destinations {
        let remote = host_port(dest.addr, dest.port);
        let _ = match options.columns {
            Columns::Default => writeln!(
                out,
                "  -> {remote:<28} {:<7} {:<6} {:<10} {:<10}",
                forward(dest.forward),
                dest.weight as i32,
                dest.active_conns,
                dest.inactive_conns
            ),
            Columns::Stats | Columns::Rate => {
                let _ = write!(out, "  -> {remote:<28}");
                counters(out, dest.stats, options.columns, options.exact);
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
}
