//! The `lvs` program: --check, --dump, --strict, exit codes and messages.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::path::Path;
use std::process::{Command, Output};

use testkit::TempDir;

fn lvs(args: &[&str], config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lvs"))
        .arg("-c")
        .arg(config)
        .args(args)
        .output()
        .expect("run lvs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `lvs -n -t` (test mode: no table changes) on `config`, with its socket in
/// `dir`; its log's path.
fn test_daemon(dir: &TempDir, config: &Path) -> (std::process::Child, std::path::PathBuf) {
    let log = dir.0.join("lvs.log");
    let out = std::fs::File::create(&log).expect("log");
    let daemon = Command::new(env!("CARGO_BIN_EXE_lvs"))
        .args(["-n", "-t", "-c"])
        .arg(config)
        .arg("--socket")
        .arg(dir.0.join("lvs.sock"))
        .stdout(out.try_clone().expect("log"))
        .stderr(out)
        .spawn()
        .expect("start lvs");
    (daemon, log)
}

/// Waits (at most 10 s) until the log at `log` holds `line`.
fn wait_for(log: &Path, line: &str) {
    let started = std::time::Instant::now();
    let text = || std::fs::read_to_string(log).unwrap_or_default();
    while !text().contains(line) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "no {line:?}:\n{}",
            text()
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

const GOOD: &str = "primary = 10.0.0.1
backup = 10.0.0.2
backup_active = 1
virtual web {
     active = 1
     address = 192.0.2.1 eth0:1
     port = http
     server a {
         address = 10.1.0.1
         active = 1
     }
     server b {
         address = 10.1.0.2
     }
}
virtual old {
     address = 192.0.2.2 eth0:2
}
";

#[test]
fn check_a_good_file() {
    let dir = TempDir::new("good");
    let path = dir.file("lvs.cf", GOOD);
    let out = lvs(&["--check"], &path);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "{}: OK: service = lvs, 2 virtual services (1 active), 2 real servers (1 active), 0 warnings\n",
            path.display()
        )
    );
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn check_reports_warnings_on_stderr_and_still_succeeds() {
    let dir = TempDir::new("warn");
    let path = dir.file("lvs.cf", &GOOD.replace("backup = 10.0.0.2\n", ""));
    let out = lvs(&["--check"], &path);
    assert_eq!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "lvs: {}: line 2: warning: `backup_active = 1` without a `backup`",
            path.display()
        )),
        "{stderr}"
    );
    assert!(text(&out.stdout).ends_with("1 warning\n"));
}

#[test]
fn check_a_file_that_does_not_parse() {
    let dir = TempDir::new("bad");
    let path = dir.file("lvs.cf", "primary = 10.0.0.1\n\tkeepalive 2\n");
    let out = lvs(&["--check"], &path);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "");
    assert_eq!(
        text(&out.stderr),
        format!(
            "lvs: error parsing {} at line 2: equal (=) expected after command\n 2 | \tkeepalive 2\n   | \t          ^\n   = note: write `keepalive = value`\n",
            path.display()
        )
    );
}

#[test]
fn check_a_file_with_validation_errors() {
    let dir = TempDir::new("invalid");
    let path = dir.file("lvs.cf", &GOOD.replace("virtual old {", "virtual web {"));
    let out = lvs(&["--check"], &path);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "lvs: {}: line 16: error: duplicate virtual service name `web` (first defined on line 4)",
            path.display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.ends_with(&format!("lvs: {}: 1 error, 0 warnings\n", path.display())),
        "{stderr}"
    );
}

#[test]
fn a_missing_file() {
    let dir = TempDir::new("missing");
    let path = dir.0.join("nope.cf");
    let out = lvs(&["--check"], &path);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with(&format!("lvs: cannot read {}: ", path.display())));
}

#[test]
fn dump_writes_the_canonical_file() {
    let dir = TempDir::new("dump");
    let path = dir.file("lvs.cf", GOOD);
    let out = lvs(&["--dump"], &path);
    assert_eq!(out.status.code(), Some(0));
    let config = lvs_cf::parse(GOOD).expect("parses").config;
    assert_eq!(text(&out.stdout), lvs_cf::write(&config));
    // The dump is itself a good file, and dumps to itself.
    let again = dir.file("again.cf", &text(&out.stdout));
    assert_eq!(
        text(&lvs(&["--dump", "--format", "lvs-cf"], &again).stdout),
        text(&out.stdout)
    );
}

#[test]
fn dump_as_json() {
    let dir = TempDir::new("json");
    let path = dir.file("lvs.cf", GOOD);
    let out = lvs(&["--dump", "--format", "json"], &path);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["primary"], "10.0.0.1");
    assert_eq!(json["virtual_services"][0]["port"], 80);
    assert_eq!(json["virtual_services"][0]["servers"][1]["active"], false);
}

