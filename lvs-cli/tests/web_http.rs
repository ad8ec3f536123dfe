//! lvs-web over HTTP: requests go through the tool's whole router (session
//! guard, CSRF check, panels, saving) as a browser would send them, and the
//! lvs.cf on disk is checked after each. The control panel reads a real lvs
//! daemon (in `-t` mode, which needs no kernel) over its status socket.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use lvs_web::{self as web, auth, App, WebOptions};
use testkit::TempDir;
use tower::ServiceExt as _;

const CF: &str = "serial_no = 3\nprimary = 192.0.2.1\nservice = lvs\nnetwork = nat\n\
    virtual web {\n active = 1\n address = 192.0.2.100 eth0:1\n port = 80\n scheduler = wlc\n\
    server a {\n address = 10.0.0.1\n active = 1\n weight = 1\n }\n}\n";

struct Tool {
    dir: TempDir,
    app: Arc<App>,
}

struct Reply {
    status: StatusCode,
    location: Option<String>,
    cookie: Option<String>,
    body: String,
}

impl Tool {
    fn new(cf: &str) -> Tool {
        let dir = TempDir::new("web-http");
        let config = dir.file("lvs.cf", cf);
        let passwords = dir.path().join("lvs-web.passwd");
        let hash = auth::hash_password("s3cret", argon2::Params::new(256, 1, 1, None).ok()).expect("hash");
        std::fs::write(&passwords, format!("piranha:{hash}\n")).expect("write");
        let mut options = WebOptions::default();
        options.configfile = config;
        options.password_file = passwords.clone();
        options.lvs_socket = dir.path().join("lvs.sock");
        options.pulse_pidfile = dir.path().join("pulse.pid");
        options.lvs_pidfile = dir.path().join("lvs.pid");
        let loaded = auth::Passwords::load(&passwords).expect("load");
        Tool {
            dir,
            app: App::new(options, loaded),
        }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("lvs.cf")
    }

    fn file(&self) -> String {
        std::fs::read_to_string(self.config()).expect("lvs.cf")
    }

