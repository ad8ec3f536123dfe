//! The decisions of lvs-rs, and nothing else.
//!
//! This crate contains no networking code, starts no process and does not
//! get any relevant timestamps from the operating system: every state
//! machine takes events and the current time and returns actions, every
//! planner takes what it needs (the parsed lvs.cf, the servers' health, the
//! kernel's table as last known, a resolver for host names) and returns
//! values. The daemons in `lvs-daemon` own the sockets, timers, processes
//! and the IPVS handle, and carry the actions out; the checks run in
//! `lvs-health`.
//!
//! - [`failover`]: pulse's state machine; [`heartbeat`]: its datagrams
//!   (Piranha's format and an authenticated one); [`router`]: what pulse
//!   takes from lvs.cf (role, heartbeat channels, VIPs, commands);
//!   [`election`]: VIP groups over any number of routers, with priorities,
//!   preemption and tracked local health; [`groups`]: what pulse takes
//!   from an lvs.cf with VIP groups.
//! - [`acceptance`]: whether the daemons would take a configuration (the
//!   check `lvs --check` and the web tool share with them).
//! - [`check`]: what a health check is and why one failed; [`nanny`]: the
//!   machine that turns check results into table changes.
//! - [`admin`]: operators' holds on servers (drained, disabled), beside
//!   their health.
//! - [`director`]: the planner and reconciler that turn lvs.cf and the
//!   servers' health into the IPVS operations the kernel's table needs,
//!   and the health a reload carries over; [`status`]: the director's typed
//!   status, as it is served, printed and scraped; [`preview`]: what a
//!   reload would do before it is done, and what drifted behind the
//!   director's back; [`quorum`]: the least total weight a service runs
//!   with; [`events`]: what the director tells programs as things
//!   happen; [`throttle`]: how
//!   often a repeated log line may be written.
//!
//! # Call contract
//!
//! A machine's `handle`/`on_timeout` are called with a `now` that never goes
//! backwards (a monotonic clock in the daemons, a simulated one in tests);
//! `next_timeout` says when to call again. The actions returned are carried
//! out in order before the next event is handed in.
//!
//! # Non-features
//!
//! - No IO of any kind: no sockets, no DNS (names resolve through the
//!   resolver the caller passes), no clock, no tokio, no `libc`.
//! - No retries or timers of its own: the caller's loop owns time.
//! - No logging: log lines come back as actions or errors for the caller.

pub mod acceptance;
pub mod admin;
pub mod check;
pub mod director;
pub mod election;
pub mod events;
pub mod failover;
pub mod groups;
pub mod heartbeat;
pub mod history;
pub mod nanny;
pub mod preview;
pub mod quorum;
pub mod router;
pub mod status;
pub mod throttle;
