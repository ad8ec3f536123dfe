//! Many real servers checked in one tokio runtime, instead of a nanny
//! process per server: each server is a task that runs its check on its own
//! schedule, feeds its [`Nanny`] machine, and sends the machine's table
//! changes to the caller, which applies them (the director, with lvs-ipvs).
//!
//! Start times are spread over the first interval in 10 ms slots, so 10,000
//! servers checked every second make a steady 100 checks every 10 ms, not a
//! burst, and the runtime wakes 100 times a second for them, not 1,000.
//!
//! Plain TCP connect checks of IPv4 servers go out as half-open probes over
//! one raw socket ([`SynProber`]) when the process may open one; otherwise,
//! and for every other check, each check makes its own connection.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio::time::{interval_at, Instant, MissedTickBehavior};

use crate::probe::SynProber;
use lvs_core::check::{Check, Failure};
use lvs_core::nanny::{Nanny, NannyAction, NannyConfig, NannyEvent};

/// Checks start on these boundaries within the first interval.
const SLOT: Duration = Duration::from_millis(10);

/// One real server to watch.
#[derive(Clone, Debug)]
pub struct Server {
    /// The caller's name for it, returned with its updates.
    pub id: usize,
    /// Where it is checked.
    pub target: SocketAddr,
    /// How.
    pub check: Arc<Check>,
    /// Bounds each check (Piranha: the interval).
    pub timeout: Duration,
    /// The machine's settings; `interval` is the time between checks.
    pub nanny: NannyConfig,
    /// The load monitor command, if any (nanny's `-U`).
    pub load_command: Option<String>,
    /// The weight the table already holds it at, when it is adopted from a
    /// running table (see [`Nanny::adopted`]); `None` starts it out.
    pub adopt: Option<u32>,
}

impl Server {
    /// Whether `other` is checked the same way (its `adopt` aside, which
    /// only matters to a check that starts).
    pub fn same_check(&self, other: &Server) -> bool {
        self.target == other.target
            && self.timeout == other.timeout
            && self.nanny == other.nanny
            && self.load_command == other.load_command
            && (Arc::ptr_eq(&self.check, &other.check) || *self.check == *other.check)
    }
}

pub use lvs_core::status::LastCheck;

/// The latest check of every server, by id: shared by the checks, which
/// write it, and whoever reports on them (a status request reads it
/// without going through the caller's loop).
#[derive(Clone, Debug, Default)]
pub struct CheckBoard(Arc<Mutex<HashMap<usize, LastCheck>>>);

impl CheckBoard {
    /// A copy of every server's latest check, by id.
    pub fn snapshot(&self) -> HashMap<usize, LastCheck> {
        self.0.lock().map(|b| b.clone()).unwrap_or_default()
    }

    fn insert(&self, id: usize, check: LastCheck) {
        if let Ok(mut board) = self.0.lock() {
            board.insert(id, check);
        }
    }

    fn remove(&self, id: usize) {
        if let Ok(mut board) = self.0.lock() {
            board.remove(&id);
        }
    }
}

/// A table change (or a log line) for server `id`.
#[derive(Clone, Debug, PartialEq)]
pub struct Update {
    /// The server's id.
    pub id: usize,
    /// What its machine decided.
    pub action: NannyAction,
}

/// A server's running check, and what it was started with.
struct Watch {
    server: Server,
    task: JoinHandle<()>,
}

/// The running checks; dropping it stops them.
pub struct Engine {
    watches: HashMap<usize, Watch>,
    prober: Option<Arc<SynProber>>,
    board: CheckBoard,
    updates: UnboundedSender<Update>,
}

impl Engine {
    /// Starts a task per server on the current tokio runtime. Updates go to
    /// `updates`; when the receiver is gone, the tasks end. Ids must be unique.
    pub fn start(servers: Vec<Server>, updates: UnboundedSender<Update>) -> Engine {
        let prober = servers
            .iter()
            .any(|server| is_plain_connect(&server.check) && server.target.is_ipv4())
            .then(SynProber::new)
            .and_then(Result::ok)
            .map(Arc::new);
        let mut engine = Engine {
            watches: HashMap::new(),
            prober,
            board: CheckBoard::default(),
            updates,
        };
        engine.spawn_spread(servers);
        engine
    }