    /// Sends a request; a form that says no `serial` gets the file's
    /// current one, as a page just loaded would.
    async fn send(&self, method: Method, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Reply {
        // The version a page just loaded would carry.
        let serial = web::store::load(&self.config())
            .map(|document| web::store::version(&document))
            .unwrap_or_default();
        let mut form: Vec<(&str, &str)> = form.to_vec();
        if method == Method::POST && !form.iter().any(|(k, _)| *k == "serial") {
            form.push(("serial", &serial));
        }
        self.send_exactly(method, path, cookie, &form).await
    }

    async fn send_exactly(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        form: &[(&str, &str)],
    ) -> Reply {
        let body: String = form
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "127.0.0.1:3636")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let response = web::router(self.app.clone())
            .oneshot(request.body(Body::from(body)).expect("request"))
            .await
            .expect("response");
        let header_text = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let (status, location, cookie) = (
            response.status(),
            header_text(header::LOCATION),
            header_text(header::SET_COOKIE),
        );
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        Reply {
            status,
            location,
            cookie,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// Logs in; the session cookie and the page's CSRF token.
    async fn login(&self) -> (String, String) {
        let reply = self
            .send(
                Method::POST,
                "/login",
                None,
                &[("user", "piranha"), ("password", "s3cret")],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let set = reply.cookie.expect("a session cookie");
        assert!(
            set.contains("HttpOnly") && set.contains("Secure") && set.contains("SameSite=Strict"),
            "{set}"
        );
        let cookie = set.split(';').next().unwrap_or_default().to_owned();
        let page = self.send(Method::GET, "/global", Some(&cookie), &[]).await;
        (cookie, csrf_of(&page.body))
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[start..].split('"').next().unwrap_or_default().to_owned()
}

/// The HTML of the form row of `key`.
fn row<'h>(html: &'h str, key: &str) -> &'h str {
    let at = html
        .find(&format!("<label for=\"{key}\""))
        .unwrap_or_else(|| panic!("no field {key}"));
    let start = html[..at].rfind("<div class=\"row\">").unwrap_or(at);
    let end = html[at..].find("</div>").map_or(html.len(), |e| at + e);
    &html[start..end]
}

/// Every route, with its method.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/control"),
    ("POST", "/control/reload"),
    ("POST", "/logout"),
    ("GET", "/global"),
    ("POST", "/global"),
    ("GET", "/redundancy"),
    ("POST", "/redundancy"),
    ("GET", "/virtual"),
    ("GET", "/virtual/new"),
    ("POST", "/virtual/new"),
    ("GET", "/virtual/0"),
    ("POST", "/virtual/0"),
    ("POST", "/virtual/0/delete"),
    ("POST", "/virtual/0/toggle"),
    ("GET", "/virtual/0/scripts"),
    ("POST", "/virtual/0/scripts"),
    ("GET", "/virtual/0/servers"),
    ("GET", "/virtual/0/servers/new"),
    ("POST", "/virtual/0/servers/new"),
    ("GET", "/virtual/0/servers/0"),
    ("POST", "/virtual/0/servers/0"),
    ("POST", "/virtual/0/servers/0/delete"),
    ("POST", "/virtual/0/servers/0/toggle"),
    ("GET", "/nowhere"),
];

fn method(name: &str) -> Method {
    Method::from_bytes(name.as_bytes()).expect("method")
}

#[tokio::test]
async fn nothing_is_seen_or_changed_without_a_session_and_its_token() {
    let tool = Tool::new(CF);
    let form = [
        ("primary", "192.0.2.9"),
        ("name", "x"),
        ("address", "10.0.0.9"),
        ("weight", "9"),
    ];
    for other in ["PUT", "DELETE", "PATCH"] {
        let reply = tool.send(method(other), "/global", None, &form).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{other} /global");
    }
    for (name, path) in ROUTES {
        let reply = tool.send(method(name), path, None, &form).await;
        if *name == "GET" {
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "{name} {path}");
            assert_eq!(reply.location.as_deref(), Some("/login"), "{name} {path}");
            assert!(
                !reply.body.contains("192.0.2.1"),
                "{name} {path} leaks the configuration"
            );
        } else {
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name} {path}");
        }
    }
    // A wrong password gives no session.
    let reply = tool
        .send(
            Method::POST,
            "/login",
            None,
            &[("user", "piranha"), ("password", "guess")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.cookie.is_none());
    let forged = format!("{}=00ff", auth::SESSION_COOKIE);
    assert_eq!(
        tool.send(Method::GET, "/global", Some(&forged), &[]).await.status,
        StatusCode::SEE_OTHER
    );

    // With a session, every change still needs the token.
    let (cookie, csrf) = tool.login().await;
    for (name, path) in ROUTES.iter().filter(|(m, _)| *m == "POST") {
        let missing = tool.send(method(name), path, Some(&cookie), &form).await;
        assert_eq!(
            missing.status,
            StatusCode::FORBIDDEN,
            "{name} {path} without a token"
        );
        let mut wrong: Vec<(&str, &str)> = form.to_vec();
        wrong.push(("csrf", "0123"));
        let wrong_reply = tool.send(method(name), path, Some(&cookie), &wrong).await;
        assert_eq!(
            wrong_reply.status,
            StatusCode::FORBIDDEN,
            "{name} {path} with a wrong token"
        );
    }
    assert_eq!(tool.file(), CF, "no request changed the file");
    // And the token works: logging out ends the session.
    let out = tool
        .send(Method::POST, "/logout", Some(&cookie), &[("csrf", &csrf)])
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(
        tool.send(Method::GET, "/global", Some(&cookie), &[]).await.status,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn global_and_redundancy_panels_save_validated_files() {
    let tool = Tool::new(CF);
    let (cookie, csrf) = tool.login().await;
    let page = tool.send(Method::GET, "/global", Some(&cookie), &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(row(&page.body, "primary").contains("value=\"192.0.2.1\""));
    assert!(page.body.contains("id=\"serial_no\">3<"));

    // An invalid value: refused, shown beside its field, file unchanged.
    let bad = tool
        .send(
            Method::POST,
            "/global",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("service", "lvs"),
                ("primary", "192.0.2.1"),
                ("network", "nat"),
                ("tcp_timeout", "soon"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let tcp = row(&bad.body, "tcp_timeout");
    assert!(
        tcp.contains("class=\"error\"") && tcp.contains("value=\"soon\""),
        "{tcp}"
    );
    assert_eq!(tool.file(), CF);

    // A long command survives whole (Piranha's tool cut lines at 80).
    let long = format!("/usr/local/sbin/notify --to ops --message '{}'", "x".repeat(120));
    let good = tool
        .send(
            Method::POST,
            "/global",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("service", "lvs"),
                ("primary", "192.0.2.5"),
                ("network", "direct"),
                ("tcp_timeout", "900"),
                ("active_cmd", &long),
                ("hard_shutdown", "0"),
            ],
        )
        .await;
    assert_eq!(good.status, StatusCode::SEE_OTHER, "{}", good.body);
    let text = tool.file();
    assert!(text.contains("serial_no = 4"), "{text}");
    assert!(
        text.contains("primary = 192.0.2.5") && text.contains("network = direct"),
        "{text}"
    );
    assert!(
        text.contains("tcp_timeout = 900") && text.contains("hard_shutdown = 0"),
        "{text}"
    );
    assert!(text.contains(&format!("active_cmd = \"{long}\"")), "{text}");
    let parsed = lvs_cf::parse(&text).expect("the saved file parses");
    assert_eq!(parsed.config.active_cmd.as_deref(), Some(long.as_str()));
    assert_eq!(
        std::fs::read_to_string(web::store::backup_path(&tool.config())).expect("backup"),
        CF
    );
    let after = tool
        .send(
            Method::GET,
            good.location.as_deref().unwrap_or("/global"),
            Some(&cookie),
            &[],
        )
        .await;
    assert!(after.body.contains("serial_no 4"), "the saved note");

    let redundancy = tool
        .send(
            Method::POST,
            "/redundancy",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("backup_active", "0"),
                ("backup_active", "1"),
                ("backup", "192.0.2.2"),
                ("heartbeat", "1"),
                ("keepalive", "0.5"),
                ("deadtime", "2"),
                ("heartbeat_key", "/etc/sysconfig/ha/heartbeat.key"),
            ],
        )
        .await;
    assert_eq!(redundancy.status, StatusCode::SEE_OTHER, "{}", redundancy.body);
    let config = lvs_cf::parse(&tool.file()).expect("parses").config;
    assert!(config.backup_active);
    assert_eq!(config.keepalive.0, std::time::Duration::from_millis(500));
    assert_eq!(
        config.heartbeat_key.as_deref(),
        Some("/etc/sysconfig/ha/heartbeat.key")
    );
    assert_eq!(config.serial_no, 5);
    assert_eq!(
        config.primary.map(|h| h.to_string()).as_deref(),
        Some("192.0.2.5"),
        "other panels' keys are kept"
    );
}

#[tokio::test]
async fn virtual_servers_real_servers_and_scripts() {
    let tool = Tool::new(CF);
    let (cookie, csrf) = tool.login().await;
    let list = tool.send(Method::GET, "/virtual", Some(&cookie), &[]).await;
    assert!(list.body.contains(">web<") && list.body.contains("192.0.2.100") && list.body.contains("eth0:1"));

    // Add: a new service lands after the others; its page is the server list.
    let added = tool
        .send(
            Method::POST,
            "/virtual/new",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("kind", "virtual"),
                ("name", "mail"),
                ("active", "1"),
                ("address", "192.0.2.110"),
                ("address__device", "eth0:2"),
                ("port", "25"),
                ("scheduler", "rr"),
                ("persistent", "60"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    assert_eq!(
        added
            .location
            .as_deref()
            .map(|l| l.starts_with("/virtual/1/servers")),
        Some(true)
    );
    let config = lvs_cf::parse(&tool.file()).expect("parses").config;
    let mail = &config.virtual_services[1];
    assert_eq!((mail.name.as_str(), mail.port, mail.persistent), ("mail", 25, 60));

    // An address without its device is refused beside the address, and
    // the form comes back with what was typed.
    let partial = tool
        .send(
            Method::POST,
            "/virtual/new",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("name", "ftp"),
                ("address", "192.0.2.111"),
                ("port", "21"),
            ],
        )
        .await;
    assert_eq!(
        partial.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        partial.body
    );
    let address = row(&partial.body, "address");
    assert!(
        address.contains("class=\"error\"") && address.contains("value=\"192.0.2.111\""),
        "{address}"
    );
    assert!(row(&partial.body, "name").contains("value=\"ftp\""));
    assert_eq!(
        lvs_cf::parse(&tool.file())
            .expect("parses")
            .config
            .virtual_services
            .len(),
        2
    );

    // Real servers: add two, edit one, deactivate and delete.
    for (name, address) in [("m1", "10.0.1.1"), ("m2", "10.0.1.2")] {
        let reply = tool
            .send(
                Method::POST,
                "/virtual/1/servers/new",
                Some(&cookie),
                &[
                    ("csrf", &csrf),
                    ("name", name),
                    ("address", address),
                    ("weight", "2"),
                    ("active", "1"),
                ],
            )
            .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    }
    let servers = tool
        .send(Method::GET, "/virtual/1/servers", Some(&cookie), &[])
        .await;
    assert!(servers.body.contains("10.0.1.1") && servers.body.contains("10.0.1.2"));
    let edit = tool
        .send(
            Method::POST,
            "/virtual/1/servers/1",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("name", "m2"),
                ("address", "10.0.1.3"),
                ("weight", "5"),
                ("active", "1"),
                ("port", "2525"),
            ],
        )
        .await;
    assert_eq!(edit.status, StatusCode::SEE_OTHER, "{}", edit.body);
    let bad_weight = tool
        .send(
            Method::POST,
            "/virtual/1/servers/1",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("name", "m2"),
                ("address", "10.0.1.3"),
                ("weight", "-1"),
            ],
        )
        .await;
    assert_eq!(bad_weight.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(row(&bad_weight.body, "weight").contains("class=\"error\""));
    let toggled = tool
        .send(
            Method::POST,
            "/virtual/1/servers/0/toggle",
            Some(&cookie),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(toggled.status, StatusCode::SEE_OTHER);
    let config = lvs_cf::parse(&tool.file()).expect("parses").config;
    let servers = &config.virtual_services[1].servers;
    assert_eq!(servers.len(), 2);
    assert!(!servers[0].active);
    assert_eq!((servers[1].weight, servers[1].port), (5, Some(2525)));
    assert_eq!(
        servers[1].address.as_ref().map(|h| h.to_string()).as_deref(),
        Some("10.0.1.3")
    );
    let deleted = tool
        .send(
            Method::POST,
            "/virtual/1/servers/0/delete",
            Some(&cookie),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert_eq!(
        lvs_cf::parse(&tool.file())
            .expect("parses")
            .config
            .virtual_services[1]
            .servers
            .len(),
        1
    );

    // Monitoring scripts: a send string with blanks and escapes, whole.
    let scripts = tool
        .send(
            Method::POST,
            "/virtual/0/scripts",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                (
                    "send",
                    "HEAD /status HTTP/1.0\\r\\nHost: www.example.com\\r\\n\\r\\n",
                ),
                ("expect", "HTTP/1.[01] 200"),
                ("use_regex", "1"),
            ],
        )
        .await;
    assert_eq!(scripts.status, StatusCode::SEE_OTHER, "{}", scripts.body);
    let config = lvs_cf::parse(&tool.file()).expect("parses").config;
    let web = &config.virtual_services[0];
    assert_eq!(
        web.send.as_ref().map(|t| t.value.as_str()),
        Some("HEAD /status HTTP/1.0\\r\\nHost: www.example.com\\r\\n\\r\\n")
    );
    assert!(web.use_regex);
    let page = tool
        .send(Method::GET, "/virtual/0/scripts", Some(&cookie), &[])
        .await;
    assert!(row(&page.body, "send").contains("Host: www.example.com"));

    // Deactivate and delete a virtual server.
    let off = tool
        .send(
            Method::POST,
            "/virtual/1/toggle",
            Some(&cookie),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(off.status, StatusCode::SEE_OTHER);
    assert!(
        !lvs_cf::parse(&tool.file())
            .expect("parses")
            .config
            .virtual_services[1]
            .active
    );
    let gone = tool
        .send(
            Method::POST,
            "/virtual/1/delete",
            Some(&cookie),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    assert_eq!(
        lvs_cf::parse(&tool.file())
            .expect("parses")
            .config
            .virtual_services
            .len(),
        1
    );
    // The only active service cannot go: the daemons would refuse the file.
    let refused = tool
        .send(
            Method::POST,
            "/virtual/0/delete",
            Some(&cookie),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("no active virtual services"),
        "{}",
        refused.body
    );
    assert_eq!(
        lvs_cf::parse(&tool.file())
            .expect("parses")
            .config
            .virtual_services
            .len(),
        1
    );
    // Out of range is a 404, not a panic.
    let none = tool
        .send(Method::GET, "/virtual/9/servers/3", Some(&cookie), &[])
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND);
}

/// Runs `lvs -t` (no kernel needed) with a status socket and a pid file.
fn lvs_daemon(dir: &Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_lvs"))
        .args(["-n", "-t", "-c"])
        .arg(dir.join("lvs.cf"))
        .arg("--socket")
        .arg(dir.join("lvs.sock"))
        .arg("--pidfile")
        .arg(dir.join("lvs.pid"))
        .stdout(std::fs::File::create(dir.join("lvs.log")).expect("log"))
        .stderr(
            std::fs::File::options()
                .append(true)
                .open(dir.join("lvs.log"))
                .expect("log"),
        )
        .spawn()
        .expect("start lvs")
}

async fn wait_until(mut done: impl FnMut() -> bool, what: &str) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "waited too long for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_control_panel_shows_the_daemon_and_asks_it_to_reload() {
    let tool = Tool::new(CF);
    let (cookie, csrf) = tool.login().await;
    let idle = tool.send(Method::GET, "/control", Some(&cookie), &[]).await;
    assert_eq!(idle.status, StatusCode::OK);
    assert!(
        idle.body
            .contains("id=\"lvs-state\"><span class=\"down\">not running"),
        "{}",
        idle.body
    );
    assert!(idle.body.contains("no lvs daemon answers"));

    let log = tool.dir.path().join("lvs.log");
    let logged = |line: &'static str| {
        let log = log.clone();
        move || std::fs::read_to_string(&log).unwrap_or_default().contains(line)
    };
    let mut lvs = lvs_daemon(tool.dir.path());
    let socket = tool.dir.path().join("lvs.sock");
    wait_until(|| socket.exists() && logged("starting")(), "lvs to start").await;
    let page = tool
        .send(Method::GET, "/control?refresh=1&every=15", Some(&cookie), &[])
        .await;
    assert!(page.body.contains("<meta http-equiv=\"refresh\" content=\"15\">"));
    assert!(
        page.body.contains(&format!("(pid {})", lvs.id())),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("id=\"ipvs-table\"") && page.body.contains("10.0.0.1"),
        "{}",
        page.body
    );
    // The pictures: the topology with the server, the service's charts
    // and the server's timeline (the daemon samples at its start).
    assert!(
        page.body.contains("<svg id=\"topology\"") && page.body.contains("a 10.0.0.1:80"),
        "{}",
        page.body
    );
    for id in ["history-0", "connections-0", "bytes-0", "timeline-0-0"] {
        assert!(
            page.body.contains(&format!("id=\"{id}\"")),
            "no {id}: {}",
            page.body
        );
    }

    let reload = tool
        .send(Method::POST, "/control/reload", Some(&cookie), &[("csrf", &csrf)])
        .await;
    assert!(
        reload
            .body
            .contains(&format!("asked lvs (pid {}) to reload", lvs.id())),
        "{}",
        reload.body
    );
    wait_until(logged("SIGHUP received"), "lvs to be signalled").await;
    let _ = lvs.kill();
    let _ = lvs.wait();
}

/// While an lvs daemon runs, a save first shows what a reload to the new
/// file would do (the daemon's own plan, as `lvsd --plan` prints it), and
/// saves only when that page's button sends the form again.
#[tokio::test]
async fn a_save_shows_the_running_daemons_plan_first() {
    let tool = Tool::new(CF);
    let (cookie, csrf) = tool.login().await;
    let log = tool.dir.path().join("lvs.log");
    let mut lvs = lvs_daemon(tool.dir.path());
    let socket = tool.dir.path().join("lvs.sock");
    wait_until(
        || {
            socket.exists()
                && std::fs::read_to_string(&log)
                    .unwrap_or_default()
                    .contains("starting")
        },
        "lvs to start",
    )
    .await;
    let before = tool.file();
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "a"),
        ("address", "10.0.0.1"),
        ("weight", "3"),
        ("active", "1"),
        ("scheduler", "rr"),
    ];
    let shown = tool
        .send(Method::POST, "/virtual/0/servers/0", Some(&cookie), &form)
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert!(
        shown.body.contains("id=\"plan\"") && shown.body.contains("reload of "),
        "{}",
        shown.body
    );
    assert!(
        shown.body.contains("lvs.cf.plan"),
        "the plan is of the new file: {}",
        shown.body
    );
    assert!(
        shown.body.contains("id=\"confirm-save\"") && shown.body.contains("name=\"confirmed\" value=\"1\"")
    );
    assert!(
        shown.body.contains("name=\"weight\" value=\"3\""),
        "the form goes again as it was: {}",
        shown.body
    );
    assert_eq!(tool.file(), before, "nothing is saved before the plan is seen");
    assert!(
        !tool.dir.path().join("lvs.cf.plan").exists(),
        "the file planned is removed"
    );

    let mut confirmed = form.to_vec();
    confirmed.push(("confirmed", "1"));
    let saved = tool
        .send(Method::POST, "/virtual/0/servers/0", Some(&cookie), &confirmed)
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let config = lvs_cf::parse(&tool.file()).expect("parses").config;
    assert_eq!(config.virtual_services[0].servers[0].weight, 3);
    let _ = lvs.kill();
    let _ = lvs.wait();
}

#[tokio::test]
async fn a_stale_page_changes_nothing() {
    // Two active services, so that one may be switched off.
    let two = format!("{CF}virtual mail {{\n active = 1\n address = 192.0.2.101 eth0:2\n port = 25\n}}\n");
    let tool = Tool::new(&two);
    let (cookie, csrf) = tool.login().await;
    let list = tool.send(Method::GET, "/virtual", Some(&cookie), &[]).await;
    let version = web::store::version(&web::store::load(&tool.config()).expect("load"));
    assert!(version.starts_with("3-"), "{version}");
    assert!(
        list.body
            .contains(&format!("name=\"serial\" value=\"{version}\"")),
        "the page carries the file's version"
    );
    // Two clicks on one page: the first changes the file, the second is refused.
    let first = tool
        .send_exactly(
            Method::POST,
            "/virtual/0/toggle",
            Some(&cookie),
            &[("csrf", &csrf), ("serial", &version)],
        )
        .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let after_first = tool.file();
    let second = tool
        .send_exactly(
            Method::POST,
            "/virtual/0/toggle",
            Some(&cookie),
            &[("csrf", &csrf), ("serial", &version)],
        )
        .await;
    assert_eq!(second.status, StatusCode::CONFLICT, "{}", second.body);
    assert!(second.body.contains("serial_no is now 4"));
    assert_eq!(tool.file(), after_first);
    // A form without the serial is refused too.
    let bare = tool
        .send_exactly(
            Method::POST,
            "/global",
            Some(&cookie),
            &[("csrf", &csrf), ("primary", "192.0.2.8")],
        )
        .await;
    assert_eq!(bare.status, StatusCode::CONFLICT);
    assert_eq!(tool.file(), after_first);
}

#[tokio::test]
async fn a_value_cannot_add_lines_to_the_file() {
    let tool = Tool::new(CF);
    let (cookie, csrf) = tool.login().await;
    let attempts: [(&str, &str, &str); 4] = [
        (
            "/virtual/0",
            "protocol",
            "tcp\n server evil {\n address = 10.6.6.6\n active = 1\n }",
        ),
        ("/virtual/0", "port", "80\rscheduler=rr"),
        (
            "/virtual/0/scripts",
            "send",
            "\"GET /\"\nsend_program = /bin/evil",
        ),
        ("/global", "primary", "192.0.2.1\nbackup_active = 1"),
    ];
    for (path, key, value) in attempts {
        let reply = tool
            .send(
                Method::POST,
                path,
                Some(&cookie),
                &[("csrf", &csrf), ("name", "web"), (key, value)],
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} {key}: {}",
            reply.body
        );
        assert!(
            row(&reply.body, key).contains("line breaks and control characters are not allowed"),
            "{path} {key}"
        );
        assert_eq!(tool.file(), CF, "{path} {key}");
    }
    let name = tool
        .send(
            Method::POST,
            "/virtual/0",
            Some(&cookie),
            &[("csrf", &csrf), ("name", "web {\n}\nvirtual x")],
        )
        .await;
    assert_eq!(name.status, StatusCode::UNPROCESSABLE_ENTITY);
    let choice = tool
        .send(
            Method::POST,
            "/virtual/0",
            Some(&cookie),
            &[("csrf", &csrf), ("name", "web"), ("scheduler", "fastest")],
        )
        .await;
    assert_eq!(choice.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(row(&choice.body, "scheduler").contains("choose one of"));
    assert_eq!(tool.file(), CF);
}

/// The status and headers of one GET with these headers.
async fn get_with(
    tool: &Tool,
    path: &str,
    headers: &[(header::HeaderName, &str)],
) -> axum::http::Response<Body> {
    let mut request = Request::builder().method(Method::GET).uri(path);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    web::router(tool.app.clone())
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("response")
}

#[tokio::test]
async fn other_host_names_are_refused_and_every_answer_carries_the_security_headers() {
    let tool = Tool::new(CF);
    for host in ["evil.example.com", "evil.example.com:3636", ""] {
        let reply = get_with(&tool, "/login", &[(header::HOST, host)]).await;
        assert_eq!(reply.status(), StatusCode::MISDIRECTED_REQUEST, "{host}");
    }
    let reply = get_with(&tool, "/login", &[]).await;
    assert_eq!(reply.status(), StatusCode::MISDIRECTED_REQUEST, "no Host at all");
    for host in ["127.0.0.1:3636", "localhost:3636", "[::1]:3636", "192.0.2.1"] {
        let reply = get_with(&tool, "/login", &[(header::HOST, host)]).await;
        assert_eq!(reply.status(), StatusCode::OK, "{host}");
        let headers = reply.headers();
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().expect("text");
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::REFERRER_POLICY], "no-referrer");
    }
    // A configured name is a host.
    let mut named = Tool::new(CF);
    let mut options = named.app.options.clone();
    options.host_names = vec!["lb1.example.net".to_owned()];
    named.app = App::new(
        options,
        auth::Passwords::load(&named.dir.path().join("lvs-web.passwd")).expect("load"),
    );
    let reply = get_with(&named, "/login", &[(header::HOST, "lb1.example.net:3636")]).await;
    assert_eq!(reply.status(), StatusCode::OK);
}

