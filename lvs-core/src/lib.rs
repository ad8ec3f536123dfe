//! The decision-making core of lvs-rs: health-check primitives, the nanny
//! (per-real-server health) and pulse (router failover) state machines, and
//! the director reconciler that turns lvs.cf plus server health into the
//! IPVS table the kernel should hold.
//!
//! The state machines are sans-IO: they take events and the current time and
//! return actions, so they are tested with simulated time and packet loss.
//! Sockets, timers and processes belong to the daemons in `lvs-cli`.
//!
//! - [`failover`]: pulse's state machine; [`heartbeat`]: its datagrams
//!   (Piranha's format and an authenticated one).
//! - [`check`]: health checks of a real server (TCP, UDP, program, HTTP GET);
//!   [`nanny`]: the state machine that turns their results into table changes;
//!   [`engine`]: thousands of servers checked in one runtime, with
//!   [`probe`]'s half-open TCP probes.
//!
//! - [`director`]: the reconciler that turns lvs.cf and the servers' health
//!   into the IPVS operations the kernel's table needs.
//!
//! The daemons that drive these (pulse, nanny, lvs) live in `lvs-cli`.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod check;
pub mod director;
pub mod engine;
pub mod failover;
pub mod heartbeat;
pub mod nanny;
pub mod probe;