#[test]
fn strict_rejects_extensions_as_piranha_does() {
    let dir = TempDir::new("strict");
    let path = dir.file("lvs.cf", &format!("keepalive=2\n{GOOD}"));
    assert_eq!(lvs(&["--check"], &path).status.code(), Some(0));
    let out = lvs(&["--check", "--strict"], &path);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with(&format!(
        "lvs: error parsing {} at line 1: unknown command\n",
        path.display()
    )));
    // --dump refuses the same file and prints nothing on stdout.
    let out = lvs(&["--dump", "--strict"], &path);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).starts_with(&format!(
        "lvs: error parsing {} at line 1: unknown command\n",
        path.display()
    )));
    // A file in Piranha's own dialect dumps the same under --strict.
    let plain = dir.file("plain.cf", GOOD);
    let strict = lvs(&["--dump", "--strict"], &plain);
    assert_eq!(strict.status.code(), Some(0));
    assert_eq!(text(&strict.stdout), text(&lvs(&["--dump"], &plain).stdout));
}

#[test]
fn without_a_mode_it_is_the_daemon_which_needs_a_valid_file() {
    let dir = TempDir::new("daemon");
    let missing = dir.0.join("nope.cf");
    let out = lvs(&["-n"], &missing);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("lvs: ") && text(&out.stderr).contains("nope.cf"),
        "{}",
        text(&out.stderr)
    );
    // Modes exclude each other.
    let good = dir.file("lvs.cf", GOOD);
    assert_eq!(lvs(&["--check", "--status"], &good).status.code(), Some(2));
}

#[test]
fn status_without_a_daemon_says_where_it_looked() {
    let dir = TempDir::new("status");
    let socket = dir.0.join("lvs.sock");
    let out = Command::new(env!("CARGO_BIN_EXE_lvs"))
        .args(["--status", "--socket"])
        .arg(&socket)
        .output()
        .expect("run lvs");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains(&format!("cannot reach the lvs daemon at {}", socket.display())));
}

/// A `--format` that fits no mode is a usage error (exit 2), and nothing
/// runs: without `--dump` or `--status`, lvs would otherwise start the daemon
/// (which leaves the terminal and takes over the IPVS table).
#[test]
fn a_format_without_its_mode_is_a_usage_error() {
    let dir = TempDir::new("formats");
    let config = dir.file("lvs.cf", GOOD);
    let socket = dir.0.join("lvs.sock");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_lvs"))
            .arg("-c")
            .arg(&config)
            .arg("--socket")
            .arg(&socket)
            .args(args)
            .output()
            .expect("run lvs");
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    for (args, says) in [
        (&["--format", "json"][..], "required arguments were not provided"),
        (
            &["-n", "-t", "--format", "text"],
            "required arguments were not provided",
        ),
        (
            &["--check", "--format", "json"],
            "required arguments were not provided",
        ),
        (
            &["--status", "--format", "yaml"],
            "invalid value 'yaml' for '--format <FORMAT>'",
        ),
        (
            &["--dump", "--format", "yaml"],
            "invalid value 'yaml' for '--format <FORMAT>'",
        ),
        (
            &["--status", "--format", "lvs-cf"],
            "--format for --status, --plan and --resync is text or json",
        ),
        (
            &["--plan", "--format", "lvs-cf"],
            "--format for --status, --plan and --resync is text or json",
        ),
        (&["--plan", "--status"], "cannot be used with"),
        (
            &["--dump", "--format", "text"],
            "--format for --dump is lvs-cf or json",
        ),
    ] {
        let (code, stdout, stderr) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains(says),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("try '--help'"), "{args:?}: {stderr}");
        assert_eq!(stdout, "", "{args:?}");
    }
    assert!(!socket.exists(), "no daemon started");
    // The formats that fit still work.
    let (code, stdout, _) = run(&["--dump", "--format", "json"]);
    assert_eq!(code, Some(0));
    assert!(stdout.starts_with('{'), "{stdout}");
    let (code, _, stderr) = run(&["--status", "--format", "json"]);
    assert_eq!(code, Some(1), "no daemon to ask: {stderr}");
}

#[test]
fn help_and_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_lvs"))
        .arg("--help")
        .output()
        .expect("run lvs");
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("--configfile <FILE>"));
    let out = Command::new(env!("CARGO_BIN_EXE_lvs"))
        .arg("--version")
        .output()
        .expect("run lvs");
    // Piranha's name: the program is lvsd, also built as lvs.
    assert_eq!(text(&out.stdout), format!("lvsd {}\n", env!("CARGO_PKG_VERSION")));
}

/// A real server on loopback that accepts (its first check adds it), and an
/// lvs.cf in `dir` whose service `web` has it as server `one` (with
/// `settings`, lines of its block); the server's port and the file.
fn one_accepting_server(dir: &TempDir, settings: &str) -> (u16, std::path::PathBuf) {
    let server = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = server.local_addr().expect("address").port();
    std::thread::spawn(move || for _stream in server.incoming() {});
    let config = dir.file(
        "lvs.cf",
        &format!(
            "primary = 127.0.0.1\nservice = lvs\nnetwork = direct\n\
             virtual web {{\n active = 1\n address = 192.0.2.80 eth0:1\n port = {port}\n timeout = 1\n\
             server one {{\n  address = 127.0.0.1\n  active = 1\n{settings} }}\n}}\n"
        ),
    );
    (port, config)
}