#[tokio::test]
async fn failed_logins_are_throttled_and_a_dropped_cookie_is_explained() {
    let tool = Tool::new(CF);
    let attempt = |password: &'static str| {
        let tool = &tool;
        async move {
            tool.send(
                Method::POST,
                "/login",
                None,
                &[("user", "piranha"), ("password", password)],
            )
            .await
        }
    };
    for _ in 0..4 {
        assert_eq!(attempt("guess").await.status, StatusCode::UNAUTHORIZED);
    }
    // Even the right password waits now: guessing has slowed to a crawl.
    let held = attempt("s3cret").await;
    assert_eq!(held.status, StatusCode::TOO_MANY_REQUESTS, "{}", held.body);
    assert!(
        held.body.contains("too many failed logins from this address"),
        "{}",
        held.body
    );
    assert!(held.cookie.is_none());

    // A login whose cookie the browser did not keep says why, not a loop.
    let fresh = Tool::new(CF);
    let reply = fresh
        .send(
            Method::POST,
            "/login",
            None,
            &[("user", "piranha"), ("password", "s3cret")],
        )
        .await;
    let next = reply.location.expect("a redirect");
    let without_cookie = fresh.send(Method::GET, &next, None, &[]).await;
    assert_eq!(without_cookie.status, StatusCode::OK);
    assert!(
        without_cookie
            .body
            .contains("did not send the session cookie back"),
        "{}",
        without_cookie.body
    );
    // Elsewhere, no session is a plain redirect to the login page.
    let plain = fresh.send(Method::GET, "/control", None, &[]).await;
    assert_eq!(plain.location.as_deref(), Some("/login"));
}

