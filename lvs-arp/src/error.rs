//! Errors, each naming what was being done.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// The rtnetlink operation an error comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkOp {
    /// Opening the rtnetlink socket.
    Connect,
    /// Listing interfaces.
    ListInterfaces,
    /// Listing addresses.
    ListAddresses,
    /// Adding this address.
    AddAddress(IpAddr),
    /// Removing this address.
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
/// Why an interface or address operation failed.
#[non_exhaustive]
pub enum LinkError {
    #[error("{op}: {message}")]
    /// The socket failed.
    Netlink {
        /// What was being done.
        op: LinkOp,
        /// Why.
        message: String,
    },
    #[error("{op}: {}", os_message(*errno))]
    /// The kernel refused.
    Kernel {
        /// What was being done.
        op: LinkOp,
        /// The kernel's errno.
        errno: i32,
    },
    #[error("{op}: no answer from the kernel within {after:?}")]
    /// No answer in time.
    Timeout {
        /// What was being done.
        op: LinkOp,
        /// How long it waited.
        after: Duration,
    },
    #[error("no such device: {0}")]
    /// No interface of this name.
    NoSuchDevice(String),
    #[error("device {0} has no hardware address")]
    /// The interface has no hardware address to announce.
    NoHardwareAddress(String),
    #[error("invalid prefix length /{prefix_len} for {ip}")]
    /// A prefix length too long for the address.
    InvalidPrefix {
        /// The address.
        ip: IpAddr,
        /// The prefix length.
        prefix_len: u8,
    },
    #[error("address label `{0}` is too long (at most 15 bytes)")]
    /// An address label the kernel would refuse.
    InvalidLabel(String),
}