#[test]
fn test_start_logs_the_changes_and_an_early_sighup_reloads() {
    let dir = TempDir::new("test-start");
    let (port, config) = one_accepting_server(&dir, "  weight = 2\n");
    let (mut daemon, log) = test_daemon(&dir, &config);
    let text = || std::fs::read_to_string(&log).unwrap_or_default();
    let wait = |line: &str| wait_for(&log, line);
    wait("starting: 1 virtual services, 1 real servers checked by 1 probes, 0 entries adopted");
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGHUP) };
    wait("configuration re-read");
    wait(&format!(
        "would add 127.0.0.1:{port} to TCP 192.0.2.80:{port} (weight"
    ));
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    let status = daemon.wait().expect("lvs exits");
    assert!(status.success(), "{status}:\n{}", text());
    assert!(
        text().contains(&format!("would delete virtual service TCP 192.0.2.80:{port}")),
        "{}",
        text()
    );
}

/// `lvs --drain`, `--disable`, `--enable` against a test-start daemon:
/// what each would do to the table, and the refusals.
#[test]
fn holds_change_the_table_and_bad_targets_are_refused() {
    let dir = TempDir::new("holds");
    let (port, config) = one_accepting_server(&dir, "");
    let (mut daemon, log) = test_daemon(&dir, &config);
    let socket = dir.0.join("lvs.sock");
    let hold = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_lvs"))
            .args(args)
            .arg("--socket")
            .arg(&socket)
            .output()
            .expect("run lvs")
    };
    let server = format!("127.0.0.1:{port} to TCP 192.0.2.80:{port}");
    wait_for(&log, &format!("would add {server} (weight 1"));
    let events = Command::new(env!("CARGO_BIN_EXE_lvs"))
        .args(["--events", "--socket"])
        .arg(&socket)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("lvs --events");
    // Its request reaches the daemon before the first event it should see.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let out = hold(&["--disable", "web/one"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "web/one disabled: out of the table until lvs --enable\n"
    );
    wait_for(
        &log,
        &format!("would remove 127.0.0.1:{port} from TCP 192.0.2.80:{port}"),
    );
    let out = hold(&["--enable", "web/one", "--format", "json"]);
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(answer["ok"], true);
    assert_eq!(answer["state"], "enabled");
    wait_for(&log, "web/one enabled: its checks decide again");
    let out = hold(&["--drain", "web/one", "--drain-timeout", "30"]);
    assert!(
        text(&out.stdout).contains("removed within 30 s"),
        "{}",
        text(&out.stdout)
    );
    let out = hold(&["--status"]);
    assert!(text(&out.stdout).contains("draining (3"), "{}", text(&out.stdout));
    // Refusals: a name lvs.cf lacks (exit 1), a target without its service, --wait alone (exit 2).
    let out = hold(&["--drain", "web/two"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("web/two: "), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("has no active real server of that name"));
    let out = hold(&["--disable", "one"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("SERVICE/SERVER"));
    let out = hold(&["--wait"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    assert!(daemon.wait().expect("lvs exits").success());
    let streamed = events
        .wait_with_output()
        .expect("lvs --events ends with the daemon");
    assert!(streamed.status.success());
    let kinds: Vec<String> = text(&streamed.stdout)
        .lines()
        .map(|line| {
            let event: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            format!(
                "{} {}",
                event["event"].as_str().unwrap_or(""),
                event["new_state"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "server-hold disabled",
            "server-hold enabled",
            "server-hold draining",
            "stop "
        ],
        "{}",
        text(&streamed.stdout)
    );
    let out = hold(&["--enable", "web/one"]);
    assert_eq!(out.status.code(), Some(1), "no daemon: {}", text(&out.stderr));
    let out = hold(&["--events"]);
    assert_eq!(out.status.code(), Some(1), "no daemon: {}", text(&out.stderr));
}

#[test]
fn services_balancing_to_one_server_share_its_probe() {
    let dir = TempDir::new("shared-probe");
    let server = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = server.local_addr().expect("address").port();
    std::thread::spawn(move || for _stream in server.incoming() {});
    // Two services send to one server, checked the same way; a third
    // checks it with a conversation, so on its own.
    let service = |name: &str, vip: u8, check: &str| {
        format!(
            "virtual {name} {{\n active = 1\n address = 192.0.2.{vip} eth0:1\n port = {port}\n timeout = 1\n{check}\
             server one {{\n  address = 127.0.0.1\n  active = 1\n }}\n}}\n"
        )
    };
    let config = dir.file(
        "lvs.cf",
        &format!(
            "primary = 127.0.0.1\nservice = lvs\nnetwork = direct\n{}{}{}",
            service("a", 80, ""),
            service("b", 81, ""),
            service("c", 82, " send = \"hello\"\n"),
        ),
    );
    let (mut daemon, log) = test_daemon(&dir, &config);
    let text = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for(
        &log,
        "starting: 3 virtual services, 3 real servers checked by 2 probes",
    );
    for vip in [80, 81, 82] {
        wait_for(
            &log,
            &format!("would add 127.0.0.1:{port} to TCP 192.0.2.{vip}:{port}"),
        );
    }
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    let status = daemon.wait().expect("lvs exits");
    assert!(status.success(), "{status}:\n{}", text());
}

#[test]
fn check_refuses_what_the_daemons_refuse() {
    let dir = testkit::TempDir::new("lvs-check-daemons");
    let good = "serial_no = 1\nprimary = 192.0.2.1\nservice = lvs\n\
        virtual web {\n active = 1\n address = 192.0.2.100 eth0:1\n port = 80\n\
        server a {\n address = 10.0.0.1\n active = 1\n }\n}\n";
    let path = dir.file("good.cf", good);
    assert_eq!(lvs(&["--check"], &path).status.code(), Some(0));
    let regex = dir.file(
        "regex.cf",
        &good.replace(
            "port = 80\n",
            "port = 80\n use_regex = 1\n expect = \"HTTP/1.[01\"\n",
        ),
    );
    let out = lvs(&["--check"], &regex);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error: the lvs daemon would refuse it: virtual server web: bad expect string"),
        "{stderr}"
    );
    let no_primary = dir.file("no-primary.cf", &good.replace("primary = 192.0.2.1\n", ""));
    let out = lvs(&["--check"], &no_primary);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("error: pulse would refuse it: no primary address in the configuration"));
}

/// A check block's TLS file that cannot be used is an error on the line of
/// its key, at --check and when the daemon starts or reloads, where the
/// running configuration stays.
#[test]
fn unusable_tls_files_are_errors_on_their_line() {
    let dir = TempDir::new("tls-files");
    let not_pem = dir.file("not-a-certificate.pem", "this is no certificate\n");
    // With a CA file, or without verifying.
    let text = |ca: Option<&Path>| {
        let tls = ca.map_or_else(
            || "verify = 0".to_owned(),
            |ca| format!("ca_file = {}", ca.display()),
        );
        format!(
            "primary = 127.0.0.1\nservice = lvs\nnetwork = direct\n\
             virtual web {{\n active = 1\n address = 192.0.2.80 eth0:1\n port = 443\n\
             check site {{\n  type = https\n  {tls}\n }}\n\
             server one {{\n  address = 127.0.0.1\n  active = 1\n }}\n}}\n"
        )
    };
    let bad = dir.file("bad.cf", &text(Some(&not_pem)));
    let out = lvs(&["--check"], &bad);
    assert_eq!(out.status.code(), Some(1), "{}", self::text(&out.stderr));
    let stderr = self::text(&out.stderr);
    let wanted = format!(
        "{}: line 10: error: check `site` of `web`: {}: no PEM certificate in it",
        bad.display(),
        not_pem.display()
    );
    assert!(stderr.contains(&wanted), "{stderr}");
    let missing = dir.file("missing.cf", &text(Some(&dir.0.join("nowhere.pem"))));
    let stderr = self::text(&lvs(&["--check"], &missing).stderr);
    assert!(stderr.contains("line 10: error: check `site`"), "{stderr}");
    assert!(stderr.contains("nowhere.pem"), "{stderr}");

    // A daemon (in test mode) refuses the file at start, and on reload keeps
    // what it runs.
    let start = Command::new(env!("CARGO_BIN_EXE_lvs"))
        .args(["-n", "-t", "-c"])
        .arg(&bad)
        .arg("--socket")
        .arg(dir.0.join("refused.sock"))
        .output()
        .expect("run lvs");
    assert_eq!(start.status.code(), Some(1));
    assert!(
        self::text(&start.stderr).contains("no PEM certificate in it"),
        "{}",
        self::text(&start.stderr)
    );

    let config = dir.file("lvs.cf", &text(None));
    let (mut daemon, log) = test_daemon(&dir, &config);
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();
    let wait = |line: &str| wait_for(&log, line);
    wait("starting: 1 virtual services");
    std::fs::write(&config, text(Some(&not_pem))).expect("write");
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGHUP) };
    wait("no PEM certificate in it; keeping the running configuration");
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    assert!(daemon.wait().expect("lvs exits").success(), "{}", logged());
}

/// A TLS file of a check that does not run (an inactive server's) is not a reason to refuse the file.
#[test]
fn tls_files_of_inactive_servers_are_not_read() {
    let dir = TempDir::new("tls-inactive");
    let not_pem = dir.file("not-a-certificate.pem", "no certificate\n");
    let text = format!(
        "primary = 127.0.0.1\nservice = lvs\nnetwork = direct\n\
         virtual web {{\n active = 1\n address = 192.0.2.80 eth0:1\n port = 443\n\
         server one {{\n  address = 127.0.0.1\n  active = 1\n }}\n\
         server spare {{\n  address = 127.0.0.2\n  active = 0\n  check site {{\n   type = https\n   ca_file = {}\n  }}\n }}\n}}\n",
        not_pem.display()
    );
    let out = lvs(&["--check"], &dir.file("lvs.cf", &text));
    assert_eq!(out.status.code(), Some(0), "{}", self::text(&out.stderr));
    let active = text.replace("  active = 0\n", "  active = 1\n");
    let out = lvs(&["--check"], &dir.file("active.cf", &active));
    assert_eq!(out.status.code(), Some(1), "{}", self::text(&out.stderr));
}

/// Under systemd (standard output is the journal's stream, as
/// `JOURNAL_STREAM` says), each line carries the journal's priority prefix:
/// state changes at notice (5), what it does in passing at info (6), with
/// `-v` each check's result at debug (7). Nothing goes out twice.
#[test]
fn lines_carry_their_priority_to_the_journal_and_verbose_logs_each_check() {
    use std::os::unix::fs::MetadataExt as _;
    let dir = TempDir::new("journal");
    let (port, config) = one_accepting_server(&dir, "");
    let log = dir.0.join("journal.log");
    let out = std::fs::File::create(&log).expect("log");
    let stream = out.metadata().expect("stat");
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_lvs"))
        .args(["-n", "-t", "-v", "-c"])
        .arg(&config)
        .arg("--socket")
        .arg(dir.0.join("lvs.sock"))
        .env("JOURNAL_STREAM", format!("{}:{}", stream.dev(), stream.ino()))
        .stdout(out)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start lvs");
    let text = || std::fs::read_to_string(&log).unwrap_or_default();
    let check = format!("<7>DEBUG -- check of web/one (127.0.0.1:{port}): ok\n");
    wait_for(&log, &check);
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGHUP) };
    wait_for(&log, "configuration re-read");
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    let status = daemon.wait().expect("lvs exits");
    let text = text();
    assert!(status.success(), "{status}:\n{text}");
    for line in [
        "<5>starting: 1 virtual services, 1 real servers checked by 1 probes",
        &format!("<6>would add 127.0.0.1:{port} to TCP 192.0.2.80:{port}"),
        "<6>SIGHUP received: re-reading the configuration\n",
        "<5>configuration re-read: ",
        "<5>Terminating due to signal 15\n",
    ] {
        assert!(
            text.contains(&format!("\n{line}")) || text.starts_with(line),
            "no {line:?} in:\n{text}"
        );
    }
    assert!(
        text.lines().all(|line| line.starts_with('<')),
        "every line has a priority:\n{text}"
    );
    let checks = text.matches(&check).count();
    assert!(
        checks >= 1 && text.lines().filter(|l| l.contains("check of")).count() == checks,
        "{text}"
    );
}

