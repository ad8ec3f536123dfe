//! Many real servers checked in one tokio runtime, instead of a nanny
//! process per server: each server's check runs on its own schedule, feeds
//! the server's [`Nanny`] machine, and the machine's table changes go to the
//! caller, which applies them (the director, with lvs-ipvs).
//!
//! Servers checked the same way (the same address and port, check, timeout
//! and interval: one real server behind several virtual services) share one
//! probe, and its result goes to each server's own machine.
//!
//! Start times are spread over the first interval in ten slots (each of 10
//! to 100 ms; half-open probes keep slots of 10 ms), so 10,000 servers checked every second make 1,000 checks
//! every 100 ms rather than one burst. A slot is one wake-up of the runtime
//! for its timer and a few for its answers, whatever the number of checks
//! in it: fewer, fuller slots cost less (on the lab's emulated machine, a
//! wake-up costs as much as a check), and checks of a slot still start one
//! after another, each with its own timeout.
//!
//! Plain TCP connect checks of IPv4 servers go out as half-open probes over
//! one raw socket when the process may open one: the [`SynProber`]'s one
//! task runs all of them, and their machines, on one timer (see
//! [`crate::probe`]). Every other probe, and the check of each server with
//! a load monitor, is a task of its own that makes its own connections.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::probe::{Schedule, SynProber, WatchId};
use crate::run::{Budget, Outcome};
use lvs_core::check::Check;
use lvs_core::nanny::{Nanny, NannyAction, NannyConfig, NannyEvent};

/// The slots an interval is cut into (fewer for intervals under 100 ms, more
/// over 1 s: a slot lasts 10 to 100 ms).
const SLOTS: u32 = 10;

/// The bounds of a slot's length.
const SLOT_BOUNDS: (Duration, Duration) = (Duration::from_millis(10), Duration::from_millis(100));

/// The slot length for checks every `interval`.
fn slot(interval: Duration) -> Duration {
    (interval / SLOTS).clamp(SLOT_BOUNDS.0, SLOT_BOUNDS.1)
}

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
        Shape::of(self).same(&Shape::of(other))
            && self.nanny == other.nanny
            && self.load_command == other.load_command
    }
}

pub use lvs_core::status::LastCheck;

/// The latest check of every server, by id: shared by the checks, which
/// write it, and whoever reports on them (a status request reads it
/// without going through the caller's loop).
#[derive(Clone, Debug, Default)]
pub struct CheckBoard {
    board: Arc<Mutex<Board>>,
    /// Whether an observer wants the checks' times: reading the clock
    /// after each check costs a system call where the clock is a device.
    observed: Arc<std::sync::atomic::AtomicBool>,
}

#[derive(Debug, Default)]
struct Board {
    latest: HashMap<usize, LastCheck>,
    /// Where each check goes as well ([`CheckBoard::report_to`]).
    listener: Option<UnboundedSender<(usize, LastCheck)>>,
    /// What each check is shown to ([`CheckBoard::observe_with`]).
    observer: Option<Observer>,
}

/// A function each recorded check is shown to.
struct Observer(Box<dyn Fn(&LastCheck) + Send + Sync>);

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer")
    }
}

impl CheckBoard {
    /// A copy of every server's latest check, by id.
    pub fn snapshot(&self) -> HashMap<usize, LastCheck> {
        self.board.lock().map(|b| b.latest.clone()).unwrap_or_default()
    }

    /// Whether the server `id` has been checked at least once.
    pub fn has_checked(&self, id: usize) -> bool {
        self.board.lock().is_ok_and(|b| b.latest.contains_key(&id))
    }

    /// Sends every check from now on to `listener` too, as it is recorded
    /// (a verbose director logs each). A closed listener is dropped.
    pub fn report_to(&self, listener: UnboundedSender<(usize, LastCheck)>) {
        if let Ok(mut board) = self.board.lock() {
            board.listener = Some(listener);
        }
    }

