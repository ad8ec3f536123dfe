//! A binding to the kernel's IPVS table over generic netlink (neli).
//!
//! - [`Ipvs`]: one socket and one family look-up for the life of the handle,
//!   a timeout on every request; services, destinations, timeouts, info,
//!   counters, flush and connection-sync daemons, for IPv4 and IPv6.
//! - [`Ipvs::apply`]: many operations sent before their acknowledgements
//!   are read (a bounded window), one result per operation, optionally
//!   idempotent.
//! - [`Ipvs::snapshot`] and [`diff()`]: read the whole table (one service
//!   dump and one destination dump per service) and compute the least
//!   operations that turn one table into another.
//! - [`wire`]: the messages and their typed attributes, encoded and decoded
//!   without a socket.
//! - [`IpvsError`]: the operation, the kernel's errno, ipvsadm's wording and
//!   a plainer explanation.
//!
//! # Features
//!
//! - `netlink` (default): the socket ([`Ipvs`]), the wire layer ([`wire`])
//!   and [`IpvsError`], over `neli` and `libc`. Without it the crate is the
//!   table model, [`Table`] and [`diff()`] only, with no dependency at all:
//!   what a planner that never touches a socket (`lvs-core`) needs.
//!
//! # Non-features
//!
//! It does not decide what the table should hold (that is `lvs-core`), nor
//! print it as ipvsadm does (that is `ipvsadm-rs`). Every call acts in the
//! network namespace of the thread that connected, and needs `CAP_NET_ADMIN`,
//! even to read.
//!
//! Adding a service with two destinations:
//!
//! ```no_run
//! use lvs_ipvs::{Destination, ForwardMethod, Ipvs, Protocol, Service, ServiceKey};
//!
//! let mut ipvs = Ipvs::connect()?;
//! let key = ServiceKey::Addr { protocol: Protocol::Tcp, addr: "192.0.2.10".parse()?, port: 80 };
//! ipvs.add_service(&Service::new(key, "wlc"))?;
//! for real in ["10.0.0.1", "10.0.0.2"] {
//!     ipvs.add_destination(&key, &Destination::at(std::net::SocketAddr::new(real.parse()?, 80), ForwardMethod::Masquerade).weight(1))?;
//! }
//! assert_eq!(ipvs.destinations(&key)?.len(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The same as a program: `examples/add_service.rs`, run in the kernel test
//! lab by `cargo xtask test`.

mod diff;
#[cfg(feature = "netlink")]
mod error;
#[cfg(feature = "netlink")]
mod handle;
mod linux;
mod model;
#[cfg(feature = "netlink")]
pub mod wire;

pub use diff::{diff, Destinations, Operation, Table};
#[cfg(feature = "netlink")]
pub use error::{strerror, ErrorKind, IpvsError, Op};
#[cfg(feature = "netlink")]
pub use handle::{ApplyOptions, Ipvs, BATCH_WINDOW, DEFAULT_TIMEOUT, DUMP_ATTEMPTS};
pub use model::*;