/// Reads notifications from `socket` until one holds `wanted`; each one
/// read on the way is kept in `seen`.
fn notified(socket: &std::os::unix::net::UnixDatagram, wanted: &str, seen: &mut Vec<String>) -> String {
    let mut buffer = [0u8; 4096];
    loop {
        let len = socket
            .recv(&mut buffer)
            .unwrap_or_else(|e| panic!("no {wanted:?} (after {seen:?}): {e}"));
        let message = String::from_utf8_lossy(&buffer[..len]).into_owned();
        seen.push(message.clone());
        if message.lines().any(|line| line == wanted) {
            return message;
        }
    }
}

#[test]
fn a_service_manager_hears_ready_reloading_stopping_and_the_watchdog_and_the_pid_file_is_locked() {
    let dir = TempDir::new("notify");
    let (_port, config) = one_accepting_server(&dir, "");
    let notify = dir.0.join("notify");
    let socket = std::os::unix::net::UnixDatagram::bind(&notify).expect("notify socket");
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    let pidfile = dir.0.join("lvs.pid");
    let start = |socket_name: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_lvsd"));
        command
            .args(["--nofork", "-t", "-c"])
            .arg(&config)
            .arg("--socket")
            .arg(dir.0.join(socket_name))
            .arg("--pidfile")
            .arg(&pidfile)
            .env("NOTIFY_SOCKET", &notify)
            .env("WATCHDOG_USEC", "300000")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command
    };
    let mut daemon = start("lvs.sock").spawn().expect("start lvsd");
    let mut seen = Vec::new();
    let ready = notified(&socket, "READY=1", &mut seen);
    assert!(
        ready.contains("STATUS=1 virtual service, 1 real server (test start: the table is not touched)"),
        "{ready:?}"
    );
    notified(&socket, "WATCHDOG=1", &mut seen);
    notified(&socket, "WATCHDOG=1", &mut seen);
    assert_eq!(
        std::fs::read_to_string(&pidfile).expect("pid file"),
        format!("{}\n", daemon.id())
    );

    // A second daemon of the same pid file refuses to start, and says why.
    let second = start("other.sock").output().expect("run a second lvsd");
    assert_eq!(second.status.code(), Some(1));
    assert_eq!(
        text(&second.stderr),
        format!(
            "lvs: already running ({} is locked by pid {})\n",
            pidfile.display(),
            daemon.id()
        )
    );
    assert_eq!(
        std::fs::read_to_string(&pidfile).expect("pid file"),
        format!("{}\n", daemon.id())
    );

    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGHUP) };
    notified(&socket, "RELOADING=1", &mut seen);
    notified(&socket, "READY=1", &mut seen);
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    notified(&socket, "STOPPING=1", &mut seen);
    let status = daemon.wait().expect("lvsd exits");
    assert!(status.success(), "{status}");
    assert!(!pidfile.exists(), "the pid file goes with the daemon");
}