#[tokio::test]
async fn the_stale_page_check_holds_at_the_largest_serial() {
    let top = CF.replace("serial_no = 3", "serial_no = 2147483647");
    let two = format!("{top}virtual mail {{\n active = 1\n address = 192.0.2.101 eth0:2\n port = 25\n}}\n");
    let tool = Tool::new(&two);
    let (cookie, csrf) = tool.login().await;
    let version = web::store::version(&web::store::load(&tool.config()).expect("load"));
    let first = tool
        .send_exactly(
            Method::POST,
            "/virtual/0/toggle",
            Some(&cookie),
            &[("csrf", &csrf), ("serial", &version)],
        )
        .await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    assert!(
        tool.file().contains("serial_no = 2147483647"),
        "the serial cannot count higher"
    );
    let after_first = tool.file();
    let second = tool
        .send_exactly(
            Method::POST,
            "/virtual/0/toggle",
            Some(&cookie),
            &[("csrf", &csrf), ("serial", &version)],
        )
        .await;
    assert_eq!(second.status, StatusCode::CONFLICT, "{}", second.body);
    assert_eq!(tool.file(), after_first);
}

/// Over real sockets: slow and idle clients are cut off and capped, a real
/// user still gets an answer, and a stop does not wait for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_capped_and_do_not_hold_a_stop() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let tool = Tool::new(CF);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(web::serve(listener, tool.app.clone(), async {
        let _ = stopped.await;
    }));
    // 200 half-sent requests from one address.
    let mut held = Vec::new();
    for _ in 0..200 {
        let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
        let _ = stream
            .write_all(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            .await;
        held.push(stream);
    }
    // A user from another address is still answered.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.2:0".parse().expect("literal"))
        .expect("bind 127.0.0.2");
    let mut user = socket.connect(address).await.expect("connect");
    user.write_all(b"GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("send");
    let mut answer = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(5), user.read_to_end(&mut answer))
        .await
        .expect("the user is answered while 200 clients hold their requests")
        .expect("read");
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    // Most of the 200 were closed at once; the rest within the header time.
    let started = std::time::Instant::now();
    for stream in &mut held {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(web::HEADER_TIME * 2, stream.read(&mut byte)).await;
        assert!(
            read.is_ok(),
            "a half-sent request was held past twice the header time"
        );
    }
    assert!(started.elapsed() < web::HEADER_TIME * 2);
    // A stop with new slow clients connected ends within the grace.
    for _ in 0..10 {
        let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
        let _ = stream.write_all(b"GET / HTTP/1.1\r\n").await;
        held.push(stream);
    }
    let stopping = std::time::Instant::now();
    let _ = stop.send(());
    tokio::time::timeout(web::STOP_GRACE * 2, server)
        .await
        .expect("the stop waited on slow clients")
        .expect("join")
        .expect("serve");
    assert!(stopping.elapsed() <= web::STOP_GRACE + std::time::Duration::from_secs(1));
}