    /// Shows every check from now on to `observer` as it is recorded (the
    /// daemon's metrics count them and their times). It runs on the checks'
    /// threads, under the board's lock: it must be quick and not block.
    pub fn observe_with(&self, observer: impl Fn(&LastCheck) + Send + Sync + 'static) {
        if let Ok(mut board) = self.board.lock() {
            board.observer = Some(Observer(Box::new(observer)));
            self.observed.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// How long a check that started `at` took, when an observer wants to
    /// know (else the clock is not read).
    fn took_since(&self, at: Instant) -> Option<Duration> {
        self.observed
            .load(std::sync::atomic::Ordering::Relaxed)
            .then(|| Instant::now().saturating_duration_since(at))
    }

    fn insert(&self, id: usize, check: LastCheck) {
        if let Ok(mut board) = self.board.lock() {
            if let Some(Observer(observe)) = &board.observer {
                observe(&check);
            }
            if let Some(listener) = &board.listener {
                if listener.send((id, check.clone())).is_err() {
                    board.listener = None;
                }
            }
            board.latest.insert(id, check);
        }
    }

    fn remove(&self, id: usize) {
        if let Ok(mut board) = self.board.lock() {
            board.latest.remove(&id);
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
    runner: Runner,
}

/// What runs a server's check.
enum Runner {
    /// A task of its own, which owns the server's machine: a server with a
    /// load monitor, whose machine waits on its own load command.
    Alone(JoinHandle<()>),
    /// A member of a shared probe.
    Member(ProbeId),
}

/// Names a [`Probe`] within its engine.
type ProbeId = u64;

/// The machines of the servers one probe checks, by server id. The probe
/// feeds them under the lock, so a server taken out gets no later result.
type Members = Arc<Mutex<BTreeMap<usize, Feeder>>>;

/// The members, even after a panic while they were held: a probe that went
/// on without them, or a server counted in but not fed, would be worse
/// than a machine left mid-step.
fn members_of(members: &Members) -> std::sync::MutexGuard<'_, BTreeMap<usize, Feeder>> {
    members.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One check run for every server that is checked the same way: the same
/// target, check, timeout and interval (several virtual services balancing
/// to one real server, say). It runs once an interval and every member's
/// own machine gets the result, so each keeps its own weight, slow start
/// and reentry count.
struct Probe {
    shape: Shape,
    members: Members,
    runs: Runs,
}

/// What a probe's servers have in common.
#[derive(Clone, Debug)]
struct Shape {
    target: SocketAddr,
    check: Arc<Check>,
    timeout: Duration,
    interval: Duration,
}

impl Shape {
    fn of(server: &Server) -> Shape {
        Shape {
            target: server.target,
            check: Arc::clone(&server.check),
            timeout: server.timeout,
            interval: server.nanny.interval,
        }
    }

    fn same(&self, other: &Shape) -> bool {
        self.target == other.target
            && self.timeout == other.timeout
            && self.interval == other.interval
            && (Arc::ptr_eq(&self.check, &other.check) || *self.check == *other.check)
    }
}

/// What runs a probe.
enum Runs {
    /// A task of its own, with its own kept connections.
    Task(JoinHandle<()>),
    /// The half-open prober's task.
    Probed(WatchId),
}

/// The running checks; dropping it stops them.
pub struct Engine {
    watches: HashMap<usize, Watch>,
    probes: HashMap<ProbeId, Probe>,
    /// The probes of each target, so that a server finds its own at once.
    by_target: HashMap<SocketAddr, Vec<ProbeId>>,
    next_probe: ProbeId,
    prober: Option<Arc<SynProber>>,
    board: CheckBoard,
    updates: UnboundedSender<Update>,
}

impl Engine {
    /// Starts checking `servers` on the current tokio runtime. Updates go to
    /// `updates`; when the receiver is gone, the tasks end. Ids must be unique.
    ///
    /// Servers checked the same way (the same target, check, timeout and
    /// interval, and no load monitor) share one probe, whose result each
    /// server's machine gets.
    pub fn start(servers: Vec<Server>, updates: UnboundedSender<Update>) -> Engine {
        let prober = servers
            .iter()
            .any(|server| is_plain_connect(&server.check) && server.target.is_ipv4())
            .then(SynProber::new)
            .and_then(Result::ok)
            .map(Arc::new);
        let mut engine = Engine {
            watches: HashMap::new(),
            probes: HashMap::new(),
            by_target: HashMap::new(),
            next_probe: 0,
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
            // Half-open probes keep 10 ms slots: the prober sends each
            // slot's SYNs at once, and its replies should not come in bursts
            // of thousands.
            let half_open = self.prober.is_some()
                && server.load_command.is_none()
                && server.target.is_ipv4()
                && is_plain_connect(&server.check);
            let slot = if half_open {
                SLOT_BOUNDS.0
            } else {
                slot(server.nanny.interval)
            };
            let offset = slot * (spread.as_nanos() / slot.as_nanos()) as u32;
            // The old check stops before the new one starts.
            if let Some(old) = self.watches.remove(&server.id) {
                self.stop_one(server.id, old);
            }
            let feeder = Feeder::new(&server, self.board.clone(), self.updates.clone());
            let start = now + offset;
            let runner = if server.load_command.is_some() {
                let prober = self.prober.clone().filter(|_| is_plain_connect(&server.check));
                Runner::Alone(tokio::spawn(watch_task(server.clone(), prober, feeder, start)))
            } else {
                Runner::Member(self.join(&server, feeder, start))
            };
            self.watches.insert(server.id, Watch { server, runner });
        }
    }

    /// Adds `server`'s machine to the probe that checks it the same way,
    /// starting one (first at `start`) when none does.
    fn join(&mut self, server: &Server, feeder: Feeder, start: Instant) -> ProbeId {
        let shape = Shape::of(server);
        let found = self
            .by_target
            .get(&shape.target)
            .into_iter()
            .flatten()
            .filter_map(|id| Some((*id, self.probes.get(id)?)))
            .find(|(_, probe)| probe.shape.same(&shape))
            .map(|(id, probe)| (id, Arc::clone(&probe.members)));
        if let Some((id, members)) = found {
            members_of(&members).insert(server.id, feeder);
            return id;
        }
        let members: Members = Arc::new(Mutex::new(BTreeMap::from([(server.id, feeder)])));
        let runs = self.run_probe(&shape, &members, start);
        let id = self.next_probe;
        self.next_probe += 1;
        self.by_target.entry(shape.target).or_default().push(id);
        self.probes.insert(id, Probe { shape, members, runs });
        id
    }

    /// Starts a probe of `shape` for `members`, first at `start`.
    fn run_probe(&self, shape: &Shape, members: &Members, start: Instant) -> Runs {
        // Plain connect checks of IPv4 servers are the half-open prober's.
        if let Some(prober) = self.prober.as_ref().filter(|_| is_plain_connect(&shape.check)) {
            let schedule = Schedule {
                first: start,
                interval: shape.interval,
                timeout: shape.timeout,
            };
            let fed = Arc::clone(members);
            let kind = shape.check.kind();
            if let Some(watch) = prober.watch(shape.target, schedule, move |result, took| {
                let now = Instant::now();
                // Recorded as started when it went out.
                let started = now.checked_sub(took).unwrap_or(now);
                feed(&fed, &Outcome::of(result), started, (kind, Some(took)))
            }) {
                return Runs::Probed(watch);
            }
        }
        Runs::Task(tokio::spawn(probe_task(
            shape.clone(),
            Arc::clone(members),
            start,
        )))
    }

    /// Stops server `id`'s check: its task, or its place in a probe, and the
    /// probe once no server is left in it.
    fn stop_one(&mut self, id: usize, watch: Watch) {
        let probe_id = match watch.runner {
            Runner::Alone(task) => {
                task.abort();
                return;
            }
            Runner::Member(probe_id) => probe_id,
        };
        let Some(probe) = self.probes.get(&probe_id) else {
            return;
        };
        let left = {
            let mut members = members_of(&probe.members);
            members.remove(&id);
            members.len()
        };
        if left == 0 {
            if let Some(probe) = self.probes.remove(&probe_id) {
                if let Some(ids) = self.by_target.get_mut(&probe.shape.target) {
                    ids.retain(|id| *id != probe_id);
                    if ids.is_empty() {
                        self.by_target.remove(&probe.shape.target);
                    }
                }
                self.stop_probe(probe);
            }
        }
    }

    fn stop_probe(&self, probe: Probe) {
        match probe.runs {
            Runs::Task(task) => task.abort(),
            Runs::Probed(watch) => {
                if let Some(prober) = &self.prober {
                    prober.forget(watch);
                }
            }
        }
        // The prober may call once more before it sees the forget: with no
        // members, that call feeds nobody.
        members_of(&probe.members).clear();
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
                self.stop_one(id, watch);
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

    /// How many checks run each interval: one for each group of servers
    /// checked the same way, and one for each server with a load monitor.
    /// At most [`Engine::len`].
    pub fn probes(&self) -> usize {
        self.probes.len()
            + self
                .watches
                .values()
                .filter(|watch| matches!(watch.runner, Runner::Alone(_)))
                .count()
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
    pub fn stop_all(&mut self) {
        for (_, watch) in std::mem::take(&mut self.watches) {
            if let Runner::Alone(task) = watch.runner {
                task.abort();
            }
        }
        self.by_target.clear();
        for (_, probe) in std::mem::take(&mut self.probes) {
            self.stop_probe(probe);
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

/// Whether a server's check goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    /// It does.
    Go,
    /// The machine waits for the server's load ([`Feeder::loaded`]).
    Load,
    /// The caller is gone.
    Stop,
}

/// A server's nanny machine, fed with its check results: it records each on
/// the board and sends the machine's actions to the caller.
struct Feeder {
    id: usize,
    machine: Nanny,
    board: CheckBoard,
    updates: UnboundedSender<Update>,
    /// Actions held back while the machine waits for the load.
    held: Vec<NannyAction>,
}

impl Feeder {
    fn new(server: &Server, board: CheckBoard, updates: UnboundedSender<Update>) -> Feeder {
        let machine = match server.adopt {
            Some(weight) => Nanny::adopted(server.nanny, server.target.to_string(), weight),
            None => Nanny::new(server.nanny, server.target.to_string()),
        };
        Feeder {
            id: server.id,
            machine,
            board,
            updates,
            held: Vec::new(),
        }
    }

    /// A check of `kind` that started `at` ended with `outcome` after
    /// `took`, when the caller knows (else the board times it if wanted).
    fn checked(&mut self, outcome: Outcome, at: Instant, (kind, took): Timed) -> Flow {
        let event = outcome.event();
        let mut last =
            LastCheck::new(at.into_std(), outcome.result).with_certificate(outcome.certificate_expires);
        if let Some(took) = took.or_else(|| self.board.took_since(at)) {
            last = last.timed(kind, took);
        }
        self.board.insert(self.id, last);
        let actions = self.machine.handle(event);
        self.pass(actions)
    }

    /// The load the machine asked for (`None`: none could be read).
    fn loaded(&mut self, load: Option<f64>) -> Flow {
        let actions = self.machine.handle(NannyEvent::Load(load));
        self.pass(actions)
    }

    /// Sends `actions` after those held back, unless the machine asks for
    /// the load first: then it holds them until the load comes.
    fn pass(&mut self, actions: Vec<NannyAction>) -> Flow {
        let mut waits = false;
        for action in actions {
            if action == NannyAction::QueryLoad {
                waits = true;
            } else {
                self.held.push(action);
            }
        }
        if waits {
            return Flow::Load;
        }
        for action in self.held.drain(..) {
            let update = Update { id: self.id, action };
            if self.updates.send(update).is_err() {
                return Flow::Stop;
            }
        }
        Flow::Go
    }
}

/// A check's kind ([`Check::kind`](lvs_core::check::Check::kind)) and how
/// long it took, when the caller measured it.
type Timed = (&'static str, Option<Duration>);

/// Gives every member of a probe `outcome`, of a check that started `at`;
/// false once the caller is gone. The members have no load monitor, so
/// none waits for a load.
fn feed(members: &Members, outcome: &Outcome, at: Instant, (kind, took): Timed) -> bool {
    let mut members = members_of(members);
    // Timed once for all the members (they share the board), if at all.
    let took = took.or_else(|| members.values().next()?.board.took_since(at));
    let timed = (kind, took);
    members.values_mut().all(|feeder| {
        let flow = match feeder.checked(outcome.clone(), at, timed) {
            Flow::Load => feeder.loaded(None),
            flow => flow,
        };
        flow != Flow::Stop
    })
}

/// A check's schedule: a tick every `interval` from its first, as tokio's
/// `Interval` with missed ticks skipped, but reading the clock once a tick
/// and handing the reading out, for the check's timeout and its record.
/// Where the clock is a device (the HPET of an emulated machine), each
/// reading is a system call, and tokio's interval, a timeout and the record
/// took three a check: a third of the checks' CPU, by the lab's profile.
struct Ticker {
    next: Instant,
    interval: Duration,
}

impl Ticker {
    fn new(first: Instant, interval: Duration) -> Ticker {
        Ticker {
            next: first,
            // tokio's interval refuses zero as well.
            interval: interval.max(Duration::from_millis(1)),
        }
    }

    /// Waits for the next tick; the time it woke.
    async fn tick(&mut self) -> Instant {
        tokio::time::sleep_until(self.next).await;
        let now = Instant::now();
        self.next += self.interval;
        if self.next <= now {
            // After a stall (a busy runtime), missed checks are skipped and
            // the next one keeps its place in the spread; delaying them
            // instead would leave every stalled server checking at the same
            // instant from then on.
            let behind = (now - self.next).as_nanos() % self.interval.as_nanos();
            self.next = now + (self.interval - Duration::from_nanos(behind as u64));
        }
        now
    }
}

/// A probe run by a task of its own, for all its members.
async fn probe_task(shape: Shape, members: Members, start: Instant) {
    let mut ticker = Ticker::new(start, shape.interval);
    // Kept connections live as long as this task: a probe that stops drops them.
    let mut session = crate::run::Session::new();
    loop {
        let now = ticker.tick().await;
        let budget = Budget {
            from: now,
            limit: shape.timeout,
        };
        let outcome = crate::run::run_started(&mut session, &shape.check, shape.target, budget).await;
        if !feed(&members, &outcome, now, (shape.check.kind(), None)) {
            return;
        }
    }
}

/// A server with a load monitor, checked by a task of its own.
async fn watch_task(server: Server, prober: Option<Arc<SynProber>>, mut feeder: Feeder, start: Instant) {
    let mut ticker = Ticker::new(start, server.nanny.interval);
    // Kept connections live as long as this task: a replaced check drops them.
    let mut session = crate::run::Session::new();
    loop {
        let now = ticker.tick().await;
        let probed = match &prober {
            Some(prober) => prober.probe(server.target, server.timeout).await,
            None => None,
        };
        let budget = Budget {
            from: now,
            limit: server.timeout,
        };
        let outcome = match probed {
            Some(result) => Outcome::of(result),
            None => crate::run::run_started(&mut session, &server.check, server.target, budget).await,
        };
        let mut flow = feeder.checked(outcome, now, (server.check.kind(), None));
        while flow == Flow::Load {
            let load = match &server.load_command {
                Some(command) => crate::run::query_load(command, server.target.ip(), server.timeout).await,
                None => None,
            };
            flow = feeder.loaded(load);
        }
        if flow == Flow::Stop {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ticks keep their schedule; after a stall the missed ones are
    /// skipped and the next keeps its place; each tick hands out the time
    /// it woke.
    #[test]
    fn the_ticker_skips_missed_ticks_and_keeps_its_place() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let ms = Duration::from_millis;
            let first = Instant::now() + ms(30);
            let mut ticker = Ticker::new(first, ms(100));
            assert_eq!(ticker.tick().await, first);
            assert_eq!(ticker.tick().await, first + ms(100));
            // A stall of 3.5 intervals: the ticks at 200, 300 and 400 are missed.
            tokio::time::advance(ms(350)).await;
            let late = ticker.tick().await;
            assert_eq!(late, first + ms(450), "one tick at once, late");
            assert_eq!(ticker.tick().await, first + ms(500), "then on its schedule");
            assert_eq!(ticker.tick().await, first + ms(600));
        });
    }

    #[test]
    fn slots_are_a_tenth_of_the_interval_within_their_bounds() {
        let ms = Duration::from_millis;
        assert_eq!(slot(ms(1000)), ms(100));
        assert_eq!(slot(ms(500)), ms(50));
        assert_eq!(slot(ms(6000)), ms(100), "long intervals: more slots of 100 ms");
        assert_eq!(slot(ms(50)), ms(10), "short intervals: fewer slots of 10 ms");
    }
}
