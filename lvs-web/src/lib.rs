//! `lvs-web`: the web configuration and monitoring tool, successor of the
//! Piranha Configuration Tool. Pages are rendered on the server (no
//! JavaScript); every panel edits lvs.cf through `lvs-cf`, so what the tool
//! accepts is what the daemons accept, and errors appear beside their fields.
//!
//! Every path and method but the login page needs a session, and every
//! change also the session's CSRF token. It listens on 127.0.0.1:3636 by
//! default. [`serve`] runs it on a listener the caller binds, until a future
//! the caller owns completes; [`WebOptions`] says what it edits and watches.
//!
//! # Non-features
//!
//! - No TLS: reach it through an SSH tunnel or an HTTPS proxy.
//! - No JavaScript and nothing from another host: every page is HTML made
//!   on the server.
//! - It changes the table only through the daemons: it edits lvs.cf and asks
//!   pulse or lvs to reload, and never speaks to IPVS itself.

pub mod auth;
pub mod throttle;

mod fields;
mod monitor;
mod pages;
pub mod pictures;
pub mod store;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Form, FromRequestParts, Path as UrlPath, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use auth::{Passwords, SessionInfo, Sessions};
use lvs_cf::edit::{Block, BlockKind, Document, Place, ServerBlock};
use lvs_daemon::log::Log;
use pages::Page;

/// Where the tool finds what it edits, watches and signals, and where it
/// listens. [`WebOptions::default`] gives Piranha's paths.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebOptions {
    /// The configuration file to edit.
    pub configfile: PathBuf,
    /// The password file (`USER:ARGON2-HASH` lines).
    pub password_file: PathBuf,
    /// The address and port to listen on.
    pub listen: SocketAddr,
    /// The lvs daemon's status socket.
    pub lvs_socket: PathBuf,
    /// pulse's pid file (a reload signals pulse, which passes it on to lvs).
    pub pulse_pidfile: PathBuf,
    /// The lvs daemon's pid file (signalled when pulse does not run).
    pub lvs_pidfile: PathBuf,
    /// Host names the tool answers to besides IP addresses and `localhost`
    /// (a request for any other name is refused: DNS rebinding).
    pub host_names: Vec<String>,
}

/// The address the tool listens on unless told otherwise.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 3636);

impl Default for WebOptions {
    fn default() -> WebOptions {
        WebOptions {
            configfile: PathBuf::from(lvs_cf::DEFAULT_PATH),
            password_file: PathBuf::from(auth::DEFAULT_PASSWORD_FILE),
            listen: DEFAULT_LISTEN,
            lvs_socket: PathBuf::from(lvs_daemon::DEFAULT_STATUS_SOCKET),
            pulse_pidfile: PathBuf::from(lvs_daemon::DEFAULT_PULSE_PIDFILE),
            lvs_pidfile: PathBuf::from(lvs_daemon::DEFAULT_LVS_PIDFILE),
            host_names: Vec::new(),
        }
    }
}

/// What every request handler shares.
pub struct App {
    /// What the tool edits, watches and signals.
    pub options: WebOptions,
    /// Who may log in.
    pub passwords: Passwords,
    /// The open sessions.
    pub sessions: Sessions,
    /// Changes one at a time: each reads, checks, edits and writes the whole file.
    saving: tokio::sync::Mutex<()>,
    /// Password checks at once: each takes an Argon2 run's memory and time.
    logins: tokio::sync::Semaphore,
    /// Failed logins by source and user.
    throttle: std::sync::Mutex<throttle::LoginThrottle>,
    /// Where logins, failed logins, saves and reloads are logged.
    log: Log,
}

impl App {
    /// The shared state of a tool serving `options` for `passwords`' users,
    /// logging to standard error (`lvs-web: ...`).
    pub fn new(options: WebOptions, passwords: Passwords) -> Arc<App> {
        App::with_log(options, passwords, Log::stderr("lvs-web: ", false))
    }

    /// The same, logging to `log`.
    pub fn with_log(options: WebOptions, passwords: Passwords, log: Log) -> Arc<App> {
        Arc::new(App {
            options,
            passwords,
            sessions: Sessions::default(),
            saving: tokio::sync::Mutex::new(()),
            logins: tokio::sync::Semaphore::new(2),
            throttle: std::sync::Mutex::default(),
            log,
        })
    }
}

type Shared = Arc<App>;
type FormData = HashMap<String, String>;