/// The `would` lines a test start logged after `from`.
fn would_lines(log: &str, from: usize) -> Vec<String> {
    log[from..]
        .lines()
        .filter_map(|line| line.split_once("would ").map(|(_, op)| op.to_owned()))
        .filter(|op| !op.starts_with("set timeouts"))
        .collect()
}

#[test]
fn ipvs_settings_the_kernel_refuses_are_errors_with_their_line_and_a_reload_keeps_the_table() {
    let dir = TempDir::new("refused-settings");
    let (port, config) = one_accepting_server(&dir, "  upper_threshold = 10\n");
    let (mut daemon, log) = test_daemon(&dir, &config);
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for(
        &log,
        &format!("would add 127.0.0.1:{port} to TCP 192.0.2.80:{port}"),
    );
    let good = std::fs::read_to_string(&config).expect("lvs.cf");
    for (change, line, message) in [
        (
            ("  upper_threshold = 10\n", "  upper_threshold = 10\n  lower_threshold = 11\n"),
            13,
            "`lower_threshold = 11` of server `one` of `web` is above its `upper_threshold = 10`",
        ),
        (
            ("  address = 127.0.0.1\n", "  address = ::1\n"),
            10,
            "server `one` and the VIP of `web` are of different address families, which IPVS allows only with `network = tunnel` (the server's `network` is `direct`)",
        ),
    ] {
        let bad = good.replacen(change.0, change.1, 1);
        assert_ne!(bad, good);
        // lvs --check names the file and the line.
        let candidate = dir.file("candidate.cf", &bad);
        let out = lvs(&["--check"], &candidate);
        assert_eq!(out.status.code(), Some(1));
        let expected = format!("lvs: {}: line {line}: error: {message}", candidate.display());
        assert!(text(&out.stderr).contains(&expected), "{}", text(&out.stderr));
        // The running daemon refuses it on SIGHUP, and changes nothing.
        std::fs::write(&config, &bad).expect("write lvs.cf");
        let before = logged().len();
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(daemon.id() as i32, libc::SIGHUP) };
        wait_for(&log, &format!("line {line}: error: {message}"));
        wait_for(&log, "keeping the running configuration");
        std::thread::sleep(std::time::Duration::from_millis(300));
        let after = &logged()[before..];
        assert!(
            after.contains(&config.display().to_string()),
            "the refusal names the file:\n{after}"
        );
        assert!(would_lines(&logged(), before).is_empty(), "{after}");
    }
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    assert!(daemon.wait().expect("lvs exits").success(), "{}", logged());
}

