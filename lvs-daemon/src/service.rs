//! Telling a service manager how a daemon is: systemd's notification
//! protocol (`Type=notify`), through the `sd-notify` crate. An opt-in part
//! for programs, like [`crate::process`]: an embedded daemon that nobody
//! supervises needs none of it.
//!
//! Each daemon publishes its [`Phase`] on a watch channel its handle hands
//! out; [`report_to_manager`] follows it and tells the manager `READY=1`
//! once the daemon serves, `RELOADING=1` while it re-reads its file,
//! `STOPPING=1` as it stands down, and a one-line `STATUS=`. When the unit
//! asks for a watchdog (`WatchdogSec=`), it pings at half the interval, and
//! only after the daemon's own event loop has answered a probe: a daemon
//! whose loop is stuck stops pinging and is restarted.

use std::future::Future;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio::sync::watch;

/// What a daemon is doing, as a service manager is told it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Prepared, not serving yet.
    Starting,
    /// Serving; the line says how (`STATUS=`).
    Running(String),
    /// Re-reading its configuration.
    Reloading,
    /// Standing down before it ends.
    Stopping,
}

/// A running daemon as a service manager sees it: its phases, and a probe
/// of its event loop.
pub trait Supervised: Send + 'static {
    /// The daemon's phase, as it changes; closed when the daemon has ended.
    fn phases(&self) -> watch::Receiver<Phase>;

    /// Completes with true once the daemon's event loop has answered, or
    /// false when the daemon has ended.
    fn alive(&self) -> impl Future<Output = bool> + Send;
}

/// The service manager's variables, and their removal from a child's
/// environment: kept with the checks, whose programs are children too.
pub use lvs_health::run::{without_manager, MANAGER_VARIABLES};

/// Whether a service manager listens to this process (`NOTIFY_SOCKET`).
pub fn supervised() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
}

/// A daemon's answer to a watchdog probe: sends the command `probe` makes
/// down `commands` and waits for the loop to answer it; false once the
/// daemon has ended.
pub(crate) async fn probe<C>(
    commands: &tokio::sync::mpsc::UnboundedSender<C>,
    probe: impl FnOnce(tokio::sync::oneshot::Sender<()>) -> C,
) -> bool {
    let (answer, answered) = tokio::sync::oneshot::channel();
    commands.send(probe(answer)).is_ok() && answered.await.is_ok()
}

/// Tells the service manager, if one listens, that a program without
/// phases of its own (the web tool) serves now, and how.
pub fn ready(status: &str) {
    tell(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// How long a watchdog probe of the event loop may take before the ping is
/// skipped: far longer than any step of a daemon's loop, far shorter than
/// any sensible `WatchdogSec=`.
const PROBE_LIMIT: Duration = Duration::from_secs(5);

/// Follows `daemon`'s phases and tells the service manager each of them,
/// pinging the watchdog when the unit has one, until the daemon ends.
/// Returns at once when no manager listens. Must be run inside the daemon's
/// tokio runtime (spawned beside it).
pub async fn report_to_manager(daemon: impl Supervised) {
    if !supervised() {
        return;
    }
    let mut phases = daemon.phases();
    let watchdog = sd_notify::watchdog_enabled();
    let mut ping = watchdog.map(|interval| {
        let mut ticker = tokio::time::interval((interval / 2).max(Duration::from_millis(100)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker
    });
    let mut last = None;
    loop {
        let phase = phases.borrow_and_update().clone();
        if last.as_ref() != Some(&phase) {
            tell(&states_for(last.as_ref(), &phase));
            last = Some(phase);
        }
        tokio::select! {
            changed = phases.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            _ = async {
                match ping.as_mut() {
                    Some(ticker) => ticker.tick().await,
                    None => std::future::pending().await,
                }
            } => {
                if matches!(tokio::time::timeout(PROBE_LIMIT, daemon.alive()).await, Ok(true)) {
                    tell(&[NotifyState::Watchdog]);
                }
            }
        }
    }
}

/// The notification for a move from `last` to `phase`.
fn states_for<'a>(last: Option<&Phase>, phase: &'a Phase) -> Vec<NotifyState<'a>> {
    match phase {
        Phase::Starting => vec![NotifyState::Status("starting")],
        Phase::Running(status) => {
            // READY=1 ends a start and a reload alike; a new status alone says only that.
            match last {
                Some(Phase::Running(_)) => vec![NotifyState::Status(status)],
                _ => vec![NotifyState::Ready, NotifyState::Status(status)],
            }
        }
        // systemd (253 and later) wants the clock with a reload's start.
        Phase::Reloading => {
            let mut states = vec![NotifyState::Reloading, NotifyState::Status("reloading")];
            states.extend(NotifyState::monotonic_usec_now().ok());
            states
        }
        Phase::Stopping => vec![NotifyState::Stopping, NotifyState::Status("stopping")],
    }
}

/// Sends `states`; a manager that is gone is no reason to stop serving.
fn tell(states: &[NotifyState]) {
    let _ = sd_notify::notify(states);
}

#[cfg(test)]
mod tests {
    use super::{states_for, Phase};

    fn lines(last: Option<&Phase>, phase: &Phase) -> Vec<String> {
        states_for(last, phase).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn readiness_comes_once_a_daemon_serves_and_after_each_reload() {
        let running = Phase::Running("2 virtual services".to_owned());
        assert_eq!(
            lines(Some(&Phase::Starting), &running),
            ["READY=1", "STATUS=2 virtual services"]
        );
        let reloading = lines(Some(&running), &Phase::Reloading);
        assert_eq!(reloading[..2], ["RELOADING=1", "STATUS=reloading"]);
        assert!(reloading[2].starts_with("MONOTONIC_USEC="));
        assert_eq!(lines(Some(&Phase::Reloading), &running)[0], "READY=1");
        let other = Phase::Running("active".to_owned());
        assert_eq!(lines(Some(&running), &other), ["STATUS=active"]);
        assert_eq!(
            lines(Some(&other), &Phase::Stopping),
            ["STOPPING=1", "STATUS=stopping"]
        );
    }
}