#[tokio::test]
async fn a_save_the_daemons_would_refuse_is_not_made() {
    let tool = Tool::new(CF);
    let (cookie, csrf) = tool.login().await;
    let before = tool.file();
    // Only the token and the serial: every field of the panel emptied, the primary with them.
    let wiped = tool
        .send(Method::POST, "/global", Some(&cookie), &[("csrf", &csrf)])
        .await;
    assert_ne!(wiped.status, StatusCode::SEE_OTHER, "{}", wiped.body);
    assert!(
        wiped
            .body
            .contains("pulse would refuse it: no primary address in the configuration"),
        "{}",
        wiped.body
    );
    assert_eq!(tool.file(), before, "nothing was written");
    // A regular expression the director cannot compile, as `lvs -t` would refuse it.
    let scripts = tool
        .send(Method::GET, "/virtual/0/scripts", Some(&cookie), &[])
        .await;
    assert_eq!(scripts.status, StatusCode::OK);
    let bad = tool
        .send(
            Method::POST,
            "/virtual/0/scripts",
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("send", "GET / HTTP/1.0\\r\\n\\r\\n"),
                ("expect", "HTTP/1.[01"),
                ("use_regex", "1"),
            ],
        )
        .await;
    assert!(
        bad.body.contains("the lvs daemon would refuse it"),
        "{}",
        bad.body
    );
    assert_eq!(tool.file(), before, "nothing was written");
}

