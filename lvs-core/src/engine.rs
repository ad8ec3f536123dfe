//! Many real servers checked in one tokio runtime, instead of a nanny
//! process per server: each server is a task that runs its check on its own
//! schedule, feeds its [`Nanny`] machine, and sends the machine's table
//! changes to the caller, which applies them (the director, with lvs-ipvs).
//!
//! Start times are spread over the first interval, so 10,000 servers checked
//! every second make a steady 10,000 checks a second, not a burst.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio::time::{interval_at, Instant, MissedTickBehavior};

use crate::check::{self, Check};
use crate::nanny::{Nanny, NannyAction, NannyConfig, NannyEvent};

/// One real server to watch.
#[derive(Clone, Debug)]
pub struct Server {
    /// The caller's name for it, returned with its updates.
    pub id: usize,
    pub target: SocketAddr,
    pub check: Arc<Check>,
    /// Bounds each check (Piranha: the interval).
    pub timeout: Duration,
    /// The machine's settings; `interval` is the time between checks.
    pub nanny: NannyConfig,
    /// The load monitor command, if any (nanny's `-U`).
    pub load_command: Option<String>,
}

/// A table change (or a log line) for server `id`.
#[derive(Clone, Debug, PartialEq)]
pub struct Update {
    pub id: usize,
    pub action: NannyAction,
}

/// The running checks; dropping it stops them.
pub struct Engine {
    tasks: Vec<JoinHandle<()>>,
}

impl Engine {
    /// Starts a task per server on the current tokio runtime. Updates go to
    /// `updates`; when the receiver is gone, the tasks end.
    pub fn start(servers: Vec<Server>, updates: UnboundedSender<Update>) -> Engine {
        let count = servers.len().max(1) as u32;
        let now = Instant::now();
        let tasks = servers
            .into_iter()
            .enumerate()
            .map(|(index, server)| {
                let offset = server
                    .nanny
                    .interval
                    .mul_f64(f64::from(index as u32) / f64::from(count));
                let updates = updates.clone();
                tokio::spawn(watch(server, now + offset, updates))
            })
            .collect();
        Engine { tasks }
    }

    /// How many servers are being watched.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Stops every check.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn watch(server: Server, start: Instant, updates: UnboundedSender<Update>) {
    let mut machine = Nanny::new(server.nanny, server.target.to_string());
    let mut ticker = interval_at(start, server.nanny.interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let up = check::run(&server.check, server.target, server.timeout)
            .await
            .is_ok();
        let mut actions = machine.handle(NannyEvent::Checked { up });
        while let Some(position) = actions.iter().position(|a| *a == NannyAction::QueryLoad) {
            actions.remove(position);
            let load = match &server.load_command {
                Some(command) => check::query_load(command, server.target.ip(), server.timeout).await,
                None => None,
            };
            actions.extend(machine.handle(NannyEvent::Load(load)));
        }
        for action in actions {
            if updates
                .send(Update {
                    id: server.id,
                    action,
                })
                .is_err()
            {
                return;
            }
        }
    }
}
