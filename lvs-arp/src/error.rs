//! Errors, each naming what was being done.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// The rtnetlink operation an error comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkOp {
    Connect,
    ListInterfaces,
    ListAddresses,
    AddAddress(IpAddr),
    RemoveAddress(IpAddr),
}

impl fmt::Display for LinkOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkOp::Connect => f.write_str("opening an rtnetlink socket"),
            LinkOp::ListInterfaces => f.write_str("listing interfaces"),
            LinkOp::ListAddresses => f.write_str("listing addresses"),
            LinkOp::AddAddress(ip) => write!(f, "adding address {ip}"),
            LinkOp::RemoveAddress(ip) => write!(f, "removing address {ip}"),
        }
    }
}

/// The text of an errno, as `perror` prints it (without Rust's "(os error N)").
pub fn os_message(errno: i32) -> String {
    let text = std::io::Error::from_raw_os_error(errno).to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("{op}: {message}")]
    Netlink { op: LinkOp, message: String },
    #[error("{op}: {}", os_message(*errno))]
    Kernel { op: LinkOp, errno: i32 },
    #[error("{op}: no answer from the kernel within {after:?}")]
    Timeout { op: LinkOp, after: Duration },
    #[error("no such device: {0}")]
    NoSuchDevice(String),
    #[error("device {0} has no hardware address")]
    NoHardwareAddress(String),
    #[error("invalid prefix length /{prefix_len} for {ip}")]
    InvalidPrefix { ip: IpAddr, prefix_len: u8 },
    #[error("address label `{0}` is too long (at most 15 bytes)")]
    InvalidLabel(String),
}
