//! lvs-web in a real browser: headless Chromium from Debian's packages,
//! driven over WebDriver (chromedriver). It logs in, adds a virtual server
//! with two real servers, saves, and checks lvs.cf on disk and the
//! monitoring page (with a real lvs daemon, in `-t` mode, behind it). It
//! leaves screenshots of the main panels in `target/web-screenshots` (or in
//! `$LVS_WEB_SCREENSHOTS`; docs/images holds the committed ones).
//!
//! A second test, `lab_...`, runs in the kernel lab (`cargo xtask test`
//! runs it there): a real director in front of the farm's web servers, real
//! requests and a real server failing, and the monitoring page's charts,
//! timeline and topology read back from the browser's DOM.
//!
//! Needs `chromium` and `chromium-driver`: `cargo xtask test` installs them.
//! In CI it must run; elsewhere it skips, saying why, when they are missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use testkit::farm::{Farm, Mode};
use testkit::TempDir;

mod common;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

const CF: &str = "serial_no = 1\nprimary = 127.0.0.1\nservice = lvs\nnetwork = nat\n\
    virtual web {\n active = 1\n address = 192.0.2.100 eth0:1\n port = 80\n\
    server www1 {\n address = 127.0.0.1\n active = 1\n weight = 1\n }\n}\n";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A child process killed (with its process group) when the test ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        // SAFETY: kill(2) of the child's own process group (chromedriver's
        // browsers die with it).
        unsafe { libc::kill(-(self.0.id() as i32), libc::SIGTERM) };
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(command: &mut Command) -> Killed {
    use std::os::unix::process::CommandExt as _;
    Killed(command.process_group(0).spawn().expect("spawn"))
}

async fn wait_for_port(port: u16, what: &str) {
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{what} did not listen on {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn screenshot_dir() -> PathBuf {
    std::env::var_os("LVS_WEB_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/web-screenshots"))
}

async fn shot(client: &Client, name: &str) {
    let dir = screenshot_dir();
    let _ = std::fs::create_dir_all(&dir);
    let png = client.screenshot().await.expect("screenshot");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
}

async fn fill(client: &Client, id: &str, text: &str) {
    let field = client
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id}: {e}"));
    field.clear().await.expect("clear");
    field.send_keys(text).await.expect("type");
}

async fn click(client: &Client, id: &str) {
    client
        .find(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("no #{id}: {e}"))
        .click()
        .await
        .expect("click");
}

/// Clicks `id` and waits for the next page's `until`.
async fn follow(client: &Client, id: &str, until: &str) -> Result<(), String> {
    click(client, id).await;
    match client.wait().for_element(Locator::Id(until)).await {
        Ok(_) => Ok(()),
        Err(e) => {
            let url = client
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            Err(format!(
                "after #{id}, no #{until}: {e}\nat {url}:\n{}",
                body_text(client).await
            ))
        }
    }
}

/// Saves the form on the page: the running lvs daemon's plan for the new
/// file comes first (the tool shows it before it saves), then its Save
/// button, then the next page's `until`.
async fn save(client: &Client, until: &str) -> Result<(), String> {
    follow(client, "accept", "confirm-save").await?;
    let plan = client
        .find(Locator::Id("plan"))
        .await
        .map_err(|e| format!("no plan before saving: {e}"))?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    if !plan.contains("reload of ") {
        return Err(format!("not the daemon's plan: {plan}"));
    }
    shot(client, "plan").await;
    follow(client, "confirm-save", until).await
}

/// Selects `option` in the drop-down `id`.
async fn choose(client: &Client, id: &str, option: &str) -> Result<(), String> {
    client
        .find(Locator::XPath(&format!(
            "//select[@id='{id}']/option[text()='{option}']"
        )))
        .await
        .map_err(|e| format!("no option {option} in #{id}: {e}"))?
        .click()
        .await
        .map_err(|e| e.to_string())
}

async fn body_text(client: &Client) -> String {
    client
        .find(Locator::Css("body"))
        .await
        .expect("body")
        .text()
        .await
        .expect("text")
}

