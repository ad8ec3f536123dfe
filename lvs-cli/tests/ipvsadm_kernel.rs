//! ipvsadm-rs against the real ipvsadm 1.31, in the kernel test lab.
//!
//! Every script of `ipvsadm_scripts.txt` runs twice, each time in a fresh
//! network namespace: once with Debian's ipvsadm and once with ipvsadm-rs,
//! both started under the name `ipvsadm`. Each command's standard output,
//! standard error and exit status must match byte for byte, and so must the
//! table, timeouts and sync daemons left at the end (read by the real
//! ipvsadm in both namespaces). Two differences are allowed and checked
//! apart: the version line (`-h`, `-v`) names ipvsadm-rs, and ipvsadm-rs may
//! add `  hint: ` lines to standard error after ipvsadm's message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

mod common;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testkit::Netns;

const OURS: &str = env!("CARGO_BIN_EXE_ipvsadm-rs");
const THEIRS: &str = "/usr/sbin/ipvsadm";
const HINT: &str = "  hint: ";

fn lab(test: &str) -> bool {
    let required = std::env::var_os("LVS_KERNEL_TESTS").is_some();
    if common::ipvs_lab(test, "ipvsadm-probe").is_none() {
        return false;
    }
    if !std::path::Path::new(THEIRS).exists() {
        assert!(!required, "{test}: {THEIRS} is missing");
        eprintln!("skipped {test}: no {THEIRS} to compare with");
        return false;
    }
    true
}

/// One step of a script.
#[derive(Clone, Debug)]
enum Step {
    Command(Vec<String>),
    /// `-R` with this standard input.
    Restore(String),
}

#[derive(Clone, Debug)]
struct Script {
    name: String,
    steps: Vec<Step>,
}

fn unescape(text: &str) -> String {
    text.replace("\\r", "\r").replace("\\t", "\t")
}

fn scripts() -> Vec<Script> {
    let text = include_str!("ipvsadm_scripts.txt");
    let mut scripts: Vec<Script> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("## ") {
            scripts.push(Script {
                name: name.to_owned(),
                steps: Vec::new(),
            });
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let script = scripts.last_mut().expect("a step before any script name");
        let step = if let Some(rest) = line.strip_prefix("<n") {
            Step::Restore(
                rest.split(" | ")
                    .map(|l| unescape(l.trim_start_matches(' ')))
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        } else if let Some(rest) = line.strip_prefix('<') {
            let rest = rest.strip_prefix(' ').unwrap_or(rest);
            if rest.is_empty() {
                Step::Restore(String::new())
            } else {
                let lines: Vec<String> = rest.split(" | ").map(unescape).collect();
                Step::Restore(lines.join("\n") + "\n")
            }
        } else if line == "(none)" {
            Step::Command(Vec::new())
        } else {
            Step::Command(
                line.split_whitespace()
                    .map(|w| if w == "''" { String::new() } else { w.to_owned() })
                    .collect(),
            )
        };
        script.steps.push(step);
    }
    scripts
}

/// What one command did.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Outcome {
    stdout: String,
    stderr: String,
    status: Option<i32>,
}

fn run<A: AsRef<std::ffi::OsStr>>(program: &str, args: &[A], input: Option<&str>) -> Outcome {
    let mut child = Command::new(program)
        .arg0("ipvsadm")
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    if let Some(input) = input {
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(input.as_bytes()).expect("write stdin");
    }
    // A stuck command must not hang the lab.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match child.try_wait().expect("wait") {
            Some(_) => break,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                break;
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    let output = child.wait_with_output().expect("output");
    Outcome {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        status: output.status.code(),
    }
}

/// Runs a script with `program` in the current namespace; returns each
/// step's outcome, then the state left behind as the real ipvsadm reads it,
/// and resets the table, timeouts and daemons.
fn play(script: &Script, program: &str) -> (Vec<Outcome>, Vec<Outcome>) {
    let words = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let outcomes = script
        .steps
        .iter()
        .map(|step| match step {
            Step::Command(args) => run(program, args, None),
            Step::Restore(input) => run(program, &["-R".to_owned()], Some(input)),
        })
        .collect();
    let state = [
        &["-S", "-n"][..],
        &["-L", "-n", "--timeout"][..],
        &["-L", "-n", "--daemon"][..],
    ]
    .iter()
    .map(|args| run(THEIRS, &words(args), None))
    .collect();
    for reset in [
        &["-C"][..],
        &["--set", "900", "120", "300"][..],
        &["--stop-daemon", "master"][..],
        &["--stop-daemon", "backup"][..],
    ] {
        run(THEIRS, &words(reset), None);
    }
    (outcomes, state)
}