    /// Starts `servers`, their first checks spread over their interval.
    fn spawn_spread(&mut self, servers: Vec<Server>) {
        let count = servers.len().max(1) as u32;
        let now = Instant::now();
        for (index, server) in servers.into_iter().enumerate() {
            let spread = server
                .nanny
                .interval
                .mul_f64(f64::from(index as u32) / f64::from(count));
            // Whole slots, so that the runtime wakes once a slot for a
            // batch of checks rather than once a millisecond.
            let offset = SLOT * (spread.as_nanos() / SLOT.as_nanos()) as u32;
            let prober = self.prober.clone().filter(|_| is_plain_connect(&server.check));
            let slot = Slot {
                board: self.board.clone(),
                id: server.id,
            };
            let task = tokio::spawn(watch(
                server.clone(),
                prober,
                slot,
                now + offset,
                self.updates.clone(),
            ));
            if let Some(old) = self.watches.insert(server.id, Watch { server, task }) {
                old.task.abort();
            }
        }
    }

    /// Changes the set of servers: a server whose id and settings are
    /// unchanged keeps its running check (and its machine's state: slow
    /// start, reentry counts); one that changed is restarted (adopted at
    /// its new `adopt`); one that is gone stops; new ones start.
    pub fn replace(&mut self, servers: Vec<Server>) {
        let wanted: HashSet<usize> = servers.iter().map(|s| s.id).collect();
        let gone: Vec<usize> = self
            .watches
            .keys()
            .filter(|id| !wanted.contains(id))
            .copied()
            .collect();
        self.revise(gone, servers);
    }

    /// Stops the checks of `gone` and runs `servers`: as [`Engine::replace`]
    /// does, but touching only the servers named, so that a reload that
    /// changes a few servers costs little however many run.
    pub fn revise(&mut self, gone: impl IntoIterator<Item = usize>, servers: Vec<Server>) {
        for id in gone {
            if let Some(watch) = self.watches.remove(&id) {
                watch.task.abort();
            }
            self.board.remove(id);
        }
        let fresh: Vec<Server> = servers
            .into_iter()
            .filter(|server| {
                self.watches
                    .get(&server.id)
                    .is_none_or(|watch| !watch.server.same_check(server))
            })
            .collect();
        if self.prober.is_none()
            && fresh
                .iter()
                .any(|s| is_plain_connect(&s.check) && s.target.is_ipv4())
        {
            self.prober = SynProber::new().ok().map(Arc::new);
        }
        self.spawn_spread(fresh);
    }

    /// The latest check of each server, by id.
    pub fn last_checks(&self) -> HashMap<usize, LastCheck> {
        self.board.snapshot()
    }

    /// The board the checks record on, for readers outside the caller's loop.
    pub fn board(&self) -> CheckBoard {
        self.board.clone()
    }

    /// Whether plain TCP checks go out as half-open probes (the process may
    /// open a raw socket) rather than as connections.
    pub fn half_open(&self) -> bool {
        self.prober.is_some()
    }

    /// How many servers are being watched.
    pub fn len(&self) -> usize {
        self.watches.len()
    }

    /// Whether no server is watched.
    pub fn is_empty(&self) -> bool {
        self.watches.is_empty()
    }

    /// Stops every check.
    pub fn stop(self) {
        drop(self);
    }

    /// Stops every check, keeping the engine (for a caller that owns it in a
    /// struct it goes on using).
    pub fn stop_all(&self) {
        for watch in self.watches.values() {
            watch.task.abort();
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.stop_all();
    }
}

fn is_plain_connect(check: &Check) -> bool {
    matches!(
        check,
        Check::Tcp {
            send: None,
            expect: None
        }
    )
}

/// A server's place on the board.
struct Slot {
    board: CheckBoard,
    id: usize,
}

impl Slot {
    fn record(&self, result: &Result<(), Failure>) {
        self.board.insert(
            self.id,
            LastCheck::new(std::time::SystemTime::now(), result.clone()),
        );
    }
}

async fn watch(
    server: Server,
    prober: Option<Arc<SynProber>>,
    slot: Slot,
    start: Instant,
    updates: UnboundedSender<Update>,
) {
    let mut machine = match server.adopt {
        Some(weight) => Nanny::adopted(server.nanny, server.target.to_string(), weight),
        None => Nanny::new(server.nanny, server.target.to_string()),
    };
    let mut ticker = interval_at(start, server.nanny.interval);
    // After a stall (a busy runtime), missed checks are skipped and the
    // next one keeps its place in the spread; delaying them instead would
    // leave every stalled server checking at the same instant from then on.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        ticker.tick().await;
        let probed = match &prober {
            Some(prober) => prober.probe(server.target, server.timeout).await,
            None => None,
        };
        let result = match probed {
            Some(result) => result,
            None => crate::run::run(&server.check, server.target, server.timeout).await,
        };
        slot.record(&result);
        let mut actions = machine.handle(NannyEvent::Checked { up: result.is_ok() });
        while let Some(position) = actions.iter().position(|a| *a == NannyAction::QueryLoad) {
            actions.remove(position);
            let load = match &server.load_command {
                Some(command) => crate::run::query_load(command, server.target.ip(), server.timeout).await,
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
