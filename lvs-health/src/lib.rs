//! The health-check runtime of lvs-rs: it runs the checks that
//! [`lvs_core::check`] describes, against real servers, on tokio.
//!
//! - [`run`]: one check of one server (TCP or UDP send/expect, a program,
//!   HTTP and HTTPS, a TLS handshake, DNS, a mail greeting with or without
//!   STARTTLS, ICMP echo, or several of these), each step bounded by its
//!   timeout, and the load monitor.
//! - [`tls`]: the rustls settings of a check, read from its files and kept
//!   while they are unchanged.
//! - [`probe`]: half-open TCP probes: a SYN over one raw socket, the SYN-ACK
//!   or RST read back, the connection never completed.
//! - [`engine`]: thousands of servers checked in one runtime, each feeding
//!   its [`lvs_core::nanny::Nanny`] machine and sending the machine's table
//!   changes to the caller.
//!
//! Both the `lvs` director and the `nanny` program check through this crate,
//! so a check behaves the same whichever runs it.
//!
//! # Non-features
//!
//! - It decides nothing: when a server goes in or out is the nanny machine's
//!   call (`lvs-core`), and what the table should hold is the director's.
//! - It never touches the IPVS table; updates go to the caller, which
//!   applies them.
//! - It starts no runtime of its own: the caller's tokio runtime runs every
//!   check (a current-thread runtime is enough).

mod dns;
pub mod engine;
pub mod http;
mod mail;
mod ping;
pub mod probe;
pub mod run;
pub mod tls;