/// Our outcome as ipvsadm's would read: hint lines out, and the version line
/// (the first of `-h` and `-v`) checked and set aside on both sides.
fn comparable(theirs: &Outcome, ours: &Outcome) -> (Outcome, Outcome) {
    let mut ours = ours.clone();
    ours.stderr = ours
        .stderr
        .lines()
        .filter(|l| !l.starts_with(HINT))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut theirs = theirs.clone();
    if let Some(rest) = theirs
        .stdout
        .strip_prefix("ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\n")
    {
        assert!(
            ours.stdout.starts_with("ipvsadm-rs "),
            "our version line: {:?}",
            ours.stdout.lines().next()
        );
        theirs.stdout = rest.to_owned();
        ours.stdout = ours
            .stdout
            .split_once('\n')
            .map(|(_, rest)| rest.to_owned())
            .unwrap_or_default();
    }
    (theirs, ours)
}

/// Plays a script with both programs, one after the other in one fresh
/// namespace: the kernel orders its service table by a hash that includes
/// the namespace, and `--nosort` shows that order.
fn check(script: &Script) -> Result<usize, String> {
    let ns = Netns::new("ipvsadm-diff");
    // Sync daemons default to eth0.
    ns.ip(&["link", "add", "eth0", "type", "veth", "peer", "name", "eth1"]);
    ns.ip(&["link", "set", "eth0", "up"]);
    ns.ip(&["link", "set", "eth1", "up"]);
    let ((their_steps, their_state), (our_steps, our_state)) =
        ns.run(|| (play(script, THEIRS), play(script, OURS)));
    let mut report = String::new();
    for (i, ((theirs, ours), step)) in their_steps.iter().zip(&our_steps).zip(&script.steps).enumerate() {
        let (theirs, ours) = comparable(theirs, ours);
        if theirs != ours {
            report.push_str(&format!(
                "  step {} {step:?}\n    ipvsadm:    {theirs:?}\n    ipvsadm-rs: {ours:?}\n",
                i + 1
            ));
        }
    }
    for (theirs, ours) in their_state.iter().zip(&our_state) {
        if theirs != ours {
            report.push_str(&format!(
                "  final state\n    ipvsadm:    {theirs:?}\n    ipvsadm-rs: {ours:?}\n"
            ));
        }
    }
    if report.is_empty() {
        Ok(script.steps.len())
    } else {
        Err(format!("script `{}`:\n{report}", script.name))
    }
}