#[test]
fn included_files_are_named_in_errors_and_a_broken_include_keeps_the_running_table() {
    let dir = TempDir::new("include");
    let (port, config) = one_accepting_server(&dir, "");
    // The server block moves to a fragment the file includes.
    let whole = std::fs::read_to_string(&config).expect("lvs.cf");
    let start = whole.find("server one {").expect("the server block");
    let end = start + whole[start..].find(" }\n").expect("its end") + 3;
    std::fs::create_dir_all(dir.0.join("lvs.d")).expect("lvs.d");
    let fragment = dir.file("lvs.d/one.cf", &whole[start..end]);
    let main = format!("{}include = lvs.d/*.cf\n{}", &whole[..start], &whole[end..]);
    std::fs::write(&config, &main).expect("write lvs.cf");
    let out = lvs(&["--check"], &config);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // An error in the fragment names it and its own line.
    std::fs::write(
        &fragment,
        whole[start..end].replace("active = 1", "active = 1\n  weight = -2"),
    )
    .expect("write");
    let out = lvs(&["--check"], &config);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with(&format!(
            "lvs: error parsing {} at line 4: value out of range",
            fragment.display()
        )),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(&fragment, &whole[start..end]).expect("write");

    let (mut daemon, log) = test_daemon(&dir, &config);
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for(
        &log,
        &format!("would add 127.0.0.1:{port} to TCP 192.0.2.80:{port}"),
    );
    // A missing include, then a loop: each refused on its line, nothing changed.
    let looped = dir.file("lvs.d/zz-loop.cf", "include = ../lvs.cf\n");
    for (broken, expected) in [
        (
            main.replace("lvs.d/*.cf", "lvs.d/none.cf"),
            format!("error parsing {} at line 9: no file", config.display()),
        ),
        (
            main.clone(),
            format!("error parsing {} at line 1: include loop", looped.display()),
        ),
    ] {
        std::fs::write(&config, &broken).expect("write lvs.cf");
        if !broken.contains("none.cf") {
            std::fs::write(&looped, "include = ../lvs.cf\n").expect("write");
        } else {
            let _ = std::fs::remove_file(&looped);
        }
        let before = logged().len();
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(daemon.id() as i32, libc::SIGHUP) };
        wait_for(&log, &expected);
        wait_for(&log, "keeping the running configuration");
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(
            would_lines(&logged(), before).is_empty(),
            "{}",
            &logged()[before..]
        );
    }
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    assert!(daemon.wait().expect("lvs exits").success(), "{}", logged());
}

