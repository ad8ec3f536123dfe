//! The director's status, served and asked for.
//!
//! The server side answers on a Unix socket (one line in, `json` or `text`,
//! the status out; `plan PATH`, what a reload to that file would do, as
//! JSON; `resync`, what the director found changed behind its back and
//! restored, as JSON; `admin` and an [`AdminRequest`] as JSON, a server
//! drained, disabled or enabled, answered as JSON; `events`, the
//! director's events as JSON lines for as long as the client reads;
//! `history`, `history first N` or `history NAME`, the last hour of every
//! service (with the first N's servers) or of one with its servers,
//! as JSON, which a task of the server samples every few seconds) and,
//! when asked to, Prometheus text over HTTP. Each
//! connection is a task of its own, bounded in time and in number, that
//! reads the [`Snapshot`] the director's loop last published, the checks'
//! board, and the kernel's counters on a blocking thread: a client that
//! sends nothing or never reads costs a task until its time runs out, and
//! never the loop's attention.
//!
//! The client side ([`ask`], [`fetch`]) is what `lvs --status` and the web
//! tool use.

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use lvs_core::admin::{AdminAnswer, AdminRequest};
use lvs_core::director::{Health, Plan, ServerRef};
use lvs_core::history::{History, HistoryOptions, HistoryView, Scope};
use lvs_core::preview::{PlanAnswer, ResyncReport};
use lvs_core::status::{KernelService, LastCheck, Status, StatusInputs};
use lvs_health::engine::CheckBoard;
use lvs_ipvs::{Ipvs, ServiceKey};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{watch, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use crate::director::DirectorHandle;
use crate::log::Log;
use crate::metrics::DirectorMetrics;

/// How long a client has to send its request.
pub const REQUEST_TIME: Duration = Duration::from_secs(2);
/// How long a client has to take the answer.
pub const ANSWER_TIME: Duration = Duration::from_secs(5);
/// Connections served at once, per listener; more are closed at once.
pub const MAX_CONNECTIONS: usize = 512;
/// The longest request line read.
const MAX_REQUEST: u64 = 8 * 1024;

/// What the director's loop shares with status requests.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// The running plan.
    pub plan: Arc<Plan>,
    /// Each server's health.
    pub health: HashMap<ServerRef, Health>,
    /// The operators' holds.
    pub holds: lvs_core::admin::Holds,
    /// The services that lost their quorum.
    pub quorums: lvs_core::quorum::Quorums,
    /// Each server's id on the checks' board.
    pub ids: HashMap<ServerRef, usize>,
}

/// How long one reading of the kernel's counters serves the requests that
/// follow it: a burst of scrapes costs one table dump, not one each.
const LISTING_REUSE: Duration = Duration::from_secs(1);

/// The kernel's services and destinations, by key.
type Listing = HashMap<ServiceKey, KernelService>;

/// The director's status handle and its last reading, with when it was made.
type KernelReader = (Ipvs, Option<(Instant, Arc<Listing>)>);

/// How long one rendered answer serves the requests that follow it. A
/// large table's status takes CPU on the checks' runtime to build and
/// render, so clients asking without pause get one rendering a second
/// between them, not one each (the soak's false downs, three clients
/// asking all along a 1,000-server table).
const ANSWER_REUSE: Duration = Duration::from_secs(1);

/// The forms an answer is rendered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Rendering {
    Json,
    Text,
    Metrics,
}

/// The last answer in each form, with when it was rendered.
type Answers = HashMap<Rendering, (Instant, Arc<String>)>;

/// Reads what a status answer needs, off the director's loop.
#[derive(Clone)]
struct Reader {
    snapshot: watch::Receiver<Arc<Snapshot>>,
    board: CheckBoard,
    /// The kernel's counters: the director's status handle and the last
    /// reading; `None` in a dry run.
    kernel: Option<Arc<std::sync::Mutex<KernelReader>>>,
    /// Held while an answer is rendered: requests that come meanwhile wait
    /// for it and share it.
    answers: Arc<tokio::sync::Mutex<Answers>>,
    /// The director, for what only its loop can answer (a plan, a resync)
    /// and its events.
    director: Option<DirectorHandle>,
    /// What the director counts, for the metrics.
    metrics: DirectorMetrics,
    /// The last hour, sampled off the loop (`history` requests), if kept.
    history: Option<Arc<std::sync::Mutex<History>>>,
}