#[test]
fn every_script_matches_the_real_ipvsadm() {
    if !lab("every_script_matches_the_real_ipvsadm") {
        return;
    }
    let scripts = scripts();
    // Two at a time: each script has namespaces of its own.
    let (even, odd): (Vec<_>, Vec<_>) = scripts.iter().enumerate().partition(|(i, _)| i % 2 == 0);
    let results: Vec<Result<usize, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = [even, odd]
            .into_iter()
            .map(|half| scope.spawn(move || half.into_iter().map(|(_, s)| check(s)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let failures: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    let commands: usize = results.iter().filter_map(|r| r.as_ref().ok()).sum();
    println!(
        "{} scripts, {commands} commands matched; {} scripts differ",
        scripts.len() - failures.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{}",
        failures.iter().map(|f| f.as_str()).collect::<Vec<_>>().join("\n")
    );
    assert!(scripts.len() >= 80, "only {} scripts", scripts.len());
}

/// Runs each command line with ipvsadm-rs in `ns`.
fn ours_in(ns: &Netns, lines: &[&[&str]]) -> Vec<Outcome> {
    ns.run(|| {
        lines
            .iter()
            .map(|args| {
                run(
                    OURS,
                    &args.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                    None,
                )
            })
            .collect()
    })
}

/// The hints ipvsadm-rs adds: on standard error, after ipvsadm's own line.
#[test]
fn cryptic_kernel_errors_get_a_hint_after_ipvsadms_line() {
    if !lab("cryptic_kernel_errors_get_a_hint_after_ipvsadms_line") {
        return;
    }
    let steps = ours_in(
        &Netns::new("ipvsadm-hint"),
        &[
            &["-A", "-t", "192.0.2.1:80", "-s", "nosuch"],
            &["-A", "-t", "192.0.2.1:80"],
            &["-a", "-t", "192.0.2.1:80", "-r", "255.255.255.255", "-m"],
            &["-a", "-t", "192.0.2.9:80", "-r", "10.0.0.1", "-m"],
        ],
    );
    assert_eq!(
        steps[0].stderr,
        "Scheduler or persistence engine not found\n  hint: the kernel has no scheduler `nosuch`: is the module ip_vs_nosuch installed?\n"
    );
    assert_eq!(steps[0].status, Some(255));
    assert!(
        steps[2].stderr.starts_with(
            "Invalid operation.  Possibly wrong module version, address not unicast, ...\n  hint: "
        ),
        "{:?}",
        steps[2]
    );
    assert!(
        steps[3]
            .stderr
            .starts_with("Service not defined\n  hint: there is no virtual service"),
        "{:?}",
        steps[3]
    );
}

/// Arguments that are not UTF-8 are refused as ipvsadm refuses them (the
/// standard library's `args` would have panicked with status 101).
#[test]
fn arguments_that_are_not_utf8_are_refused_as_ipvsadm_refuses_them() {
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt as _;
    if !lab("arguments_that_are_not_utf8_are_refused_as_ipvsadm_refuses_them") {
        return;
    }
    let ns = Netns::new("ipvsadm-bytes");
    for args in [
        vec![
            OsString::from("-A"),
            OsString::from("-t"),
            OsString::from_vec(b"192.0.2.\xff:80".to_vec()),
        ],
        vec![OsString::from_vec(b"-\xfe".to_vec())],
        vec![
            OsString::from("-A"),
            OsString::from("-t"),
            OsString::from("192.0.2.1:80"),
            OsString::from("-s"),
            OsString::from_vec(b"r\xffr".to_vec()),
        ],
    ] {
        let (theirs, ours) = ns.run(|| (run(THEIRS, &args, None), run(OURS, &args, None)));
        let (theirs, ours) = comparable(&theirs, &ours);
        assert_ne!(ours.status, Some(101), "{args:?}: {ours:?}");
        assert_eq!(
            ours.status, theirs.status,
            "{args:?}: ours {ours:?}, theirs {theirs:?}"
        );
        assert_eq!(ours.stdout, theirs.stdout, "{args:?}");
        assert_eq!(
            ours.stderr.replace('\u{fffd}', "?"),
            theirs.stderr.replace('\u{fffd}', "?"),
            "{args:?}"
        );
        ns.run(|| run(THEIRS, &["-C"], None));
    }
}

/// `-L --json`: the table for programs.
#[test]
fn json_listing() {
    if !lab("json_listing") {
        return;
    }
    let outcomes = ours_in(
        &Netns::new("ipvsadm-json"),
        &[
            &["-A", "-t", "192.0.2.1:80", "-s", "rr", "-p", "60"],
            &["-a", "-t", "192.0.2.1:80", "-r", "10.0.0.1:8080", "-m", "-w", "3"],
            &["-A", "-f", "7", "-6"],
            &["-L", "--json"],
            &["-L", "-t", "192.0.2.1:80", "--json"],
            &["-A", "-t", "192.0.2.2:80", "--json"],
        ],
    );
    let all: serde_json::Value = serde_json::from_str(&outcomes[3].stdout).expect("JSON");
    assert_eq!(all["version"], "1.2.1");
    let services = all["services"].as_array().expect("services");
    assert_eq!(services.len(), 2);
    let web = services.iter().find(|s| s["port"] == 80).expect("web service");
    assert_eq!(web["scheduler"], "rr");
    assert_eq!(web["flags"], serde_json::json!(["persistent"]));
    assert_eq!(web["timeout"], 60);
    assert_eq!(web["destinations"][0]["address"], "10.0.0.1");
    assert_eq!(web["destinations"][0]["port"], 8080);
    assert_eq!(web["destinations"][0]["forward"], "masquerade");
    assert_eq!(web["destinations"][0]["weight"], 3);
    assert_eq!(web["stats"]["conns"], 0);
    let mark = services
        .iter()
        .find(|s| s["fwmark"] == 7)
        .expect("fwmark service");
    assert_eq!(mark["family"], "inet6");
    let one: serde_json::Value = serde_json::from_str(&outcomes[4].stdout).expect("JSON");
    assert_eq!(one["services"].as_array().map(Vec::len), Some(1));
    assert_eq!(outcomes[5].status, Some(2));
    assert_eq!(
        outcomes[5].stderr,
        "Illegal 'json' option with the 'add-service' command\n"
    );
}

/// `-L -c` with real connection entries: an established TCP connection, a
/// UDP flow and a persistence template, made by a client in the namespace
/// itself. Entries count down in seconds and two runs (a name-resolving one
/// is slow) can fall in different seconds, so the expire column is compared
/// for its `MM:SS` form, not its value; everything else byte for byte.
#[test]
fn connection_listings_match_ipvsadm() {
    if !lab("connection_listings_match_ipvsadm") {
        return;
    }
    let ns = Netns::new("ipvsadm-conn");
    ns.ip(&["link", "add", "dummy0", "type", "dummy"]);
    ns.ip(&["link", "set", "dummy0", "up"]);
    ns.ip(&["addr", "add", "192.0.2.100/32", "dev", "dummy0"]);
    ns.ip(&["addr", "add", "10.0.0.1/32", "dev", "dummy0"]);
    let words = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let mismatches: Vec<String> = ns.run(|| {
        for setup in [
            &["-A", "-t", "192.0.2.100:80", "-s", "rr"][..],
            &["-a", "-t", "192.0.2.100:80", "-r", "10.0.0.1:8080", "-m"][..],
            &["-A", "-u", "192.0.2.100:53", "-s", "rr", "-p", "30"][..],
            &["-a", "-u", "192.0.2.100:53", "-r", "10.0.0.1:5353", "-m"][..],
        ] {
            assert_eq!(run(THEIRS, &words(setup), None).status, Some(0), "{setup:?}");
        }
        // A real server behind the VIP, so the TCP entry stays ESTABLISHED.
        let listener = std::net::TcpListener::bind("10.0.0.1:8080").expect("real server");
        let vip = std::net::SocketAddr::from(([192, 0, 2, 100], 80));
        let _client =
            std::net::TcpStream::connect_timeout(&vip, Duration::from_secs(5)).expect("connect through IPVS");
        let _server_side = listener.accept().expect("accept");
        let udp = std::net::UdpSocket::bind("0.0.0.0:0").expect("udp socket");
        udp.send_to(b"query", ("192.0.2.100", 53)).expect("udp send");
        let listed = run(OURS, &words(&["-L", "-n", "-c"]), None);
        assert!(
            listed.stdout.lines().count() >= 4,
            "no connection entries: {listed:?}"
        );
        assert!(listed.stdout.contains("ESTABLISHED"), "{listed:?}");
        let mut mismatches = Vec::new();
        for args in [
            &["-L", "-n", "-c"][..],
            &["-L", "-n", "-c", "--persistent-conn"][..],
            &["-L", "-c"][..],
        ] {
            let theirs = without_expiry(run(THEIRS, &words(args), None));
            let ours = without_expiry(run(OURS, &words(args), None));
            if theirs != ours {
                mismatches.push(format!(
                    "{args:?}\n  ipvsadm:    {theirs:?}\n  ipvsadm-rs: {ours:?}"
                ));
            }
        }
        mismatches
    });
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// A connection listing with each row's expire time (`MM:SS`) checked for
/// its form and replaced by `mm:ss`.
fn without_expiry(mut outcome: Outcome) -> Outcome {
    outcome.stdout = outcome
        .stdout
        .lines()
        .enumerate()
        .map(|(i, line)| {
            let expire = line.split_whitespace().nth(1).unwrap_or("");
            let form = expire.len() == 5
                && expire.as_bytes()[2] == b':'
                && expire
                    .bytes()
                    .enumerate()
                    .all(|(j, b)| j == 2 || b.is_ascii_digit());
            if i >= 2 && form {
                format!("{}\n", line.replacen(expire, "mm:ss", 1))
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    outcome
}