/// Whether the browser is here; outside CI a missing one skips the test
/// with a reason, in CI it fails it.
fn browser_installed() -> bool {
    if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser test: install chromium and chromium-driver"
        );
        eprintln!(
            "skipped: {CHROMEDRIVER} or {CHROMIUM} is missing (apt-get install chromium chromium-driver)"
        );
        return false;
    }
    true
}

/// lvs-web on `config` and the lvs daemon's `socket`, and a headless
/// Chromium to drive it, with piranha's password `correct horse`.
struct Browser {
    client: Client,
    web_port: u16,
    _web: Killed,
    _driver: Killed,
}

impl Browser {
    async fn start(dir: &TempDir, config: &Path, socket: &Path) -> Browser {
        let passwords = dir.path().join("lvs-web.passwd");
        let set = Command::new(env!("CARGO_BIN_EXE_lvs-web"))
            .args(["--password-file"])
            .arg(&passwords)
            .arg("passwd")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write as _;
                child
                    .stdin
                    .take()
                    .map(|mut s| s.write_all(b"correct horse\n"))
                    .transpose()?;
                child.wait()
            })
            .expect("lvs-web passwd");
        assert!(set.success());
        let web_port = free_port();
        let web = spawn(
            Command::new(env!("CARGO_BIN_EXE_lvs-web"))
                .arg("-c")
                .arg(config)
                .arg("--password-file")
                .arg(&passwords)
                .arg("--lvs-socket")
                .arg(socket)
                .arg("--pulse-pidfile")
                .arg(dir.path().join("pulse.pid"))
                .arg("--lvs-pidfile")
                .arg(dir.path().join("lvs.pid"))
                .args(["--listen", &format!("127.0.0.1:{web_port}")])
                .stdout(Stdio::null()),
        );
        let driver_port = free_port();
        let driver = spawn(
            Command::new(CHROMEDRIVER)
                .arg(format!("--port={driver_port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        wait_for_port(web_port, "lvs-web").await;
        wait_for_port(driver_port, "chromedriver").await;
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            serde_json::json!({
                "binary": CHROMIUM,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{driver_port}"))
            .await
            .expect("a browser session");
        Browser {
            client,
            web_port,
            _web: web,
            _driver: driver,
        }
    }

    /// Closes the browser, then fails with `outcome`'s error, if any.
    async fn end(self, outcome: Result<(), String>) {
        let _ = self.client.close().await;
        if let Err(e) = outcome {
            panic!("{e}");
        }
    }
}

/// Logs in as piranha from the login page at `base`, landing on `until`.
async fn log_in(client: &Client, base: &str, until: &str) -> Result<(), String> {
    client
        .goto(&format!("{base}/login"))
        .await
        .map_err(|e| e.to_string())?;
    fill(client, "user", "piranha").await;
    fill(client, "password", "correct horse").await;
    follow(client, "login", until).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_in_add_a_virtual_server_with_two_real_servers_and_monitor() {
    if !browser_installed() {
        return;
    }
    let dir = TempDir::new("web-browser");
    let config = dir.file("lvs.cf", CF);
    // A real lvs daemon (no kernel needed with -t) answers the status socket.
    let socket = dir.path().join("lvs.sock");
    let _lvs = spawn(
        Command::new(env!("CARGO_BIN_EXE_lvs"))
            .args(["-n", "-t", "-c"])
            .arg(&config)
            .arg("--socket")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let browser = Browser::start(&dir, &config, &socket).await;
    let outcome = drive(&browser.client, browser.web_port, &config).await;
    browser.end(outcome).await;
}

/// In the lab, with the kernel's IPVS: a director in front of the farm's
/// three web servers, real requests through the VIP for a while, rs2
/// failing and staying down; then the monitoring page in the browser draws
/// the service's connections as a line of several points, rs2's timeline
/// with a down piece and the change with its reason, and the topology with
/// rs2 down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_the_monitoring_page_draws_real_traffic_and_a_failure() {
    let test = "lab_the_monitoring_page_draws_real_traffic_and_a_failure";
    if common::ipvs_lab(test, "web-lab").is_none() || !browser_installed() {
        return;
    }
    let farm = Farm::new(Mode::Nat, 1);
    farm.bring_up(0);
    let dir = TempDir::new("web-lab");
    let config = dir.file("lvs.cf", &farm.lvs_cf("rr", &[0, 1, 2], 1, ""));
    let socket = dir.path().join("lvs.sock");
    let _lvs = spawn(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &farm.directors[0].name,
                env!("CARGO_BIN_EXE_lvs"),
                "-n",
                "-c",
            ])
            .arg(&config)
            .arg("--socket")
            .arg(&socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let up = |wanted: usize| {
        lvs_daemon::status::fetch(&socket).is_ok_and(|status| {
            status.services.first().is_some_and(|service| {
                service
                    .servers
                    .iter()
                    .filter(|s| s.health == lvs_core::status::ServerHealth::Up)
                    .count()
                    == wanted
            })
        })
    };
    let started = Instant::now();
    while !up(3) {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the three servers did not come up"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Requests for 12 s (two or three of the history's samples), then rs2
    // fails while they go on for 12 s more.
    // (Requests to rs2 fail until it leaves the table.)
    let traffic = |seconds: u64, all_answered: bool| {
        let until = Instant::now() + Duration::from_secs(seconds);
        while Instant::now() < until {
            let answers = farm.gets(3);
            assert!(
                !all_answered || answers.iter().all(Option::is_some),
                "{answers:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    traffic(12, true);
    farm.servers[1].set_up(false);
    traffic(12, false);
    assert!(up(2), "rs2 is not down");

    let browser = Browser::start(&dir, &config, &socket).await;
    let outcome = async {
        let client = &browser.client;
        let base = format!("http://127.0.0.1:{}", browser.web_port);
        log_in(client, &base, "tab-control").await?;
        client
            .goto(&format!("{base}/control"))
            .await
            .map_err(|e| e.to_string())?;
        client
            .wait()
            .for_element(Locator::Id("topology"))
            .await
            .map_err(|e| e.to_string())?;
        let line = client
            .find(Locator::Css("#connections-0 polyline.series"))
            .await
            .map_err(|e| format!("no line of connections: {e}"))?
            .attr("points")
            .await
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        if line.split(' ').count() < 3 {
            return Err(format!("the connections' line has too few points: {line:?}"));
        }
        client
            .find(Locator::Css("#timeline-0-1 rect.state.down"))
            .await
            .map_err(|e| format!("rs2's timeline has no down piece: {e}"))?;
        let changes = client
            .find(Locator::Css("#timeline-0-1 ul.changes"))
            .await
            .map_err(|e| format!("rs2's timeline lists no change: {e}"))?
            .text()
            .await
            .map_err(|e| e.to_string())?;
        if !changes.contains("up → down") || !changes.contains("connection failure") {
            return Err(format!("rs2's fall and its reason are not listed: {changes}"));
        }
        client
            .find(Locator::Css("#topology g.server.down"))
            .await
            .map_err(|e| format!("the topology does not show rs2 down: {e}"))?;
        shot(client, "control-monitoring-traffic").await;
        // The last hour's pictures, below the fold: the element alone.
        let pictures = client
            .find(Locator::Id("history-0"))
            .await
            .map_err(|e| e.to_string())?
            .screenshot()
            .await
            .map_err(|e| e.to_string())?;
        let dir = screenshot_dir();
        std::fs::write(dir.join("control-monitoring-history.png"), pictures).map_err(|e| e.to_string())?;
        Ok(())
    }
    .await;
    browser.end(outcome).await;
}

async fn drive(client: &Client, port: u16, config: &Path) -> Result<(), String> {
    let base = format!("http://127.0.0.1:{port}");
    client
        .goto(&format!("{base}/virtual"))
        .await
        .map_err(|e| e.to_string())?;
    // Not logged in: the login page.
    let url = client.current_url().await.map_err(|e| e.to_string())?;
    if !url.as_str().ends_with("/login") {
        return Err(format!("expected the login page, got {url}"));
    }
    shot(client, "login").await;
    fill(client, "user", "piranha").await;
    fill(client, "password", "correct horse").await;
    follow(client, "login", "tab-virtual").await?;

    // Add a virtual server.
    follow(client, "tab-virtual", "add-virtual").await?;
    follow(client, "add-virtual", "panel").await?;
    fill(client, "name", "shop").await;
    click(client, "active").await;
    fill(client, "address", "192.0.2.120").await;
    fill(client, "address__device", "eth0:2").await;
    fill(client, "port", "443").await;
    client
        .find(Locator::Css("#scheduler option[value=''], #scheduler option"))
        .await
        .map_err(|e| e.to_string())?;
    client
        .find(Locator::XPath("//select[@id='scheduler']/option[text()='wrr']"))
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    fill(client, "persistent", "300").await;
    shot(client, "virtual-server").await;
    save(client, "add-server").await?;

    // Two real servers.
    for (name, address, weight) in [("shop1", "10.0.2.1", "3"), ("shop2", "10.0.2.2", "1")] {
        follow(client, "add-server", "panel").await?;
        fill(client, "name", name).await;
        fill(client, "address", address).await;
        fill(client, "weight", weight).await;
        if name == "shop2" {
            shot(client, "real-server").await;
        }
        save(client, "add-server").await?;
    }
    shot(client, "real-servers").await;
    let listed = body_text(client).await;
    if !(listed.contains("10.0.2.1") && listed.contains("10.0.2.2")) {
        return Err(format!("the real server list lacks the new servers:\n{listed}"));
    }

    // Checks: an HTTPS check for the whole service, a DNS check of its own
    // for shop2, and one that cannot work, refused with its reason.
    follow(client, "checks", "check-list").await?;
    follow(client, "add-check", "panel").await?;
    fill(client, "name", "page").await;
    choose(client, "type", "https").await?;
    fill(client, "path", "/healthz").await;
    fill(client, "host", "shop.example").await;
    fill(client, "status", "[ 200 204 ]").await;
    fill(client, "timeout", "2.5").await;
    click(client, "verify").await;
    choose(client, "tls_min", "1.3").await?;
    shot(client, "check").await;
    save(client, "check-vs-0").await?;
    follow(client, "add-check-1", "panel").await?;
    fill(client, "name", "resolver").await;
    choose(client, "type", "dns").await?;
    fill(client, "query", "shop.example").await;
    choose(client, "record", "AAAA").await?;
    choose(client, "transport", "tcp").await?;
    choose(client, "rcode", "NXDOMAIN").await?;
    save(client, "check-1-0").await?;
    shot(client, "checks").await;
    follow(client, "add-check-0", "panel").await?;
    fill(client, "name", "broken").await;
    choose(client, "type", "dns").await?;
    follow(client, "accept", "problems").await?;
    let refused = body_text(client).await;
    if !refused.contains("needs `query`") {
        return Err(format!(
            "a DNS check without a query was not refused with its reason:\n{refused}"
        ));
    }

    // The file on disk.
    let text = std::fs::read_to_string(config).map_err(|e| e.to_string())?;
    let parsed = lvs_cf::parse(&text).map_err(|e| format!("{e}\n{text}"))?;
    let shop = parsed
        .config
        .virtual_services
        .iter()
        .find(|vs| vs.name == "shop")
        .ok_or_else(|| format!("no virtual server shop in:\n{text}"))?;
    let servers: Vec<(String, u32)> = shop
        .servers
        .iter()
        .map(|s| {
            (
                s.address.as_ref().map(|a| a.to_string()).unwrap_or_default(),
                s.weight,
            )
        })
        .collect();
    let expected = vec![("10.0.2.1".to_owned(), 3), ("10.0.2.2".to_owned(), 1)];
    if !(shop.active && shop.port == 443 && shop.persistent == 300 && servers == expected) {
        return Err(format!("lvs.cf is not what the browser entered:\n{text}"));
    }
    let page = shop
        .checks
        .first()
        .ok_or_else(|| format!("no service check in:\n{text}"))?;
    let page_ok = shop.checks.len() == 1
        && page.name == "page"
        && page.kind == lvs_cf::CheckType::Https
        && page.path.as_deref() == Some("/healthz")
        && page.host.as_deref() == Some("shop.example")
        && page.status.len() == 2
        && !page.verify
        && page.tls_min == lvs_cf::TlsVersion::Tls13
        && page.timeout.map(|t| t.as_duration()) == Some(Duration::from_millis(2500));
    let resolver = shop.servers[1].checks.first();
    let resolver_ok = shop.servers[0].checks.is_empty()
        && resolver.is_some_and(|c| {
            c.kind == lvs_cf::CheckType::Dns
                && c.query.as_deref() == Some("shop.example")
                && c.record == lvs_cf::RecordType::Aaaa
                && c.transport == lvs_cf::DnsTransport::Tcp
                && c.rcode == lvs_cf::Rcode::NxDomain
        });
    if !(page_ok && resolver_ok) {
        return Err(format!(
            "the check blocks are not what the browser entered:\n{text}"
        ));
    }
    if !parsed.diagnostics().is_empty() {
        return Err(format!(
            "the saved file has findings: {:?}\n{text}",
            parsed.diagnostics()
        ));
    }
    if parsed.config.serial_no != 6 {
        return Err(format!("five saves should make serial_no 6:\n{text}"));
    }

    // The other panels, for the screenshots, and the monitoring page.
    follow(client, "tab-global", "panel").await?;
    shot(client, "global-settings").await;
    follow(client, "tab-redundancy", "panel").await?;
    shot(client, "redundancy").await;
    client
        .goto(&format!("{base}/virtual/1/scripts"))
        .await
        .map_err(|e| e.to_string())?;
    client
        .wait()
        .for_element(Locator::Id("panel"))
        .await
        .map_err(|e| e.to_string())?;
    shot(client, "monitoring-scripts").await;
    follow(client, "tab-virtual", "virtual-servers").await?;
    shot(client, "virtual-servers").await;
    follow(client, "tab-control", "ipvs-table").await?;
    let monitor = body_text(client).await;
    if !(monitor.contains("www1") && monitor.contains("running")) {
        return Err(format!(
            "the monitoring page lacks the daemon's table:\n{monitor}"
        ));
    }
    shot(client, "control-monitoring").await;
    // The daemon runs the file it started with; after a reload from the
    // panel it runs the new one, and the page shows the new service.
    follow(client, "reload", "note").await?;
    let started = Instant::now();
    loop {
        client
            .goto(&format!("{base}/control"))
            .await
            .map_err(|e| e.to_string())?;
        let text = body_text(client).await;
        if text.contains("shop1") && text.contains("10.0.2.2") {
            break;
        }
        if started.elapsed() > Duration::from_secs(20) {
            return Err(format!(
                "after the reload the monitoring page lacks the new servers:\n{text}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    shot(client, "control-monitoring").await;

    // Moving in: keepalived's file pasted into the import page shows its
    // report and the lvs.cf it makes; saving goes through the daemon's plan.
    follow(client, "tab-import", "text").await?;
    choose(client, "source", "keepalived").await?;
    fill(client, "primary", "10.0.0.1").await;
    fill(
        client,
        "text",
        "virtual_server 10.0.9.100 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  real_server 10.0.9.1 80 {\n    weight 2\n    TCP_CHECK {\n      connect_timeout 2\n    }\n  }\n}\n",
    )
    .await;
    follow(client, "import", "report").await?;
    let report = body_text(client).await;
    if !(report.contains("virtual_server 10.0.9.100 80") && report.contains("server rs_10_0_9_1_80")) {
        return Err(format!("the import's report lacks the virtual server:\n{report}"));
    }
    shot(client, "import-report").await;
    follow(client, "save-import", "confirm-save").await?;
    follow(client, "confirm-save", "virtual-servers").await?;
    let list = body_text(client).await;
    if !list.contains("vs_10_0_9_100_80") {
        return Err(format!("the imported service is not listed:\n{list}"));
    }
    Ok(())
}
