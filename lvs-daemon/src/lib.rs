//! The lvs-rs daemons as libraries: the director that keeps the IPVS table
//! in step with lvs.cf and the servers' health ([`director`], Piranha's
//! lvsd), the failover daemon of a router pair ([`pulse`]), and the nanny
//! loop that checks one server ([`nanny`]).
//!
//! Each is built from an options struct (no command-line types), runs as a
//! future on the caller's tokio runtime (a current-thread runtime with IO
//! and time enabled is enough), and stops when the future the caller passes
//! completes or when the caller's handle says so. Nothing here forks,
//! installs signal handlers or opens syslog unless asked: [`process`] has
//! detaching, pid files and the daemons' signals, [`service`] speaks to a
//! service manager (readiness, reloads, the watchdog), and [`log::Log`] writes to
//! the journal (with fields) or syslog only when opened so. The programs in `lvs-cli` are those parts put
//! together.
//!
//! ```no_run
//! use lvs_daemon::director::{Director, DirectorOptions};
//! use lvs_daemon::log::Log;
//!
//! # async fn run() -> Result<(), lvs_daemon::director::DirectorError> {
//! let options = DirectorOptions::new("/etc/sysconfig/ha/lvs.cf").status_socket(None);
//! let director = Director::prepare(options, Log::stderr("lvs: ", false))?;
//! let handle = director.handle();
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! // Elsewhere: handle.reload(), or stop.send(()) to end the director.
//! # drop((handle, stop));
//! director.run(async { let _ = stopped.await; }).await
//! # }
//! ```
//!
//! `examples/embed.rs` embeds pulse and the director in one program, with
//! its own shutdown signal; CI runs it against the kernel.
//!
//! # Non-features
//!
//! - No decisions of its own: when to fail over, when a server goes out and
//!   what the table should hold come from `lvs-core`; this crate carries
//!   them out.
//! - No runtime of its own, no global state: two directors in one process
//!   are two values (each with its own status socket, if any).
//! - The status protocol is one line in, one answer out, on a Unix socket
//!   of mode 0600: no authentication beyond who may connect.
//! - The metrics listener (`DirectorOptions::metrics`,
//!   `PulseOptions::metrics`) answers `GET /metrics` to anyone who can
//!   connect, without TLS or credentials: bind it where only the scraper
//!   reaches.

/// Where the director answers status requests unless told otherwise.
pub const DEFAULT_STATUS_SOCKET: &str = "/var/run/lvs.sock";
/// The director's pid file (Piranha's).
pub const DEFAULT_LVS_PIDFILE: &str = "/var/run/lvs.pid";
/// Where pulse with VIP groups answers status requests unless told otherwise.
pub const DEFAULT_PULSE_SOCKET: &str = "/var/run/pulse.sock";
/// pulse's pid file (Piranha's).
pub const DEFAULT_PULSE_PIDFILE: &str = "/var/run/pulse.pid";

pub mod config;
pub mod director;
pub mod events;
pub mod files;
pub mod holds;
pub mod log;
mod metrics;
pub mod nannies;
pub mod nanny;
pub mod ownership;
pub mod process;
pub mod pulse;
pub mod service;
pub mod status;
pub mod sysctl;