impl Reader {
    /// The kernel's listing, read at most once a [`LISTING_REUSE`]; empty
    /// when it cannot be read. A reading that is not `shared` (the
    /// history's) is not kept for the requests that follow: a sample taken
    /// just before a table change must not make a status request just after
    /// it show the table from before.
    async fn listing(&self, shared: bool) -> Arc<Listing> {
        let Some(kernel) = self.kernel.clone() else {
            return Arc::default();
        };
        // A table dump blocks: it runs on a thread of the blocking pool.
        tokio::task::spawn_blocking(move || {
            let Ok(mut kernel) = kernel.lock() else {
                return Arc::default();
            };
            let (ipvs, last) = &mut *kernel;
            if let Some((at, listing)) = last {
                if at.elapsed() < LISTING_REUSE {
                    return Arc::clone(listing);
                }
            }
            let listing = Arc::new(kernel_listing(ipvs));
            if shared {
                *last = Some((Instant::now(), Arc::clone(&listing)));
            }
            listing
        })
        .await
        .unwrap_or_default()
    }

    /// The status as `rendering`, rendered at most once an [`ANSWER_REUSE`].
    async fn answer(&self, rendering: Rendering) -> Option<Arc<String>> {
        let mut answers = self.answers.lock().await;
        if let Some((at, answer)) = answers.get(&rendering) {
            if at.elapsed() < ANSWER_REUSE {
                return Some(Arc::clone(answer));
            }
        }
        let status = self.status().await;
        let answer = Arc::new(match rendering {
            Rendering::Json => json_answer(&status)?,
            Rendering::Text => status.render_text(),
            Rendering::Metrics => self.metrics.render(status),
        });
        answers.insert(rendering, (Instant::now(), Arc::clone(&answer)));
        Some(answer)
    }

    async fn status(&self) -> Status {
        self.status_read(true).await
    }

    /// The status, with the kernel read as [`Reader::listing`] says.
    async fn status_read(&self, shared: bool) -> Status {
        let snapshot = Arc::clone(&self.snapshot.borrow());
        let kernel = self.listing(shared).await;
        let board = self.board.snapshot();
        let checks: HashMap<ServerRef, LastCheck> = snapshot
            .ids
            .iter()
            .filter_map(|(at, id)| board.get(id).map(|check| (*at, check.clone())))
            .collect();
        Status::build(StatusInputs {
            plan: &snapshot.plan,
            health: &snapshot.health,
            holds: &snapshot.holds,
            quorums: &snapshot.quorums,
            kernel: &kernel,
            checks: &checks,
            pid: std::process::id(),
            now: SystemTime::now(),
            monotonic_now: std::time::Instant::now(),
        })
    }
}

/// The kernel's services and destinations; empty when they cannot be read.
fn kernel_listing(ipvs: &mut Ipvs) -> Listing {
    ipvs.listing()
        .unwrap_or_default()
        .into_iter()
        .map(|(service, dests)| {
            let dests = dests.into_iter().map(|d| ((d.addr, d.port), d)).collect();
            (service.key, (service, dests))
        })
        .collect()
}

/// The running listeners; dropping it ends them and every connection they
/// serve, and removes the socket (however the director's run ended).
pub(crate) struct StatusServer {
    tasks: Vec<JoinHandle<()>>,
    socket: Option<(PathBuf, FileIdentity)>,
}