#[test]
fn a_password_file_others_can_change_is_warned_about() {
    use std::io::BufRead as _;
    use std::os::unix::fs::PermissionsExt as _;
    let tool = Tool::new(CF);
    let passwords = tool.dir.path().join("lvs-web.passwd");
    std::fs::set_permissions(&passwords, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lvs-web"))
        .arg("-c")
        .arg(tool.config())
        .arg("--password-file")
        .arg(&passwords)
        .args(["--listen", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("lvs-web");
    let stderr = child.stderr.take().expect("stderr");
    let first = std::io::BufReader::new(stderr)
        .lines()
        .next()
        .and_then(Result::ok);
    let _ = child.kill();
    let _ = child.wait();
    let expected = format!(
        "lvs-web: WARNING: password file {} has mode 0666: other users can read and change it; chmod 600 it",
        passwords.display()
    );
    assert_eq!(first.as_deref(), Some(expected.as_str()));
}

/// `passwd` takes `--help` and the tool's `--password-file` after it as well
/// as before it.
#[test]
fn passwd_takes_help_and_the_password_file_after_it() {
    let lvs_web = || std::process::Command::new(env!("CARGO_BIN_EXE_lvs-web"));
    let help = lvs_web().args(["passwd", "--help"]).output().expect("lvs-web");
    assert_eq!(help.status.code(), Some(0));
    let said = String::from_utf8_lossy(&help.stdout);
    assert!(said.contains("Usage: lvs-web passwd"), "{said}");
    assert!(said.contains("--password-file <FILE>"), "{said}");

    let dir = testkit::TempDir::new("passwd-after");
    for (name, before) in [("after", false), ("before", true)] {
        let file = dir.path().join(format!("{name}.passwd"));
        let mut command = lvs_web();
        if before {
            command.arg("--password-file").arg(&file).arg("passwd");
        } else {
            command.arg("passwd").arg("--password-file").arg(&file);
        }
        let mut child = command
            .args(["--user", "admin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("lvs-web passwd");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), b"s3cret\n").expect("write");
        let out = child.wait_with_output().expect("wait");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let passwords = auth::Passwords::load(&file).expect("load");
        assert!(passwords.verify("admin", "s3cret"), "{name}");
        assert!(!passwords.verify("admin", "other"), "{name}");
    }
}

/// One HTTP/1.1 request to `port` on loopback, closing; the status line's
/// code, the `Set-Cookie` headers' first parts and the body.
fn raw_request(port: u16, request: &str) -> (u16, Vec<String>, String) {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let code = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let cookies = head
        .lines()
        .filter_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
        .collect();
    (code, cookies, body.to_owned())
}

/// The tool logs logins, failed logins and reloads, each once, on standard
/// error (where a service manager's journal takes them).
#[test]
fn logins_failed_logins_and_reloads_are_logged() {
    use std::io::BufRead as _;
    use std::os::unix::fs::PermissionsExt as _;
    let tool = Tool::new(CF);
    // Kept private, so that the tool has no warning to give first.
    std::fs::set_permissions(
        tool.dir.path().join("lvs-web.passwd"),
        std::fs::Permissions::from_mode(0o600),
    )
    .expect("chmod");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lvs-web"))
        .arg("-c")
        .arg(tool.config())
        .arg("--password-file")
        .arg(tool.dir.path().join("lvs-web.passwd"))
        .arg("--pulse-pidfile")
        .arg(tool.dir.path().join("pulse.pid"))
        .arg("--lvs-pidfile")
        .arg(tool.dir.path().join("lvs.pid"))
        .arg("--lvs-socket")
        .arg(tool.dir.path().join("lvs.sock"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("lvs-web");
    /// Stops the tool however the test ends.
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stderr = child.stderr.take().expect("stderr");
    let _stop = Stop(child);
    let mut lines = std::io::BufReader::new(stderr).lines();
    let mut next_line = || lines.next().and_then(Result::ok).unwrap_or_default();
    let first = next_line();
    assert!(first.starts_with("lvs-web: serving "), "{first}");
    let post = |path: &str, cookie: &str, body: &str| {
        raw_request(
            port,
            &format!(
                "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{cookie}\
                 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        )
    };
    let (code, _, _) = post("/login", "", "user=piranha&password=wrong");
    assert_eq!(code, 401);
    assert_eq!(next_line(), "lvs-web: failed login of \"piranha\" from 127.0.0.1");
    let (code, cookies, _) = post("/login", "", "user=piranha&password=s3cret");
    assert_eq!(code, 303);
    assert_eq!(next_line(), "lvs-web: piranha logged in from 127.0.0.1");
    let cookie = format!("Cookie: {}\r\n", cookies.join("; "));
    let (code, _, page) = raw_request(
        port,
        &format!("GET /control HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{cookie}\r\n"),
    );
    assert_eq!(code, 200, "{page}");
    let (code, _, _) = post(
        "/control/reload",
        &cookie,
        &format!("csrf={}", encode(&csrf_of(&page))),
    );
    assert_eq!(code, 200);
    assert_eq!(
        next_line(),
        "lvs-web: piranha reloaded: neither pulse nor lvs is running: nothing to reload"
    );
}

#[tokio::test]
async fn an_import_shows_its_report_and_the_file_it_makes_before_saving() {
    let tool = Tool::new(CF);
    let (cookie, csrf) = tool.login().await;
    let page = tool.send(Method::GET, "/import", Some(&cookie), &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("id=\"text\"") && page.body.contains("<option value=\"ldirectord\""),
        "{}",
        page.body
    );
    let before = tool.file();
    let serial = lvs_cf::parse(&before).expect("parses").config.serial_no;

    // A source with an error: the form again with the file's line, nothing saved.
    let bad = "virtual=192.0.2.10:80\n\treal=10.0.0.1:80 gate\n\tchecktype=sometimes\n";
    let form = [
        ("csrf", csrf.as_str()),
        ("source", "ldirectord"),
        ("primary", "192.0.2.1"),
        ("text", bad),
    ];
    let shown = tool.send(Method::POST, "/import", Some(&cookie), &form).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert!(shown.body.contains("the file:3:"), "{}", shown.body);
    assert!(shown.body.contains("unknown checker sometimes"), "{}", shown.body);
    assert_eq!(tool.file(), before);

    // A good one: the report and the lvs.cf, still nothing saved.
    let good = "checkinterval=5\nlogfile=\"local0\"\n\nvirtual=192.0.2.10:80\n\treal=10.0.0.1:80 gate 2\n\treal=10.0.0.2:80 gate\n\tservice=http\n\trequest=\"health\"\n";
    let form = [
        ("csrf", csrf.as_str()),
        ("source", "ldirectord"),
        ("primary", "192.0.2.1"),
        ("text", good),
    ];
    let shown = tool.send(Method::POST, "/import", Some(&cookie), &form).await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert!(shown.body.contains("id=\"report\""), "{}", shown.body);
    assert!(
        shown.body.contains("logfile=&quot;local0&quot;") || shown.body.contains("logfile=\"local0\""),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("<tr class=\"dropped\">"), "{}", shown.body);
    assert!(
        shown.body.contains("path = /health"),
        "the lvs.cf it makes: {}",
        shown.body
    );
    assert!(shown.body.contains("id=\"save-import\""), "{}", shown.body);
    assert_eq!(tool.file(), before, "nothing is saved before the report is seen");

    // With another version of the file (a report of an older page), nothing is saved.
    let mut save = form.to_vec();
    save.push(("save", "1"));
    let mut stale = save.clone();
    stale.push(("serial", "2-0000000000000000"));
    let refused = tool.send(Method::POST, "/import", Some(&cookie), &stale).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    assert_eq!(tool.file(), before);
    // Without the session's token, nothing at all.
    let no_token: Vec<(&str, &str)> = save.iter().copied().filter(|(k, _)| *k != "csrf").collect();
    let forbidden = tool.send(Method::POST, "/import", Some(&cookie), &no_token).await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);

    // Save from the report's form: no daemon answers, so it is saved at once,
    // with the next serial number.
    let version = shown
        .body
        .split("name=\"serial\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the report's form carries the file's version")
        .to_owned();
    save.push(("serial", version.as_str()));
    let saved = tool.send(Method::POST, "/import", Some(&cookie), &save).await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let config = lvs_cf::parse(&tool.file()).expect("parses").config;
    assert_eq!(config.serial_no, serial + 1);
    assert_eq!(config.virtual_services.len(), 1);
    assert_eq!(config.virtual_services[0].servers[0].weight, 2);
    assert_eq!(
        config.virtual_services[0].checks[0].path.as_deref(),
        Some("/health")
    );

    // keepalived's includes would read the host's files on a user's word: refused.
    let include = [
        ("csrf", csrf.as_str()),
        ("source", "keepalived"),
        ("text", "include /etc/*.conf\n"),
    ];
    let shown = tool.send(Method::POST, "/import", Some(&cookie), &include).await;
    assert!(
        shown.body.contains("includes are not read here"),
        "{}",
        shown.body
    );
}

/// Script-bearing text where lvs.cf allows it (block names, `send` and
/// `expect` strings) and in the names of a running daemon's services.
const XSS_CF: &str = "serial_no = 3\nprimary = 192.0.2.1\nservice = lvs\nnetwork = nat\n\
    virtual <script>alert(1)</script> {\n active = 1\n address = 192.0.2.100 eth0:1\n port = 80\n scheduler = wlc\n\
    send = \"x' data-xss='1><script>alert(5)</script>\"\n expect = 'x\" data-xss=\"1><img src=x onerror=alert(6)>'\n\
    server <img/src=x/onerror=alert(2)> {\n address = 10.0.0.1\n active = 1\n weight = 1\n }\n}\n";

/// What a form field is set to: it closes an attribute quoted either way
/// to add one of its own, and opens a script and an image with a handler.
const FIELD_PAYLOAD: &str =
    "x\" data-xss=\"1' data-xss='1><script>alert(3)</script><img src=x onerror=alert(4)>";

/// What a field to be saved is set to: one token (lvs.cf takes no blanks
/// in most values, nor quotes inside its quoted ones), a script and an image
/// with a handler.
const SAVED_PAYLOAD: &str = "<script>alert(8)</script><img/src=x/onerror=alert(9)>";

/// Panics when `body`, read as a browser's HTML parser reads it, holds
/// markup from a payload: a script or image element, or an attribute a
/// payload's quote opened (`data-xss`, `onerror`), whichever quote the page
/// put its attributes in.
fn assert_escaped(page: &str, body: &str) {
    let document = scraper::Html::parse_document(body);
    for selector in ["script", "img", "[data-xss]", "[onerror]"] {
        let parsed = scraper::Selector::parse(selector).expect("a selector");
        let found: Vec<String> = document.select(&parsed).map(|e| e.html()).collect();
        assert!(
            found.is_empty(),
            "{page} holds `{selector}` from a payload: {found:?}\n{body}"
        );
    }
}

/// The panel form's fields and the values a browser would send for them:
/// inputs (a checkbox only when checked, after its hidden 0), selected
/// options, text areas.
fn form_values(html: &str) -> Vec<(String, String)> {
    let document = scraper::Html::parse_document(html);
    let fields = scraper::Selector::parse("form#panel input, form#panel select, form#panel textarea")
        .expect("a selector");
    let selected = scraper::Selector::parse("option[selected]").expect("a selector");
    let mut values = Vec::new();
    for element in document.select(&fields) {
        let tag = element.value();
        let Some(name) = tag.attr("name") else { continue };
        let value = match tag.name() {
            "select" => element
                .select(&selected)
                .next()
                .map(|o| {
                    o.value()
                        .attr("value")
                        .map(str::to_owned)
                        .unwrap_or_else(|| o.text().collect())
                })
                .unwrap_or_default(),
            "textarea" => element.text().collect(),
            _ if tag.attr("type") == Some("checkbox") && tag.attr("checked").is_none() => continue,
            _ => tag.attr("value").unwrap_or_default().to_owned(),
        };
        values.push((name.to_owned(), value));
    }
    values
}

/// The panel form's text inputs: name and value.
fn text_fields(html: &str) -> Vec<(String, String)> {
    let document = scraper::Html::parse_document(html);
    let inputs = scraper::Selector::parse("form#panel input:not([type])").expect("a selector");
    document
        .select(&inputs)
        .filter_map(|e| {
            Some((
                e.value().attr("name")?.to_owned(),
                e.value().attr("value").unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

/// The names of a page's form fields (inputs, text areas, selects), but
/// the token, the version and the buttons.
fn field_names(html: &str) -> Vec<String> {
    let document = scraper::Html::parse_document(html);
    let fields = scraper::Selector::parse("input[name]:not([type=submit]), textarea[name], select[name]")
        .expect("a selector");
    let mut names: Vec<String> = Vec::new();
    for name in document.select(&fields).filter_map(|e| e.value().attr("name")) {
        if !["csrf", "serial", "confirmed"].contains(&name) && !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    names
}

/// Every name and free-text field set to a script-bearing string: in the
/// file (block names, send and expect strings, as a daemon's status shows
/// them too), and in every field of every form, sent to be saved, whether
/// the save is refused (the form comes back with the values and the
/// errors) or made (the pages show the stored values). No page carries
/// the markup unescaped.
#[tokio::test]
async fn script_bearing_names_and_values_are_escaped_on_every_page() {
    let tool = Tool::new(XSS_CF);
    let (cookie, csrf) = tool.login().await;
    let mut lvs = lvs_daemon(tool.dir.path());
    let socket = tool.dir.path().join("lvs.sock");
    wait_until(|| socket.exists(), "lvs to start").await;
    let pages = [
        "/control",
        "/global",
        "/redundancy",
        "/virtual",
        "/virtual/new",
        "/virtual/0",
        "/virtual/0/scripts",
        "/virtual/0/servers",
        "/virtual/0/servers/new",
        "/virtual/0/servers/0",
        "/virtual/0/checks",
        "/virtual/0/checks/new",
        "/virtual/0/servers/0/checks/new",
        "/import",
    ];
    let control = tool.send(Method::GET, "/control", Some(&cookie), &[]).await;
    assert!(
        control.body.contains("&lt;img/src=x/onerror=alert(2)&gt;"),
        "the daemon's status names the server: {}",
        control.body
    );
    let mut forms = 0;
    for page in pages {
        let shown = tool.send(Method::GET, page, Some(&cookie), &[]).await;
        assert_eq!(shown.status, StatusCode::OK, "{page}: {}", shown.body);
        assert_escaped(page, &shown.body);
        let names = field_names(&shown.body);
        if names.is_empty() || page == "/control" {
            continue;
        }
        forms += 1;
        let mut form: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), FIELD_PAYLOAD)).collect();
        form.push(("csrf", &csrf));
        let sent = tool.send(Method::POST, page, Some(&cookie), &form).await;
        // Refused with its errors beside the fields, the values shown again
        // (the import's form comes back with its error).
        let refused = if page == "/import" {
            StatusCode::OK
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        assert_eq!(sent.status, refused, "POST {page}: {}", sent.body);
        assert_escaped(&format!("POST {page}"), &sent.body);
        // Whatever was saved shows on every page after.
        for again in pages {
            let shown = tool.send(Method::GET, again, Some(&cookie), &[]).await;
            assert_escaped(&format!("{again} after POST {page}"), &shown.body);
        }
    }
    assert!(forms >= 10, "only {forms} forms were found");
    // Saved: each text field of the existing blocks' forms, one at a time,
    // set to the payload while the others keep the values the page shows,
    // as a browser sends them. A value the file takes goes through the
    // daemon's plan (its page repeats the form) and is saved; every page
    // then shows it.
    let mut saved = 0;
    for page in [
        "/global",
        "/redundancy",
        "/virtual/0",
        "/virtual/0/scripts",
        "/virtual/0/servers/0",
    ] {
        let shown = tool.send(Method::GET, page, Some(&cookie), &[]).await;
        for (field, _) in text_fields(&shown.body) {
            let current = tool.send(Method::GET, page, Some(&cookie), &[]).await;
            let mut form: Vec<(String, String)> = form_values(&current.body)
                .into_iter()
                .map(|(name, value)| {
                    let value = if name == field {
                        SAVED_PAYLOAD.to_owned()
                    } else {
                        value
                    };
                    (name, value)
                })
                .collect();
            form.retain(|(name, _)| name != "reload");
            let sent: Vec<(&str, &str)> = form.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let planned = tool.send_exactly(Method::POST, page, Some(&cookie), &sent).await;
            assert_escaped(&format!("POST {page} with {field}"), &planned.body);
            if !planned.body.contains("id=\"confirm-save\"") {
                continue;
            }
            let mut confirmed = sent.clone();
            confirmed.push(("confirmed", "1"));
            let done = tool
                .send_exactly(Method::POST, page, Some(&cookie), &confirmed)
                .await;
            assert_escaped(&format!("saving {page} with {field}"), &done.body);
            if done.status == StatusCode::SEE_OTHER && tool.file().contains("onerror") {
                saved += 1;
                for again in pages {
                    let shown = tool.send(Method::GET, again, Some(&cookie), &[]).await;
                    assert_escaped(&format!("{again} after saving {field} of {page}"), &shown.body);
                }
                // Back to the file without it, for the next field.
                std::fs::write(tool.config(), XSS_CF).expect("restore lvs.cf");
            }
        }
    }
    assert!(saved >= 3, "only {saved} fields took the payload and were saved");
    // The import's report quotes the source's lines.
    let form = [
        ("csrf", csrf.as_str()),
        ("source", "keepalived"),
        (
            "text",
            "virtual_server 192.0.2.10 80 {\n  x\" data-xss=\"1><script>alert(7)</script> yes\n}\n",
        ),
    ];
    let imported = tool.send(Method::POST, "/import", Some(&cookie), &form).await;
    assert_escaped("POST /import", &imported.body);
    let _ = lvs.kill();
    let _ = lvs.wait();
}
