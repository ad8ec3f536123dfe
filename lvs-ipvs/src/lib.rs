//! A binding to the kernel's IPVS table over generic netlink: services,
//! destinations, sync daemons, timeouts, statistics, pipelined batches, and
//! diffs between table snapshots.
//!
//! Wire encoding is kept apart from the socket, so every message can be
//! checked against golden bytes without a kernel. It does not decide what the
//! table should hold; that is `lvs-core`'s reconciler.
//!
//! This crate is being built issue by issue; the binding arrives with the
//! lvs-ipvs issue.