impl StatusServer {
    /// Binds the status socket (a failure is logged: the director runs
    /// without one) and serves it and the metrics listener, if any, reading
    /// the kernel with `kernel`; the metrics come with what the director
    /// counts. Must be called inside the runtime.
    pub(crate) fn start(
        socket: Option<&Path>,
        metrics: Option<(std::net::TcpListener, DirectorMetrics)>,
        snapshot: watch::Receiver<Arc<Snapshot>>,
        board: CheckBoard,
        kernel: Option<Ipvs>,
        director: Option<(DirectorHandle, Option<HistoryOptions>)>,
        log: &Log,
    ) -> StatusServer {
        let (director, history) = match director {
            Some((handle, history)) => (Some(handle), history),
            None => (None, None),
        };
        let (metrics, counted) = match metrics {
            Some((listener, counted)) => (Some(listener), counted),
            None => (None, DirectorMetrics::default()),
        };
        let reader = Reader {
            snapshot,
            board,
            kernel: kernel.map(|ipvs| Arc::new(std::sync::Mutex::new((ipvs, None)))),
            answers: Arc::default(),
            director,
            metrics: counted,
            history: history.map(|options| Arc::new(std::sync::Mutex::new(History::new(options)))),
        };
        let mut server = StatusServer {
            tasks: Vec::new(),
            socket: None,
        };
        if let Some(listener) = metrics {
            let answering = reader.clone();
            let render = move || {
                let reader = answering.clone();
                async move { reader.answer(Rendering::Metrics).await }
            };
            server.tasks.extend(crate::metrics::spawn(listener, render, log));
        }
        if let Some(path) = socket {
            match bind_private(path).and_then(|(listener, identity)| {
                UnixListener::from_std(listener).map(|listener| (listener, identity))
            }) {
                Ok((listener, identity)) => {
                    // The history is asked for on the socket: kept only with one.
                    if let Some(history) = reader.history.clone() {
                        // Subscribed now, so that the events of the start are in it.
                        let events = reader.director.as_ref().map(DirectorHandle::events);
                        server
                            .tasks
                            .push(tokio::spawn(keep_history(reader.clone(), history, events)));
                    }
                    server.tasks.push(tokio::spawn(serve_status(listener, reader)));
                    server.socket = Some((path.to_owned(), identity));
                }
                Err(e) => log.error(&format!("no status socket at {}: {e}", path.display())),
            }
        }
        server
    }
}

/// A file's device and inode: what tells our socket from one put in its place.
type FileIdentity = (u64, u64);

fn identity(metadata: &std::fs::Metadata) -> FileIdentity {
    use std::os::unix::fs::MetadataExt as _;
    (metadata.dev(), metadata.ino())
}

/// Binds a socket at `path` that only its owner (root) can connect to,
/// whatever the umask: it is bound in a private directory beside it, given
/// mode 0600 and renamed into place. Only a stale socket (one nobody answers on) is
/// replaced; any other file, or a socket a live daemon answers on, is left
/// alone and refused.
pub(crate) fn bind_private(path: &Path) -> std::io::Result<(std::os::unix::net::UnixListener, FileIdentity)> {
    use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
        Ok(metadata) if !metadata.file_type().is_socket() => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket; it is left alone",
            ))
        }
        Ok(_) => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    "another daemon answers on it",
                ));
            }
        }
    }
    // Bound inside a fresh directory of mode 0700 (the umask can only
    // narrow that), so nobody can connect before the socket has its mode.
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".new-{}", std::process::id()));
    let private = path.with_file_name(name);
    // A leftover of a killed run (a planted symbolic link is removed, not followed).
    let _ = std::fs::remove_dir_all(&private);
    std::os::unix::fs::DirBuilderExt::mode(&mut std::fs::DirBuilder::new(), 0o700).create(&private)?;
    let temporary = private.join("socket");
    let placed = std::os::unix::net::UnixListener::bind(&temporary).and_then(|listener| {
        std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600))
            .and_then(|()| listener.set_nonblocking(true))
            .and_then(|()| std::fs::rename(&temporary, path))
            .and_then(|()| std::fs::symlink_metadata(path))
            .map(|metadata| (listener, identity(&metadata)))
    });
    let _ = std::fs::remove_dir_all(&private);
    placed
}