/// The tool's routes, behind the session guard.
pub fn router(app: Shared) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/control") }))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/control", get(control))
        .route("/control/reload", post(reload))
        .route("/global", get(show).post(change))
        .route("/redundancy", get(show).post(change))
        .route("/virtual", get(virtual_list))
        .route("/import", get(import_page).post(import))
        .route("/virtual/new", get(show).post(change))
        .route("/virtual/{b}", get(show).post(change))
        .route("/virtual/{b}/delete", post(change))
        .route("/virtual/{b}/toggle", post(change))
        .route("/virtual/{b}/scripts", get(show).post(change))
        .route("/virtual/{b}/servers", get(servers_list))
        .route("/virtual/{b}/servers/new", get(show).post(change))
        .route("/virtual/{b}/servers/{s}", get(show).post(change))
        .route("/virtual/{b}/servers/{s}/delete", post(change))
        .route("/virtual/{b}/servers/{s}/toggle", post(change))
        .route("/virtual/{b}/checks", get(checks_list))
        .route("/virtual/{b}/checks/new", get(show).post(change))
        .route("/virtual/{b}/checks/{c}", get(show).post(change))
        .route("/virtual/{b}/checks/{c}/delete", post(change))
        .route("/virtual/{b}/servers/{s}/checks/new", get(show).post(change))
        .route("/virtual/{b}/servers/{s}/checks/{c}", get(show).post(change))
        .route("/virtual/{b}/servers/{s}/checks/{c}/delete", post(change))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .layer(middleware::from_fn(security_headers))
        .with_state(app)
}

/// The largest form accepted (a whole lvs.cf's worth of fields, or a
/// pasted keepalived.conf or ldirectord.cf to import).
const FORM_LIMIT: usize = 1 << 20;
/// How long a client has to send a request's head.
pub const HEADER_TIME: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a client has to send a request's body.
pub const BODY_TIME: std::time::Duration = std::time::Duration::from_secs(10);
/// How long one connection is served at most, answer included.
pub const CONNECTION_TIME: std::time::Duration = std::time::Duration::from_secs(60);
/// Connections served at once; more are closed at once.
pub const MAX_CONNECTIONS: usize = 128;
/// Connections served at once from one address.
pub const MAX_CONNECTIONS_PER_SOURCE: usize = 16;
/// How long a stop waits for the requests under way.
pub const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// The address a request came from, as [`serve`] records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer(pub SocketAddr);

/// The headers every answer carries: no scripts, frames, other origins or
/// caching, and no referrer (URLs carry the notes of saves).
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, header::HeaderValue::from_static(value));
    }
    response
}

