//! The link layer of an LVS router: where a virtual IP lives, and telling
//! the neighbours when it moves.
//!
//! - [`link`]: interfaces (index, MAC, link state) and their addresses over
//!   rtnetlink; adding and removing a VIP with its prefix and IPv4 label
//!   (Piranha's `eth0:1` alias devices are address labels here, so no alias
//!   device is needed), idempotently.
//! - [`frame`]: the announcement frames, built with pnet_packet: Piranha's
//!   gratuitous ARP reply, the ARP request form keepalived and `arping -U`
//!   send, and the IPv6 unsolicited neighbour advertisement. No IO.
//! - [`packet`]: AF_PACKET sockets to send frames and to capture them.
//! - [`announce`]: bursts with a count and an interval, blocking or on tokio.
//!
//! # Non-features
//!
//! - It does not decide when a VIP should move; that is the failover state
//!   machine in `lvs-core`.
//! - No routes, no neighbour table edits, no VRRP: addresses and
//!   announcements only.
//!
//! Everything acts in the network namespace of the calling thread, and
//! sending or changing addresses needs `CAP_NET_ADMIN` and `CAP_NET_RAW`.
//!
//! ```no_run
//! use lvs_arp::{announce::{send_burst_blocking, Burst}, frame::Announcement, link::Rtnl, packet::PacketSocket};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut rtnl = Rtnl::connect()?;
//! let vip = "192.0.2.100".parse()?;
//! let eth0 = rtnl.add_vip("eth0:1", vip, 24)?;
//! let mac = eth0.mac.ok_or("eth0 has no MAC")?;
//! send_burst_blocking(&PacketSocket::open()?, eth0.index, &Announcement::for_address(vip, mac), Burst::PIRANHA)?;
//! # Ok(()) }
//! ```

pub mod announce;
mod error;
pub mod frame;
pub mod link;
mod mac;
pub mod packet;

pub use error::{os_message, LinkError, LinkOp};
pub use mac::{MacAddr, MacParseError};