impl Drop for StatusServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        // Only our own socket: whatever has been put there since stays.
        if let Some((path, ours)) = self.socket.take() {
            if std::fs::symlink_metadata(&path).is_ok_and(|m| identity(&m) == ours) {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// A listener the status server accepts on.
pub(crate) trait Listener: Send + 'static {
    type Stream: Send + 'static;
    fn accept_one(&self) -> impl std::future::Future<Output = std::io::Result<Self::Stream>> + Send;
}

impl Listener for UnixListener {
    type Stream = tokio::net::UnixStream;
    async fn accept_one(&self) -> std::io::Result<Self::Stream> {
        self.accept().await.map(|(stream, _)| stream)
    }
}

impl Listener for TcpListener {
    type Stream = tokio::net::TcpStream;
    async fn accept_one(&self) -> std::io::Result<Self::Stream> {
        self.accept().await.map(|(stream, _)| stream)
    }
}

/// Accepts on `listener`, serving each connection with `serve` as a task of
/// its own while fewer than [`MAX_CONNECTIONS`] are served.
pub(crate) async fn serve_each<L: Listener, F>(listener: L, serve: impl Fn(L::Stream) -> F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    // Dropped (with this task) when the server stops: every connection ends too.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept_one() => {
                let Ok(stream) = accepted else { continue };
                // Over the limit a connection is closed at once: it never waits for a place.
                let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else { continue };
                let served = serve(stream);
                connections.spawn(async move {
                    served.await;
                    drop(permit);
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// A socket file this process bound: removed when dropped, unless
/// something else has been put in its place since.
pub(crate) struct SocketFile {
    path: PathBuf,
    ours: FileIdentity,
}

impl SocketFile {
    /// Binds `path` as [`bind_private`] does.
    pub(crate) fn bind(path: &Path) -> std::io::Result<(std::os::unix::net::UnixListener, SocketFile)> {
        bind_private(path).map(|(listener, ours)| {
            let file = SocketFile {
                path: path.to_owned(),
                ours,
            };
            (listener, file)
        })
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| identity(&m) == self.ours) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// What a connection sends after its request line.
type RequestRest = BufReader<tokio::io::Take<tokio::net::unix::OwnedReadHalf>>;

/// A connection's request line, read within [`MAX_REQUEST`] bytes and
/// [`REQUEST_TIME`], with the rest of the connection.
async fn read_request(
    stream: tokio::net::UnixStream,
) -> Option<(String, RequestRest, tokio::net::unix::OwnedWriteHalf)> {
    let (read, write) = stream.into_split();
    let mut request = String::new();
    let mut lines = BufReader::new(read.take(MAX_REQUEST));
    match tokio::time::timeout(REQUEST_TIME, lines.read_line(&mut request)).await {
        Ok(Ok(_)) => Some((request, lines, write)),
        _ => None,
    }
}

/// An answer of [`serve_lines`].
pub(crate) enum LineAnswer {
    /// This text, then the connection closes.
    Once(String),
    /// Each event as it comes, until the client goes.
    Events(tokio::sync::broadcast::Receiver<Arc<str>>),
}

/// Serves one request line per connection with `answer` (`None`: the
/// connection is closed), within the status server's limits.
pub(crate) async fn serve_lines<A>(listener: UnixListener, answer: A)
where
    A: Fn(&str) -> Option<LineAnswer> + Clone + Send + Sync + 'static,
{
    serve_each(listener, |stream: tokio::net::UnixStream| {
        let answer = answer.clone();
        async move {
            let Some((request, mut lines, mut write)) = read_request(stream).await else {
                return;
            };
            match answer(request.trim()) {
                Some(LineAnswer::Once(text)) => {
                    let _ = tokio::time::timeout(ANSWER_TIME, write.write_all(text.as_bytes())).await;
                }
                Some(LineAnswer::Events(events)) => {
                    lines.get_mut().set_limit(u64::MAX);
                    stream_events(events, lines, write).await;
                }
                None => {}
            }
        }
    })
    .await;
}

async fn serve_status(listener: UnixListener, reader: Reader) {
    serve_each(listener, |stream: tokio::net::UnixStream| {
        let reader = reader.clone();
        async move {
            let Some((request, mut lines, mut write)) = read_request(stream).await else {
                return;
            };
            let request = Request::parse(&request);
            if let Request::Events = request {
                if let Some(director) = &reader.director {
                    // What the client sends now is read only to see it go: no limit.
                    lines.get_mut().set_limit(u64::MAX);
                    stream_events(director.events(), lines, write).await;
                }
                return;
            }
            let answer = match request {
                Request::Status(rendering) => reader.answer(rendering).await,
                Request::Plan(path) => reader.plan(path).await,
                Request::Resync => reader.resync().await,
                Request::Admin(request) => reader.admin(request).await,
                Request::BadAdmin(why) => json_answer(&AdminAnswer::refused(why)).map(Arc::new),
                Request::History(first, service) => {
                    let scope = match (&service, first) {
                        (Some(name), _) => Scope::Service(name),
                        (None, count) => Scope::Every {
                            with_servers: count.unwrap_or(0),
                        },
                    };
                    reader.history(scope).await
                }
                Request::Events => None,
            };
            let Some(answer) = answer else {
                return;
            };
            let _ = tokio::time::timeout(ANSWER_TIME, write.write_all(answer.as_bytes())).await;
        }
    })
    .await;
}

/// Writes each event to an `--events` client until it goes (its end of the
/// socket closes: noticed at once, not at the next event), the director
/// stops, or a line waits longer than [`ANSWER_TIME`] to be taken; a client
/// that fell behind is told how many events it lost.
async fn stream_events(
    mut events: tokio::sync::broadcast::Receiver<Arc<str>>,
    mut client: impl tokio::io::AsyncRead + Unpin,
    mut write: tokio::net::unix::OwnedWriteHalf,
) {
    use tokio::sync::broadcast::error::RecvError;
    let mut ignored = [0u8; 64];
    loop {
        let received = tokio::select! {
            received = events.recv() => received,
            // Whatever the client sends is ignored; its end of the socket is not.
            read = client.read(&mut ignored) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            },
        };
        let line: Arc<str> = match received {
            Ok(line) => line,
            Err(RecvError::Lagged(lost)) => {
                let event = lvs_core::events::Event::new(
                    "events-lost",
                    crate::events::now(),
                    format!("{lost} events were not sent: this client read too slowly"),
                );
                Arc::from(crate::events::json_line(&event))
            }
            Err(RecvError::Closed) => return,
        };
        match tokio::time::timeout(ANSWER_TIME, write.write_all(line.as_bytes())).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}

/// Samples the status into the history every step, and notes the
/// director's events as they come, for as long as the server runs.
async fn keep_history(
    reader: Reader,
    history: Arc<std::sync::Mutex<History>>,
    mut events: Option<tokio::sync::broadcast::Receiver<Arc<str>>>,
) {
    use tokio::sync::broadcast::error::RecvError;
    let lock = || history.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let step = lock().options().step;
    let mut ticks = tokio::time::interval(step);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                let status = reader.status_read(false).await;
                lock().sample(&status, SystemTime::now(), Instant::now());
            }
            event = async { Some(events.as_mut()?.recv().await) }, if events.is_some() => {
                match event {
                    Some(Ok(line)) => {
                        if let Ok(event) = serde_json::from_str::<lvs_core::events::Event>(&line) {
                            lock().note(&event);
                        }
                    }
                    // Behind: the missed ones are lost, the rest still come.
                    Some(Err(RecvError::Lagged(_))) => {}
                    Some(Err(RecvError::Closed)) | None => events = None,
                }
            }
        }
    }
}

/// What a status socket's client asks for, by its request line.
enum Request {
    Status(Rendering),
    Plan(PathBuf),
    Resync,
    Admin(AdminRequest),
    /// An `admin` line whose request cannot be read.
    BadAdmin(String),
    /// The event stream.
    Events,
    /// The last hour: every service's, the first N with their servers
    /// (`Some(N)`, `None`), or one's with its servers (`None`, its name).
    History(Option<usize>, Option<String>),
}

impl Request {
    fn parse(line: &str) -> Request {
        let line = line.trim_end_matches(['\r', '\n']);
        if line.trim() == "history" {
            return Request::History(Some(0), None);
        }
        if let Some(rest) = line.strip_prefix("history ") {
            let rest = rest.trim();
            // Block names are one token: `first N` is never one.
            return match rest.strip_prefix("first ").map(|n| n.trim().parse()) {
                Some(Ok(count)) => Request::History(Some(count), None),
                Some(Err(_)) => Request::History(Some(0), None),
                None => Request::History(None, Some(rest.to_owned())),
            };
        }
        if let Some(path) = line.strip_prefix("plan ") {
            return Request::Plan(PathBuf::from(path));
        }
        if let Some(request) = line.strip_prefix("admin ") {
            return match serde_json::from_str(request) {
                Ok(request) => Request::Admin(request),
                Err(e) => Request::BadAdmin(format!("not an admin request: {e}")),
            };
        }
        match line.trim() {
            "json" => Request::Status(Rendering::Json),
            "resync" => Request::Resync,
            "events" => Request::Events,
            _ => Request::Status(Rendering::Text),
        }
    }
}

impl Reader {
    /// The last hour of the current services that `scope` names, as JSON;
    /// `None` (the connection closed) when the director keeps none.
    async fn history(&self, scope: Scope<'_>) -> Option<Arc<String>> {
        let history = self.history.clone()?;
        let status = self.status().await;
        let view = history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .view(&status, scope);
        // Compact: thousands of points, for a program.
        serde_json::to_string(&view)
            .ok()
            .map(|json| Arc::new(json + "\n"))
    }

    /// What a reload to `path` would do, as JSON.
    async fn plan(&self, path: PathBuf) -> Option<Arc<String>> {
        let answer = self.director.as_ref()?.preview(path).await?;
        json_answer(&answer).map(Arc::new)
    }

    /// A resync's report, as JSON.
    async fn resync(&self) -> Option<Arc<String>> {
        let report = self.director.as_ref()?.resync().await?;
        json_answer(&report).map(Arc::new)
    }

    /// An admin request's answer, as JSON.
    async fn admin(&self, request: AdminRequest) -> Option<Arc<String>> {
        let answer = self.director.as_ref()?.admin(request).await?;
        json_answer(&answer).map(Arc::new)
    }
}

/// A typed answer as the socket sends it: pretty JSON and a line end.
fn json_answer(value: &impl serde::Serialize) -> Option<String> {
    serde_json::to_string_pretty(value).ok().map(|json| json + "\n")
}

/// How an answer is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// A table for people.
    Text,
    /// JSON, as [`Status`] serializes.
    Json,
}

/// Asks the director at `socket` for its status in `format`: the client of
/// `lvs --status`.
pub fn ask(socket: &Path, format: Format) -> std::io::Result<String> {
    let request = match format {
        Format::Json => "json",
        Format::Text => "text",
    };
    request_line(socket, request, Some(Duration::from_secs(10)))
}

/// How long a plan or a resync may take to come: a large file is read and
/// planned, or the whole table read, before the answer.
const DIRECTOR_ANSWER_TIME: Duration = Duration::from_secs(120);

/// Sends one request line and reads the answer to its end.
fn request_line(socket: &Path, request: &str, wait: Option<Duration>) -> std::io::Result<String> {
    let mut stream = std::os::unix::net::UnixStream::connect(socket)?;
    stream.set_read_timeout(wait)?;
    stream.write_all(format!("{request}\n").as_bytes())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    if answer.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the daemon closed the connection without an answer",
        ));
    }
    Ok(answer)
}