#[test]
fn plan_previews_a_reload_that_then_does_just_that_and_refuses_an_invalid_file() {
    let dir = TempDir::new("plan");
    let (port, config) = one_accepting_server(&dir, "");
    let socket = dir.0.join("lvs.sock");
    let (mut daemon, log) = test_daemon(&dir, &config);
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();
    wait_for(
        &log,
        &format!("would add 127.0.0.1:{port} to TCP 192.0.2.80:{port}"),
    );
    let plan = |file: &Path, format: &str| {
        Command::new(env!("CARGO_BIN_EXE_lvs"))
            .args(["--plan", "--format", format, "--socket"])
            .arg(&socket)
            .arg("-c")
            .arg(file)
            .output()
            .expect("lvs --plan")
    };

    // Another scheduler, and a second server (nothing listens for it).
    let changed = std::fs::read_to_string(&config).expect("lvs.cf").replace(
        " timeout = 1\n",
        " timeout = 1\n scheduler = rr\n server two {\n  address = 127.0.0.2\n  active = 1\n }\n",
    );
    let new = dir.file("new.cf", &changed);
    let before = logged().len();
    let out = plan(&new, "text");
    assert!(out.status.success(), "{}", text_of(&out));
    let printed = text(&out.stdout);
    let header = format!("reload of {}: 1 of 1 virtual service changes\n", new.display());
    assert!(printed.starts_with(&header), "{printed}");
    assert!(
        printed.contains(&format!(
            "table operations (1):\n  edit virtual service TCP 192.0.2.80:{port} (rr)\n"
        )),
        "{printed}"
    );
    assert!(
        printed.contains("checks started afresh (2):\n") && printed.contains("  web/one (127.0.0.1:"),
        "{printed}"
    );
    assert!(printed.contains("risks: none"), "{printed}");
    let out = plan(&new, "json");
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let planned: Vec<String> = answer["preview"]["operations"]
        .as_array()
        .expect("operations")
        .iter()
        .map(|op| op.as_str().expect("text").to_owned())
        .collect();
    assert_eq!(planned.len(), 1, "{answer}");
    // Asking changed nothing.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(would_lines(&logged(), before).is_empty(), "{}", logged());

    // The reload then makes exactly the operations listed.
    std::fs::write(&config, &changed).expect("write lvs.cf");
    let before = logged().len();
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(daemon.id() as i32, libc::SIGHUP) };
    wait_for(&log, "configuration re-read");
    let reload = logged();
    let applied = would_lines(
        &reload[..reload.find("configuration re-read").expect("re-read")],
        before,
    );
    assert_eq!(applied, planned, "{reload}");

    // An invalid file: refused with its line; the running table stays.
    let bad = dir.file("bad.cf", "virtual web {\n  port = eighty\n");
    let before = logged().len();
    let out = plan(&bad, "text");
    assert_eq!(out.status.code(), Some(1), "{}", text_of(&out));
    let error = text(&out.stderr);
    assert!(error.contains("bad.cf") && error.contains("line 2"), "{error}");
    assert!(error.contains("a reload to it would change nothing"), "{error}");
    let missing = dir.0.join("missing.cf");
    let out = plan(&missing, "text");
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("missing.cf"), "{}", text_of(&out));
    // A test start has no table to compare: the resync says so and fails.
    let out = Command::new(env!("CARGO_BIN_EXE_lvs"))
        .args(["--resync", "--socket"])
        .arg(&socket)
        .output()
        .expect("lvs --resync");
    assert_eq!(out.status.code(), Some(1), "{}", text_of(&out));
    assert!(
        text(&out.stdout).contains("a test start reads no table"),
        "{}",
        text_of(&out)
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(would_lines(&logged(), before).is_empty(), "{}", logged());

    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    assert!(daemon.wait().expect("lvs exits").success(), "{}", logged());
}

fn text_of(out: &Output) -> String {
    format!("{}\n{}", text(&out.stdout), text(&out.stderr))
}

fn import(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lvs"))
        .arg("import")
        .args(args)
        .output()
        .expect("run lvs import")
}

