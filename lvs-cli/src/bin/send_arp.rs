//! `send_arp`: announce an address on a link (see `send_arp --help`).
//!
//! Checks run in Piranha's order, with Piranha's message first on each
//! failure and a line naming the bad argument after it.

use std::net::{IpAddr, ToSocketAddrs};
use std::process::ExitCode;

use clap::Parser;
use lvs_arp::announce::{send_burst_blocking, Burst};
use lvs_arp::frame::Announcement;
use lvs_arp::link::Rtnl;
use lvs_arp::packet::PacketSocket;
use lvs_arp::{os_message, LinkError, MacAddr};
use lvs_cli::send_arp::{SendArpArgs, PIRANHA_USAGE};

fn fail(lines: &[&str]) -> ExitCode {
    for line in lines {
        eprintln!("{line}");
    }
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let args = match SendArpArgs::try_parse() {
        Ok(args) => args,
        Err(error) if !error.use_stderr() => {
            // --help and --version
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprint!("{PIRANHA_USAGE}");
            eprintln!();
            return fail(&[&format!("send_arp: {}", argument_problem(&error))]);
        }
    };

    let socket = match PacketSocket::open() {
        Ok(socket) => socket,
        Err(error) => {
            let socket = format!("socket: {}", os_message(error.raw_os_error().unwrap_or(0)));
            if error.kind() == std::io::ErrorKind::PermissionDenied {
                return fail(&[&socket, "send_arp: sending raw frames needs root (CAP_NET_RAW)"]);
            }
            return fail(&[&socket]);
        }
    };

    let targ_hw = match args.targ_hw_addr.parse::<MacAddr>() {
        Ok(mac) => mac,
        Err(_) => return bad_mac("targ_hw_addr", &args.targ_hw_addr),
    };
    let src_hw = match args.src_hw_addr.parse::<MacAddr>() {
        Ok(mac) => mac,
        Err(_) => return bad_mac("src_hw_addr", &args.src_hw_addr),
    };
    let Some(src_ip) = resolve(&args.src_ip_addr) else {
        return fail(&[
            &format!("send_arp: unknown host {}", args.src_ip_addr),
            "send_arp: src_ip_addr is neither an IP address nor a host name that resolves",
        ]);
    };
    if resolve(&args.targ_ip_addr).is_none() {
        return fail(&[
            &format!("send_arp: unknown host {}", args.targ_ip_addr),
            "send_arp: targ_ip_addr is neither an IP address nor a host name that resolves",
        ]);
    }

    let announcement = match (src_ip, args.request_form) {
        (IpAddr::V4(ip), false) => Announcement::PiranhaGarp {
            ip,
            mac: src_hw,
            eth_destination: targ_hw,
        },
        (IpAddr::V4(ip), true) => Announcement::ArpRequest {
            ip,
            mac: src_hw,
            eth_destination: targ_hw,
        },
        (IpAddr::V6(_), true) => {
            return fail(&["send_arp: -U (the ARP request form) does not apply to IPv6 addresses"])
        }
        (IpAddr::V6(ip), false) => {
            let eth_destination = if targ_hw == MacAddr::BROADCAST {
                MacAddr::IPV6_ALL_NODES
            } else {
                targ_hw
            };
            Announcement::UnsolicitedNa {
                ip,
                mac: src_hw,
                eth_destination,
                router: false,
            }
        }
    };

    let index = match Rtnl::connect().and_then(|mut rtnl| rtnl.interface(&args.device)) {
        Ok(interface) => interface.index,
        Err(LinkError::NoSuchDevice(device)) => {
            return fail(&[
                "sendto: No such device",
                &format!("send_arp: there is no device `{device}` (-i)"),
            ]);
        }
        Err(error) => return fail(&[&format!("send_arp: {error}")]),
    };
    let burst = Burst {
        count: args.count,
        interval: args.interval,
    };
    match send_burst_blocking(&socket, index, &announcement, burst) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(&[&format!(
            "sendto: {}",
            os_message(error.raw_os_error().unwrap_or(0))
        )]),
    }
}

/// What was wrong with the arguments, in one line.
fn argument_problem(error: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if error.kind() == ErrorKind::MissingRequiredArgument {
        if let Some(ContextValue::Strings(missing)) = error.get(ContextKind::InvalidArg) {
            return format!("missing {}", missing.join(" "));
        }
    }
    let rendered = error.render().to_string();
    let message: Vec<&str> = rendered
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect();
    message.join(" ").trim_start_matches("error: ").to_owned()
}

fn bad_mac(name: &str, value: &str) -> ExitCode {
    // Piranha's die() adds a newline after its message.
    fail(&[
        "Invalid hardware address",
        &format!(
            "send_arp: {name} `{value}`: expected 12 hex digits, with or without colons (00:11:22:aa:bb:cc)"
        ),
    ])
}

/// An IP literal (IPv4 in any `inet_aton` form, or IPv6), or a host name.
fn resolve(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    let addresses: Vec<IpAddr> = (text, 0).to_socket_addrs().ok()?.map(|a| a.ip()).collect();
    addresses
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addresses.first())
        .copied()
}