/// Why the director at a socket gave no typed answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AskError {
    /// No director answers at the socket, or it closed without an answer.
    #[error("no lvs daemon answers at {}: {source}", path.display())]
    Unreachable {
        /// The socket.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The answer is not what was asked for.
    #[error("{}: {source}", path.display())]
    Invalid {
        /// The socket.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The path cannot be sent: a request is one line.
    #[error("{}: a file name with a line break cannot be sent to the daemon", path.display())]
    BadPath {
        /// The file named.
        path: PathBuf,
    },
}

/// Asks the director at `socket` what a reload to the lvs.cf at `file` (an
/// absolute path, as the daemon reads it) would do: the client of
/// `lvsd --plan`. The answer's JSON is returned with its typed reading.
pub fn plan(socket: &Path, file: &Path) -> Result<(PlanAnswer, String), AskError> {
    let name = file.to_string_lossy();
    if name.contains(['\n', '\r']) {
        return Err(AskError::BadPath {
            path: file.to_owned(),
        });
    }
    typed(socket, &format!("plan {name}"), Some(DIRECTOR_ANSWER_TIME))
}

/// Asks the director at `socket` to compare its entries with the kernel's
/// now and restore what differs: the client of `lvsd --resync`.
pub fn resync(socket: &Path) -> Result<(ResyncReport, String), AskError> {
    typed(socket, "resync", Some(DIRECTOR_ANSWER_TIME))
}

/// Follows the director's events at `socket`, handing each JSON line to
/// `line` until the director closes the stream (it stops) or `line` says
/// to end: the client of `lvsd --events`.
pub fn follow_events(socket: &Path, mut line: impl FnMut(&str) -> bool) -> Result<(), AskError> {
    use std::io::BufRead as _;
    let unreachable = |source| AskError::Unreachable {
        path: socket.to_owned(),
        source,
    };
    let mut stream = std::os::unix::net::UnixStream::connect(socket).map_err(unreachable)?;
    stream.write_all(b"events\n").map_err(unreachable)?;
    for text in std::io::BufReader::new(stream).lines() {
        if !line(&text.map_err(unreachable)?) {
            break;
        }
    }
    Ok(())
}

/// Asks the director at `socket` to drain, disable or enable a server: the
/// client of `lvs --drain`, `--disable` and `--enable`. With
/// `request.wait`, the answer comes when the drain has ended, however long
/// that takes (the daemon's deadline bounds it).
pub fn admin(socket: &Path, request: &AdminRequest) -> Result<(AdminAnswer, String), AskError> {
    let line = serde_json::to_string(request).map_err(|source| AskError::Invalid {
        path: socket.to_owned(),
        source,
    })?;
    let wait = (!request.wait).then_some(DIRECTOR_ANSWER_TIME);
    typed(socket, &format!("admin {line}"), wait)
}

fn typed<T: serde::de::DeserializeOwned>(
    socket: &Path,
    request: &str,
    wait: Option<Duration>,
) -> Result<(T, String), AskError> {
    let answer = request_line(socket, request, wait).map_err(|source| AskError::Unreachable {
        path: socket.to_owned(),
        source,
    })?;
    let typed = serde_json::from_str(&answer).map_err(|source| AskError::Invalid {
        path: socket.to_owned(),
        source,
    })?;
    Ok((typed, answer))
}

/// The typed status of the director at `socket` (the web tool's view).
pub fn fetch(socket: &Path) -> Result<Status, AskError> {
    typed(socket, "json", Some(Duration::from_secs(10))).map(|(status, _)| status)
}

/// The running director's last hour, of the services `scope` names (the
/// web tool's charts and timelines).
pub fn history(socket: &Path, scope: Scope<'_>) -> Result<HistoryView, AskError> {
    let line = match scope {
        Scope::Service(name) => format!("history {name}"),
        Scope::Every { with_servers } => format!("history first {with_servers}"),
        _ => "history".to_owned(),
    };
    typed(socket, &line, Some(Duration::from_secs(10))).map(|(view, _)| view)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn serve(path: &Path) -> (tokio::runtime::Runtime, StatusServer) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (publisher, snapshot) = watch::channel(Arc::new(Snapshot::default()));
        let server = {
            let _inside = runtime.enter();
            StatusServer::start(
                Some(path),
                None,
                snapshot,
                CheckBoard::default(),
                None,
                None,
                &Log::stderr("test: ", false),
            )
        };
        // The director's loop would hold the sender for as long as it runs.
        std::mem::forget(publisher);
        (runtime, server)
    }

    #[test]
    fn request_lines_name_what_they_ask_for() {
        assert!(matches!(
            Request::parse("json\n"),
            Request::Status(Rendering::Json)
        ));
        assert!(matches!(
            Request::parse("text\r\n"),
            Request::Status(Rendering::Text)
        ));
        // Anything else is asked as before: the status for people.
        assert!(matches!(Request::parse("\n"), Request::Status(Rendering::Text)));
        assert!(matches!(Request::parse("resync\n"), Request::Resync));
        assert!(matches!(Request::parse("events\n"), Request::Events));
        // A path is taken whole, spaces and all.
        match Request::parse("plan /etc/ha/new lvs.cf\n") {
            Request::Plan(path) => assert_eq!(path, Path::new("/etc/ha/new lvs.cf")),
            _ => panic!("not a plan"),
        }
        let drain = AdminRequest::new(lvs_core::admin::AdminAction::Drain, "web site", "a").wait(true);
        let line = format!("admin {}\n", serde_json::to_string(&drain).expect("JSON"));
        match Request::parse(&line) {
            Request::Admin(request) => assert_eq!(request, drain),
            _ => panic!("not an admin request"),
        }
        assert!(matches!(
            Request::parse("admin drain web/a\n"),
            Request::BadAdmin(_)
        ));
    }

    #[test]
    fn the_socket_is_private_whatever_the_umask_and_only_a_stale_one_is_replaced() {
        let dir = testkit::TempDir::new("status-socket");
        let path = dir.path().join("lvs.sock");
        // A file that is not a socket is never deleted.
        std::fs::write(&path, "keep me").expect("write");
        assert!(bind_private(&path).is_err());
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "keep me");
        std::fs::remove_file(&path).expect("remove");

        // SAFETY: umask has no preconditions.
        let before = unsafe { libc::umask(0) };
        let bound = bind_private(&path);
        unsafe { libc::umask(before) };
        let (live, _) = bound.expect("bind");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A socket that a live daemon answers on is not taken over.
        let error = bind_private(&path).expect_err("in use");
        assert_eq!(error.kind(), std::io::ErrorKind::AddrInUse);
        drop(live);
        // A stale one (a killed daemon's) is.
        bind_private(&path).expect("replace the stale socket");
    }

    #[test]
    fn the_server_removes_only_its_own_socket() {
        let dir = testkit::TempDir::new("status-socket-own");
        let path = dir.path().join("lvs.sock");
        let (runtime, server) = serve(&path);
        assert!(path.exists());
        std::fs::remove_file(&path).expect("remove");
        std::fs::write(&path, "someone else's").expect("write");
        drop(server);
        drop(runtime);
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "someone else's");

        let (runtime, server) = serve(&path.with_file_name("second.sock"));
        drop(server);
        drop(runtime);
        assert!(!path.with_file_name("second.sock").exists());
    }

    #[test]
    fn a_request_without_an_end_is_cut_at_its_limit() {
        let dir = testkit::TempDir::new("status-socket-long");
        let path = dir.path().join("lvs.sock");
        let (runtime, server) = serve(&path);
        let client = std::thread::spawn({
            let path = path.clone();
            move || {
                let mut stream = std::os::unix::net::UnixStream::connect(&path).expect("connect");
                stream
                    .set_write_timeout(Some(Duration::from_secs(5)))
                    .expect("timeout");
                // 64 MiB without a newline: the server stops reading at its
                // limit and answers, so the writes fail long before the end.
                let chunk = vec![b'x'; 1 << 20];
                let written = (0..64).take_while(|_| stream.write_all(&chunk).is_ok()).count();
                let mut answer = String::new();
                let _ = stream.read_to_string(&mut answer);
                (written, answer)
            }
        });
        let (written, answer) = runtime.block_on(async {
            loop {
                if client.is_finished() {
                    break client.join().expect("client");
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        });
        assert!(written < 64, "the server read {written} MiB of one request");
        drop((answer, server));
    }
}