#[test]
fn import_writes_lvs_cf_the_checker_accepts_and_reports_each_directive() {
    let dir = TempDir::new("lvs-import");
    let source = dir.file(
        "ldirectord.cf",
        "checktimeout=3\ncheckinterval=2\nlogfile=\"local0\"\n\nvirtual=192.0.2.10:80\n\treal=10.0.0.1:80 masq 2\n\treal=10.0.0.2:80 masq\n\tservice=http\n\trequest=\"health\"\n\treceive=\"ok\"\n",
    );
    let output = dir.0.join("lvs.cf");
    let routers = [
        "--primary",
        "192.0.2.1",
        "--backup",
        "192.0.2.2",
        "--vip-device",
        "eth1",
    ];
    let out = import(
        &[
            &routers[..],
            &[
                "--from",
                "ldirectord",
                source.to_str().unwrap(),
                "-o",
                output.to_str().unwrap(),
            ],
        ]
        .concat(),
    );
    let report = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(out.stdout.is_empty(), "with -o, nothing on standard output");
    let at = |line: usize| format!("{}:{line}: ", source.display());
    assert!(
        report.contains(&format!(
            "{}dropped: logfile=\"local0\": lvs logs to syslog",
            at(3)
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!("{}mapped: real=10.0.0.1:80 masq 2: server real1", at(6))),
        "{report}"
    );
    assert!(
        report.contains("9 directives: 7 mapped, 1 approximated, 1 dropped"),
        "{report}"
    );
    assert!(report.contains("passes lvs --check"), "{report}");
    // What it wrote is a file lvs runs: --check accepts it, --dump reads it back unchanged.
    let written = std::fs::read_to_string(&output).unwrap();
    assert!(written.contains("path = /health"), "{written}");
    assert!(
        written.contains("primary = 192.0.2.1") && written.contains("backup = 192.0.2.2"),
        "{written}"
    );
    assert!(
        written.contains("backup_active = 1") && written.contains("address = 192.0.2.10 eth1:1"),
        "{written}"
    );
    let check = lvs(&["--check"], &output);
    assert!(check.status.success(), "{}", text(&check.stderr));
    assert_eq!(text(&lvs(&["--dump"], &output).stdout), written);
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&output).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Without -o, lvs.cf goes to standard output; without --primary, pulse
    // would refuse it, and the status says it must be edited.
    let out = import(&[&routers[..], &["--from", "ldirectord", source.to_str().unwrap()]].concat());
    assert_eq!(text(&out.stdout), written);
    let out = import(&["--from", "ldirectord", source.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("imported lvs.cf: error: pulse would refuse it: no primary address"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("needs editing before it runs: 1 error"));
}

#[test]
fn import_of_a_bad_source_names_its_line_and_writes_nothing() {
    let dir = TempDir::new("lvs-import-bad");
    let source = dir.file(
        "ldirectord.cf",
        "virtual=192.0.2.10:80\n\treal=10.0.0.1:80 gate\n\tchecktype=sometimes\n",
    );
    let output = dir.0.join("lvs.cf");
    std::fs::write(&output, "the operator's file\n").unwrap();
    let out = import(&[
        "--from",
        "ldirectord",
        source.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let message = text(&out.stderr);
    assert!(
        message.starts_with(&format!("lvs import: {}:3:", source.display()))
            && message.contains("unknown checker sometimes"),
        "{message}"
    );
    assert_eq!(std::fs::read_to_string(&output).unwrap(), "the operator's file\n");

    // A result that must be edited before it runs is written, and says so with status 3.
    let fwmark = dir.file("fwmark.cf", "virtual=7\n\treal=10.0.0.1 gate\n\tprotocol=fwm\n");
    let out = import(&["--from", "ldirectord", fwmark.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("has no `address`"));
    assert!(text(&out.stdout).contains("fwmark = 7"));

    // An unknown source tool is a usage error.
    let out = import(&["--from", "haproxy", source.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn import_from_keepalived_reads_includes_and_this_routers_lines() {
    let dir = TempDir::new("lvs-import-keepalived");
    let main = dir.file(
        "keepalived.conf",
        "vrrp_instance VI_1 {\n    @lb1 state MASTER\n    @^lb1 state BACKUP\n    unicast_src_ip 192.0.2.1\n    unicast_peer {\n        192.0.2.2\n    }\n    virtual_ipaddress {\n        192.0.2.10/24 dev eth1\n    }\n}\ninclude services/*.conf\n",
    );
    dir.file(
        "services/web.conf",
        "virtual_server 192.0.2.10 80 {\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n    real_server 10.0.0.1 80 { weight 2 }\n    real_server 10.0.0.2 80 { weight 3 }\n}\n",
    );
    let output = dir.0.join("lvs.cf");
    let args = [
        "--from",
        "keepalived",
        "-i",
        "lb1",
        main.to_str().unwrap(),
        "-o",
        output.to_str().unwrap(),
    ];
    let out = import(&args);
    let report = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(
        report.contains("services/web.conf:5: mapped: real_server 10.0.0.1 80 { }"),
        "{report}"
    );
    assert!(report.contains("passes lvs --check"), "{report}");
    let written = std::fs::read_to_string(&output).unwrap();
    for line in [
        "primary = 192.0.2.1",
        "backup = 192.0.2.2",
        "address = 192.0.2.10 eth1:1",
        "vip_nmask = /24",
        "network = direct",
    ] {
        assert!(written.contains(line), "{line}:\n{written}");
    }
    assert!(lvs(&["--check"], &output).status.success());

    // A cycle: the error names the including file's line, and nothing is written.
    dir.file("services/loop.conf", "include ../keepalived.conf\n");
    std::fs::remove_file(&output).unwrap();
    let out = import(&args);
    assert_eq!(out.status.code(), Some(1));
    let message = text(&out.stderr);
    assert!(message.contains("loop.conf:1:1: include cycle"), "{message}");
    assert!(!output.exists());
}