/// Whether `host` (a Host header) names this tool: an IP address,
/// `localhost`, or one of the configured names; a port is ignored.
fn host_allowed(host: &str, names: &[String]) -> bool {
    let name = match host.strip_prefix('[') {
        // An IPv6 literal: "[::1]:3636".
        Some(rest) => {
            return rest
                .split(']')
                .next()
                .is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok())
        }
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.parse::<std::net::Ipv4Addr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || names.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// The login page's words when a login worked but the browser did not send
/// the cookie back.
const COOKIE_DROPPED: &str = "You logged in, but your browser did not send the session cookie back. \
    The cookie is Secure: browsers keep it only over HTTPS, or over plain HTTP to this machine \
    (http://127.0.0.1 or http://localhost). Reach lvs-web through an SSH tunnel to its address \
    (ssh -L 3636:127.0.0.1:3636 router) or through an HTTPS proxy.";

/// Refuses requests for other host names; lets through the login page,
/// and otherwise only requests with a live session; a request that is not
/// a GET or HEAD must also carry the session's CSRF token in its form,
/// sent within [`BODY_TIME`].
async fn guard(State(app): State<Shared>, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !host_allowed(host, &app.options.host_names) {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "lvs-web does not answer to the host name {host:?}; start it with --server-name NAME to allow a name"
            ),
        )
            .into_response();
    }
    let reading = matches!(*request.method(), Method::GET | Method::HEAD);
    let (mut parts, body) = request.into_parts();
    let bytes = if reading {
        axum::body::Bytes::new()
    } else {
        match tokio::time::timeout(BODY_TIME, axum::body::to_bytes(body, FORM_LIMIT)).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(_)) => return (StatusCode::PAYLOAD_TOO_LARGE, "the form is too large").into_response(),
            Err(_) => return (StatusCode::REQUEST_TIMEOUT, "the form came too slowly").into_response(),
        }
    };
    let path = parts.uri.path();
    if path == "/login" && (reading || parts.method == Method::POST) {
        return next.run(Request::from_parts(parts, Body::from(bytes))).await;
    }
    let session = parts
        .headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(auth::session_cookie)
        .and_then(|id| app.sessions.find(id));
    let Some(session) = session else {
        return if reading && parts.uri.query() == Some(FROM_LOGIN) {
            pages::login(Some(COOKIE_DROPPED)).into_response()
        } else if reading {
            Redirect::to("/login").into_response()
        } else {
            (StatusCode::UNAUTHORIZED, "log in first: no change was made").into_response()
        };
    };
    parts.extensions.insert(session.clone());
    if reading {
        return next.run(Request::from_parts(parts, Body::empty())).await;
    }
    // Decoded as the handlers' `Form` decodes it (axum uses this crate).
    let token: Option<String> = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .unwrap_or_default()
        .into_iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v);
    if !token.is_some_and(|t| auth::same_secret(&t, &session.csrf)) {
        return (
            StatusCode::FORBIDDEN,
            "the page's token is missing or stale: reload the page; no change was made",
        )
            .into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

async fn login_page() -> Response {
    pages::login(None).into_response()
}

/// The query of the page a login goes on to: without a session there, the
/// browser dropped the cookie.
const FROM_LOGIN: &str = "from=login";

async fn login(
    State(app): State<Shared>,
    peer: Option<axum::Extension<Peer>>,
    headers: axum::http::HeaderMap,
    Form(form): Form<FormData>,
) -> Response {
    let Ok(_checking) = app.logins.try_acquire() else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "too many logins at once; try again",
        )
            .into_response();
    };
    let user = form.get("user").cloned().unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    let source = peer.map_or(std::net::IpAddr::from([0, 0, 0, 0]), |p| p.0 .0.ip());
    let throttle = || {
        app.throttle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    let device = headers
        .get(header::COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(auth::device_cookie)
        .map(str::to_owned);
    let checked = throttle().check(&user, source, device.as_deref(), std::time::Instant::now());
    if let Err(refusal) = checked {
        let seconds = refusal.wait().as_secs().max(1);
        let why = match refusal {
            throttle::Refusal::Source(_) => "from this address",
            throttle::Refusal::User(_) => "for this user",
        };
        app.log.warning(&format!(
            "login of {user:?} from {source} refused: too many failed logins {why}"
        ));
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, seconds.to_string())],
            pages::login(Some(&format!(
                "too many failed logins {why}; try again in {seconds} s"
            ))),
        )
            .into_response();
    }
    let tried = user.clone();
    let checker = app.clone();
    let verified =
        tokio::task::spawn_blocking(move || checker.passwords.verify(&user, &password).then_some(user))
            .await
            .ok()
            .flatten();
    let Some(user) = verified else {
        app.log
            .warning(&format!("failed login of {tried:?} from {source}"));
        throttle().failed(&tried, source, std::time::Instant::now());
        return (
            StatusCode::UNAUTHORIZED,
            pages::login(Some("wrong user or password")),
        )
            .into_response();
    };
    // The browser's device token: kept, or a new one.
    let device = match device {
        Some(token) => token,
        None => match auth::random_hex(32) {
            Ok(token) => token,
            Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        },
    };
    throttle().succeeded(&user, source, &device);
    app.log.notice(&format!("{user} logged in from {source}"));
    match app.sessions.open(&user) {
        Ok(session) => (
            axum::response::AppendHeaders([
                (header::SET_COOKIE, auth::set_cookie(Some(&session.id))),
                (header::SET_COOKIE, auth::set_device_cookie(&device)),
            ]),
            Redirect::to(&format!("/control?{FROM_LOGIN}")),
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn logout(ctx: Ctx) -> Response {
    ctx.app.sessions.close(&ctx.session.id);
    (
        [(header::SET_COOKIE, auth::set_cookie(None))],
        Redirect::to("/login"),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct Refresh {
    refresh: Option<String>,
    every: Option<u32>,
}

async fn control(ctx: Ctx, Query(query): Query<Refresh>) -> Response {
    let refresh = query.refresh.is_some().then(|| query.every.unwrap_or(10).max(1));
    control_page(&ctx.app, &ctx.session, refresh, None).await
}

async fn reload(ctx: Ctx) -> Response {
    let note = signal_daemons(&ctx.app.options);
    ctx.app
        .log
        .notice(&format!("{} reloaded: {note}", ctx.session.user));
    control_page(&ctx.app, &ctx.session, None, Some(&note)).await
}

/// The control and monitoring panel; gathering reads files and sockets,
/// so it runs off the async threads.
async fn control_page(
    app: &Shared,
    session: &SessionInfo,
    refresh: Option<u32>,
    note: Option<&str>,
) -> Response {
    let app = app.clone();
    match tokio::task::spawn_blocking(move || pages::ControlView::gather(&app.options)).await {
        Ok(view) => Page::new("control", session).control(&view, refresh, note),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Asks pulse (which passes it on) or else lvs to re-read lvs.cf.
fn signal_daemons(options: &WebOptions) -> String {
    let lvs = || {
        monitor::lvs_daemon(
            &options.lvs_pidfile,
            monitor::lvs_status(&options.lvs_socket).ok().as_ref(),
        )
    };
    if let Some(pid) = monitor::hangup(monitor::daemon(&options.pulse_pidfile)) {
        format!("asked pulse (pid {pid}) to reload; it passes the signal on to lvs")
    } else if let Some(pid) = monitor::hangup(lvs()) {
        format!("asked lvs (pid {pid}) to reload")
    } else {
        "neither pulse nor lvs is running: nothing to reload".to_owned()
    }
}

/// Loads the document, or the page that says why it cannot be.
// The error is the response itself, made once per request: boxing it buys nothing.
#[allow(clippy::result_large_err)]
fn load(app: &App, session: &SessionInfo) -> Result<Document, Response> {
    store::load(&app.options.configfile).map_err(|e| Page::new("", session).failure(&e.to_string()))
}

/// The form field that says its plan was seen: the save goes ahead.
pub const CONFIRMED: &str = "confirmed";

/// Validates and saves `document`; on success redirects to `next` (with
/// the reload asked for when the form says so), else shows `form_again`.
/// While an lvs daemon answers, the first submission shows what a reload
/// to the new file would do, with a button that submits it again to save.
async fn save_and_go(
    app: &App,
    form: &FormData,
    document: &Document,
    next: &str,
    form_again: impl FnOnce(&[lvs_cf::edit::Problem]) -> Response,
    session: &SessionInfo,
) -> Response {
    // Saving resolves names (the daemons' own reading of the file), and a
    // plan waits for the daemon: off the async threads. Until the form says
    // it was seen, a running lvs daemon's plan for the new file is shown
    // instead of saving it.
    let confirmed = form.get(CONFIRMED).is_some_and(|v| v == "1");
    let (path, socket, copy) = (
        app.options.configfile.clone(),
        app.options.lvs_socket.clone(),
        document.clone(),
    );
    /// What the blocking part came to.
    enum Outcome {
        Planned(lvs_core::preview::PlanAnswer),
        Saved(Box<Result<lvs_cf::Config, store::StoreError>>),
    }
    let outcome = tokio::task::spawn_blocking(move || {
        let config = match store::prepare(&path, &copy) {
            Ok(config) => config,
            Err(e) => return Outcome::Saved(Box::new(Err(e))),
        };
        if !confirmed {
            if let Some(plan) = store::plan(&path, &socket, &config) {
                return Outcome::Planned(plan);
            }
        }
        Outcome::Saved(Box::new(store::write_prepared(&path, &config).map(|()| config)))
    })
    .await;
    let saved = match outcome {
        Ok(Outcome::Planned(plan)) => return Page::new("", session).plan_before_saving(&plan, form, next),
        Ok(Outcome::Saved(saved)) => *saved,
        Err(e) => return Page::new("", session).failure(&e.to_string()),
    };
    match saved {
        Ok(config) => {
            let mut note = format!(
                "saved {} (serial_no {})",
                app.options.configfile.display(),
                config.serial_no
            );
            if form.get("reload").is_some_and(|v| !v.is_empty()) {
                note.push_str("; ");
                note.push_str(&signal_daemons(&app.options));
            }
            app.log.notice(&format!("{} {note}", session.user));
            Redirect::to(&format!("{next}?saved={}", pages::url_encode(&note))).into_response()
        }
        Err(store::StoreError::Invalid(problems)) => form_again(&problems),
        Err(e) => {
            app.log.error(&format!(
                "{} could not save {}: {e}",
                session.user,
                app.options.configfile.display()
            ));
            Page::new("", session).failure(&e.to_string())
        }
    }
}

#[derive(serde::Deserialize, Default)]
struct Saved {
    saved: Option<String>,
}

/// What every page handler starts from: the tool and the request's
/// session (which the guard has checked).
struct Ctx {
    app: Shared,
    session: SessionInfo,
}

impl FromRequestParts<Shared> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<Ctx, Response> {
        match parts.extensions.get::<SessionInfo>() {
            Some(session) => Ok(Ctx {
                app: app.clone(),
                session: session.clone(),
            }),
            None => Err(Redirect::to("/login").into_response()),
        }
    }
}

/// What a path of the editing pages names: one parser for them all, so
/// that a handler never re-reads positions from the path by hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    /// A panel of something that exists.
    Panel(pages::Panel),
    /// A new virtual block, or a new server of block `b`.
    New { server_of: Option<usize> },
    /// A new check block of block `b`, or of its server `s`.
    NewCheck { b: usize, s: Option<usize> },
    /// Deleting or switching a block or a server; deleting a check block.
    List(Place, ListChange),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ListChange {
    Delete,
    Toggle,
}

impl Route {
    fn of(path: &str) -> Option<Route> {
        use pages::Panel;
        let words: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let index = |word: &str| word.parse::<usize>().ok();
        Some(match words.as_slice() {
            ["global"] => Route::Panel(Panel::Global),
            ["redundancy"] => Route::Panel(Panel::Redundancy),
            ["virtual", "new"] => Route::New { server_of: None },
            ["virtual", b] => Route::Panel(Panel::Virtual {
                b: index(b)?,
                new: false,
            }),
            ["virtual", b, "scripts"] => Route::Panel(Panel::Scripts { b: index(b)? }),
            ["virtual", b, "delete"] => Route::List(Place::Block(index(b)?), ListChange::Delete),
            ["virtual", b, "toggle"] => Route::List(Place::Block(index(b)?), ListChange::Toggle),
            ["virtual", b, "servers", "new"] => Route::New {
                server_of: Some(index(b)?),
            },
            ["virtual", b, "servers", s] => Route::Panel(Panel::Server {
                b: index(b)?,
                s: index(s)?,
                new: false,
            }),
            ["virtual", b, "checks", "new"] => Route::NewCheck {
                b: index(b)?,
                s: None,
            },
            ["virtual", b, "servers", s, "checks", "new"] => Route::NewCheck {
                b: index(b)?,
                s: Some(index(s)?),
            },
            ["virtual", b, "checks", c] => Route::Panel(Panel::Check {
                b: index(b)?,
                s: None,
                c: index(c)?,
                new: false,
            }),
            ["virtual", b, "servers", s, "checks", c] => Route::Panel(Panel::Check {
                b: index(b)?,
                s: Some(index(s)?),
                c: index(c)?,
                new: false,
            }),
            ["virtual", b, "checks", c, "delete"] => Route::List(
                Place::Check {
                    block: index(b)?,
                    server: None,
                    check: index(c)?,
                },
                ListChange::Delete,
            ),
            ["virtual", b, "servers", s, "checks", c, "delete"] => Route::List(
                Place::Check {
                    block: index(b)?,
                    server: Some(index(s)?),
                    check: index(c)?,
                },
                ListChange::Delete,
            ),
            ["virtual", b, "servers", s, change] => Route::List(
                Place::Server(index(b)?, index(s)?),
                match *change {
                    "delete" => ListChange::Delete,
                    "toggle" => ListChange::Toggle,
                    _ => return None,
                },
            ),
            _ => return None,
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Route {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Route, Response> {
        Route::of(parts.uri.path()).ok_or_else(|| (StatusCode::NOT_FOUND, "not found").into_response())
    }
}

/// Adds a new block (of the form's `kind`) or server to `document`; the
/// panel that edits it, or `None` when the server's block does not exist.
fn add_new(document: &mut Document, server_of: Option<usize>, kind: Option<&str>) -> Option<pages::Panel> {
    match server_of {
        None => {
            let b = document.blocks.len();
            document.blocks.push(new_block(block_kind(kind)));
            Some(pages::Panel::Virtual { b, new: true })
        }
        Some(b) => {
            let block = document.blocks.get_mut(b)?;
            let s = block.servers.len();
            block.servers.push(new_server());
            Some(pages::Panel::Server { b, s, new: true })
        }
    }
}

/// GET of an editing page: a panel, or the form for something new.
async fn show(ctx: Ctx, route: Route, Query(query): Query<FormData>) -> Response {
    let Ctx { app, session } = &ctx;
    match route {
        Route::Panel(panel) => panel_page(app, session, panel, query.get("saved").cloned()),
        Route::New { server_of } => match load(app, session) {
            Ok(mut document) => {
                match add_new(&mut document, server_of, query.get("kind").map(String::as_str)) {
                    Some(panel) => Page::new("virtual", session).panel(panel, &document, &[], None),
                    None => Page::new("virtual", session).missing(),
                }
            }
            Err(page) => page,
        },
        Route::NewCheck { b, s } => match load(app, session) {
            Ok(mut document) => match add_check(&mut document, b, s) {
                Some(panel) => Page::new("virtual", session).panel(panel, &document, &[], None),
                None => Page::new("virtual", session).missing(),
            },
            Err(page) => page,
        },
        Route::List(..) => (StatusCode::METHOD_NOT_ALLOWED, "not a page").into_response(),
    }
}

/// Adds a check block to block `b` (or to its server `s`); the panel that
/// edits it, or `None` when they do not exist.
fn add_check(document: &mut Document, b: usize, s: Option<usize>) -> Option<pages::Panel> {
    let block = document.blocks.get_mut(b)?;
    let checks = match s {
        Some(s) => &mut block.servers.get_mut(s)?.checks,
        None => &mut block.checks,
    };
    let c = checks.len();
    checks.push(lvs_cf::edit::CheckEntries {
        name: String::new(),
        entries: Vec::new(),
    });
    Some(pages::Panel::Check { b, s, c, new: true })
}

async fn checks_list(ctx: Ctx, UrlPath(b): UrlPath<usize>, Query(saved): Query<Saved>) -> Response {
    let Ctx { app, session } = &ctx;
    match load(app, session) {
        Ok(document) if b < document.blocks.len() => {
            Page::new("virtual", session).checks_list(&document, b, saved.saved.as_deref())
        }
        Ok(_) => Page::new("virtual", session).missing(),
        Err(page) => page,
    }
}

/// POST of an editing page: a panel's form, something new, or a deletion
/// or switch in a list; each validated and saved.
async fn change(ctx: Ctx, route: Route, Form(form): Form<FormData>) -> Response {
    let Ctx { app, session } = &ctx;
    // One change at a time, from reading the file to writing it: two forms
    // from pages of one version cannot both pass the stale-page check.
    let _saving = app.saving.lock().await;
    match route {
        Route::Panel(panel) => panel_save(app, session, panel, form).await,
        Route::New { server_of } => {
            let mut document = match load(app, session) {
                Ok(document) => document,
                Err(page) => return page,
            };
            // The page showed the file before the new block or server.
            if let Some(page) = stale(&document, &form, session) {
                return page;
            }
            let Some(panel) = add_new(&mut document, server_of, form.get("kind").map(String::as_str)) else {
                return Page::new("virtual", session).missing();
            };
            let next = format!("/virtual/{}/servers", panel.place().block().unwrap_or(0));
            save_panel(app, session, panel, document, form, &next, Checked::Already).await
        }
        Route::NewCheck { b, s } => {
            let mut document = match load(app, session) {
                Ok(document) => document,
                Err(page) => return page,
            };
            if let Some(page) = stale(&document, &form, session) {
                return page;
            }
            let Some(panel) = add_check(&mut document, b, s) else {
                return Page::new("virtual", session).missing();
            };
            let next = format!("/virtual/{b}/checks");
            save_panel(app, session, panel, document, form, &next, Checked::Already).await
        }
        Route::List(place, what) => {
            let next = match place {
                Place::Server(b, _) => format!("/virtual/{b}/servers"),
                Place::Check { block, .. } => format!("/virtual/{block}/checks"),
                _ => "/virtual".to_owned(),
            };
            list_change(app, session, &form, &next, |d| match (place, what) {
                (Place::Block(b), ListChange::Delete) => {
                    (b < d.blocks.len()).then(|| d.blocks.remove(b)).is_some()
                }
                (Place::Server(b, s), ListChange::Delete) => d
                    .blocks
                    .get_mut(b)
                    .filter(|block| s < block.servers.len())
                    .map(|block| block.servers.remove(s))
                    .is_some(),
                (place @ Place::Check { .. }, ListChange::Delete) => d.remove_check(place),
                (place, ListChange::Toggle) => d.entries_mut(place).map(toggle).is_some(),
                (Place::Global | Place::KeyBlock(_), ListChange::Delete) => false,
            })
            .await
        }
    }
}

fn panel_page(app: &App, session: &SessionInfo, panel: pages::Panel, saved: Option<String>) -> Response {
    match load(app, session) {
        Ok(document) => Page::new(panel.tab(), session).panel(panel, &document, &[], saved.as_deref()),
        Err(page) => page,
    }
}

/// Applies a panel's form to the file's document and saves it.
async fn panel_save(app: &App, session: &SessionInfo, panel: pages::Panel, form: FormData) -> Response {
    match load(app, session) {
        Ok(document) => save_panel(app, session, panel, document, form, &panel.url(), Checked::Not).await,
        Err(page) => page,
    }
}

/// Whether a form's version has been checked against the file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Checked {
    Already,
    Not,
}

/// Applies a panel's form (the block's name and the panel's fields) to
/// `document` and saves it; a saved form goes on to `next`, a refused one
/// comes back with its errors.
async fn save_panel(
    app: &App,
    session: &SessionInfo,
    panel: pages::Panel,
    mut document: Document,
    form: FormData,
    next: &str,
    checked: Checked,
) -> Response {
    let place = panel.place();
    if document.entries(place).is_none() {
        return Page::new(panel.tab(), session).missing();
    }
    if checked == Checked::Not {
        if let Some(page) = stale(&document, &form, session) {
            return page;
        }
    }
    let mut refused = Vec::new();
    if let Some(name) = document.name_mut(place) {
        if let Some(new) = form.get("name") {
            match fields::control_characters(new) {
                Some(why) => refused.push(("name", why)),
                None => *name = new.trim().to_owned(),
            }
        }
    }
    if let Some(entries) = document.entries_mut(place) {
        refused.extend(fields::apply(panel.fields(), &form, entries));
    }
    if !refused.is_empty() {
        let problems: Vec<lvs_cf::edit::Problem> = refused
            .into_iter()
            .map(|(key, message)| lvs_cf::edit::Problem {
                place: Some(place),
                key: Some(key.to_owned()),
                message,
            })
            .collect();
        return Page::new(panel.tab(), session).panel(panel, &document, &problems, None);
    }
    let again = |problems: &[lvs_cf::edit::Problem]| {
        Page::new(panel.tab(), session).panel(panel, &document, problems, None)
    };
    save_and_go(app, &form, &document, next, again, session).await
}

async fn import_page(ctx: Ctx) -> Response {
    Page::new("import", &ctx.session).import_form(&FormData::new(), None)
}

/// An import of another director's file: the report first; with `save`,
/// saved through the same path as the panels' changes (the stale-page check,
/// then the running daemon's plan, then the file).
async fn import(ctx: Ctx, Form(form): Form<FormData>) -> Response {
    let Ctx { app, session } = &ctx;
    let field = |key: &str| form.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
    let again = |problem: &str| Page::new("import", session).import_form(&form, Some(problem));
    let source = match field("source")
        .unwrap_or("keepalived")
        .parse::<lvs_import::Source>()
    {
        Ok(source) => source,
        Err(e) => return again(&e),
    };
    // These go into lvs.cf as values: one line each, as every panel's field.
    for key in ["primary", "backup", "vip_device", "config_id"] {
        if let Some(problem) = field(key).and_then(fields::control_characters) {
            return again(&format!("{key}: {problem}"));
        }
    }
    let mut importer = lvs_import::Importer::new(source)
        .read_includes(false)
        .vip_device(field("vip_device").unwrap_or("eth0"));
    if let Some(id) = field("config_id") {
        importer = importer.config_id(id);
    }
    if let Some(primary) = field("primary") {
        importer = importer.primary(lvs_cf::Host::from_written(primary));
    }
    if let Some(backup) = field("backup") {
        importer = importer.backup(lvs_cf::Host::from_written(backup));
    }
    // Line ends as the browser may send them, all as LF.
    let text = form
        .get("text")
        .map_or("", String::as_str)
        .replace("\r\n", "\n")
        .replace('\r', "\n");
    // A file's expansion can be large: off the async threads.
    let imported = match tokio::task::spawn_blocking(move || importer.import_text("the file", &text)).await {
        Ok(Ok(imported)) => imported,
        Ok(Err(e)) => return again(&e.to_string()),
        Err(e) => return Page::new("import", session).failure(&e.to_string()),
    };
    let _saving = app.saving.lock().await;
    let current = match load(app, session) {
        Ok(document) => document,
        Err(page) => return page,
    };
    // The serial number goes on from the file's, as any save's does.
    let mut config = imported.config.clone();
    config.serial_no = pages::serial_of(&current).parse().unwrap_or(0);
    let report = |problems: &[lvs_cf::edit::Problem]| {
        let mut shown = imported.clone();
        shown.config.serial_no = config.serial_no.saturating_add(1);
        Page::new("import", session).import_report(&shown, &form, &pages::version_of(&current), problems)
    };
    if form.get("save").is_none_or(|v| v != "1") {
        return report(&[]);
    }
    // A report of an older file saves nothing over a newer one.
    if let Some(page) = stale(&current, &form, session) {
        return page;
    }
    save_and_go(app, &form, &Document::of(&config), "/virtual", report, session).await
}

async fn virtual_list(ctx: Ctx, Query(saved): Query<Saved>) -> Response {
    match load(&ctx.app, &ctx.session) {
        Ok(document) => Page::new("virtual", &ctx.session).virtual_list(&document, saved.saved.as_deref()),
        Err(page) => page,
    }
}

fn block_kind(kind: Option<&str>) -> BlockKind {
    if kind == Some("failover") {
        BlockKind::Failover
    } else {
        BlockKind::Virtual
    }
}

fn new_block(kind: BlockKind) -> Block {
    Block {
        kind,
        name: String::new(),
        entries: vec![lvs_cf::edit::Entry::new("active", "0")],
        checks: Vec::new(),
        servers: Vec::new(),
    }
}

/// A change to the list of blocks or servers: applied, validated and saved.
async fn list_change(
    app: &App,
    session: &SessionInfo,
    form: &FormData,
    next: &str,
    change: impl FnOnce(&mut Document) -> bool,
) -> Response {
    let mut document = match load(app, session) {
        Ok(document) => document,
        Err(page) => return page,
    };
    if let Some(page) = stale(&document, form, session) {
        return page;
    }
    if !change(&mut document) {
        return Page::new("virtual", session).missing();
    }
    let again = |problems: &[lvs_cf::edit::Problem]| Page::new("virtual", session).problems(problems);
    save_and_go(app, form, &document, next, again, session).await
}

/// The refusal of a change made from a page that showed an older file (or
/// none): blocks and servers are addressed by position, so a stale page
/// could otherwise change the wrong one.
fn stale(document: &Document, form: &FormData, session: &SessionInfo) -> Option<Response> {
    let now = pages::version_of(document);
    (form.get("serial") != Some(&now))
        .then(|| Page::new("virtual", session).stale(pages::serial_of(document)))
}

/// Flips a block's or server's `active`.
fn toggle(entries: &mut Vec<lvs_cf::edit::Entry>) {
    let on = lvs_cf::edit::value_of(entries, "active").is_some_and(|v| v.trim() != "0");
    lvs_cf::edit::set(entries, "active", Some(if on { "0" } else { "1" }.to_owned()));
}

async fn servers_list(ctx: Ctx, UrlPath(b): UrlPath<usize>, Query(saved): Query<Saved>) -> Response {
    let Ctx { app, session } = &ctx;
    match load(app, session) {
        Ok(document) if b < document.blocks.len() => {
            Page::new("virtual", session).servers_list(&document, b, saved.saved.as_deref())
        }
        Ok(_) => Page::new("virtual", session).missing(),
        Err(page) => page,
    }
}

fn new_server() -> ServerBlock {
    ServerBlock {
        name: String::new(),
        entries: vec![
            lvs_cf::edit::Entry::new("active", "1"),
            lvs_cf::edit::Entry::new("weight", "1"),
        ],
        checks: Vec::new(),
    }
}

/// Serves the tool on `listener` until `shutdown` completes, then gives
/// the requests under way [`STOP_GRACE`] to finish. Each connection serves
/// one request: its head must arrive within [`HEADER_TIME`], its body
/// within [`BODY_TIME`], and the whole within [`CONNECTION_TIME`]; at most
/// [`MAX_CONNECTIONS`] are served at once, [`MAX_CONNECTIONS_PER_SOURCE`]
/// from one address, and more are closed at once, so that slow or idle
/// clients cannot hold every descriptor.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let router = router(app);
    let per_source: Arc<std::sync::Mutex<HashMap<std::net::IpAddr, usize>>> = Arc::default();
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => {
                    // Out of descriptors, say: let connections end rather than spin.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            () = &mut shutdown => break,
        };
        if connections.len() >= MAX_CONNECTIONS {
            continue;
        }
        let Some(slot) = SourceSlot::take(&per_source, peer.ip()) else {
            continue;
        };
        let router = router.clone();
        connections.spawn(async move {
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(Peer(peer));
                    tower::ServiceExt::oneshot(router.clone(), request.map(Body::new))
                });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIME)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_TIME, connection).await;
            drop(slot);
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(STOP_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

/// One connection's place in its source's count; given back when dropped.
struct SourceSlot {
    counts: Arc<std::sync::Mutex<HashMap<std::net::IpAddr, usize>>>,
    source: std::net::IpAddr,
}

impl SourceSlot {
    fn take(
        counts: &Arc<std::sync::Mutex<HashMap<std::net::IpAddr, usize>>>,
        source: std::net::IpAddr,
    ) -> Option<SourceSlot> {
        let mut map = counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = map.entry(source).or_insert(0);
        if *count >= MAX_CONNECTIONS_PER_SOURCE {
            return None;
        }
        *count += 1;
        Some(SourceSlot {
            counts: Arc::clone(counts),
            source,
        })
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut map = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = map.get_mut(&self.source) {
            *count -= 1;
            if *count == 0 {
                map.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pages::Panel;

    #[test]
    fn only_addresses_localhost_and_configured_names_are_hosts() {
        let names = vec!["lb1.example.net".to_owned()];
        for host in [
            "127.0.0.1:3636",
            "192.0.2.1",
            "[::1]:3636",
            "localhost:3636",
            "LB1.example.net:80",
        ] {
            assert!(host_allowed(host, &names), "{host}");
        }
        for host in [
            "",
            "evil.example.com",
            "evil.example.com:3636",
            "lb1.example.net.evil.com",
            "[zz]:1",
        ] {
            assert!(!host_allowed(host, &names), "{host}");
        }
    }

    #[test]
    fn each_panel_url_routes_back_to_its_panel() {
        for panel in [
            Panel::Global,
            Panel::Redundancy,
            Panel::Virtual { b: 3, new: false },
            Panel::Scripts { b: 0 },
            Panel::Server {
                b: 2,
                s: 7,
                new: false,
            },
        ] {
            assert_eq!(
                Route::of(&panel.url()),
                Some(Route::Panel(panel)),
                "{}",
                panel.url()
            );
        }
        assert_eq!(
            Route::of(&Panel::Virtual { b: 0, new: true }.url()),
            Some(Route::New { server_of: None })
        );
        assert_eq!(
            Route::of(
                &Panel::Server {
                    b: 4,
                    s: 0,
                    new: true
                }
                .url()
            ),
            Some(Route::New { server_of: Some(4) })
        );
        assert_eq!(
            Route::of("/virtual/1/servers/2/toggle"),
            Some(Route::List(Place::Server(1, 2), ListChange::Toggle))
        );
        for panel in [
            Panel::Check {
                b: 1,
                s: None,
                c: 2,
                new: false,
            },
            Panel::Check {
                b: 1,
                s: Some(3),
                c: 0,
                new: false,
            },
        ] {
            assert_eq!(
                Route::of(&panel.url()),
                Some(Route::Panel(panel)),
                "{}",
                panel.url()
            );
        }
        assert_eq!(
            Route::of("/virtual/1/servers/3/checks/new"),
            Some(Route::NewCheck { b: 1, s: Some(3) })
        );
        assert_eq!(
            Route::of("/virtual/1/checks/0/delete"),
            Some(Route::List(
                Place::Check {
                    block: 1,
                    server: None,
                    check: 0
                },
                ListChange::Delete
            ))
        );
        assert_eq!(Route::of("/virtual/x"), None);
        assert_eq!(Route::of("/virtual/1/servers/2/rename"), None);
    }
}
