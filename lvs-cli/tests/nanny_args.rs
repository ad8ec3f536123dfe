//! nanny's command line: Piranha's options and the refusals that come
//! before any check or table change (no root or IPVS needed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::process::{Command, Output};

const NANNY: &str = env!("CARGO_BIN_EXE_nanny");

fn nanny(args: &[&str]) -> Output {
    Command::new(NANNY).args(args).output().expect("run nanny")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_service_type_is_required_and_fos_is_refused() {
    let out = nanny(&["-h", "10.0.0.1", "-V", "192.0.2.1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "nanny: unknown service type\n");
    let out = nanny(&["--fos", "-h", "10.0.0.1", "-V", "192.0.2.1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "nanny: --fos (failover services) is not supported by lvs-rs\n"
    );
}

#[test]
fn addresses_are_required_and_checked() {
    let out = nanny(&["--lvs", "-V", "192.0.2.1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "nanny: No address supplied for the server to monitor (-h)\n"
    );
    let out = nanny(&["--lvs", "-h", "10.0.0.999", "-V", "192.0.2.1"]);
    assert_eq!(stderr(&out), "nanny: bad IP address -- 10.0.0.999\n");
    let out = nanny(&["--lvs", "-h", "10.0.0.1"]);
    assert_eq!(stderr(&out), "nanny: No virtual address supplied (-V or -f)\n");
    let out = nanny(&["--lvs", "-h", "10.0.0.1", "-V", "192.0.2.999"]);
    assert_eq!(stderr(&out), "nanny: bad virtual address -- 192.0.2.999\n");
    let out = nanny(&["--lvs", "-h", "10.0.0.1", "-V", "192.0.2.1", "-t", "0"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "nanny: the interval (-t) must be at least 1 second\n"
    );
}

#[test]
fn bad_option_values_name_the_option() {
    let out = nanny(&["--lvs", "-h", "10.0.0.1", "-V", "192.0.2.1", "-t", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--interval"), "{}", stderr(&out));
    let out = nanny(&["--lvs", "--nosuch"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--nosuch"), "{}", stderr(&out));
}

#[test]
fn help_lists_piranhas_options() {
    let out = nanny(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for option in [
        "--interval",
        "--ipvsadm",
        "--loadcmd",
        "--method",
        "--nodaemon",
        "--nofork",
        "--port",
        "--rport",
        "--reentrytime",
        "--scale",
        "--server",
        "--send_program",
        "--send_string",
        "--expect_string",
        "--regex",
        "--suppress",
        "--quiesce_server",
        "--udp",
        "--verbose",
        "--virtaddress",
        "--fwmark",
        "--weight",
        "--test-start",
        "--lvs",
        "--fos",
        "--failures",
        "--check-interval",
    ] {
        assert!(help.contains(option), "{option} is not in --help");
    }
}

/// A nanny of 127.0.0.1 behind 192.0.2.1 that changes no table.
const TEST_START: [&str; 7] = [
    "--lvs",
    "-h",
    "127.0.0.1",
    "-V",
    "192.0.2.1",
    "-n",
    "--test-start",
];

/// `--ipvs KEY=VALUE`: the IPVS keys of an lvs.cf server block, checked as
/// in a file, `-M` standing for `network`.
#[test]
fn ipvs_options_are_server_block_keys() {
    let run = |extra: &[&str]| {
        let mut args = TEST_START.to_vec();
        args.extend_from_slice(extra);
        nanny(&args)
    };
    for (extra, expected) in [
        (
            &["-M", "i", "--ipvs", "tunnel_type=gue"][..],
            "nanny: --ipvs `tunnel_type=gue`: `tunnel_type = gue` of server `nanny` of `nanny` needs `tunnel_port`",
        ),
        (
            &["--ipvs", "upper_threshold=2", "--ipvs", "lower_threshold=5"][..],
            "nanny: --ipvs `lower_threshold=5`: `lower_threshold = 5` of server `nanny` of `nanny` is above its `upper_threshold = 2`",
        ),
        (
            &["--ipvs", "weight=3"][..],
            "nanny: --ipvs `weight=3`: not an IPVS setting of a server (one of: network, tunnel_type, tunnel_port",
        ),
    ] {
        let out = run(extra);
        assert_eq!(out.status.code(), Some(1), "{extra:?}");
        assert!(stderr(&out).starts_with(expected), "{extra:?}: {}", stderr(&out));
    }
}

/// `--check KEY=VALUE`: the keys of an lvs.cf check block, read and
/// refused as in a file.
#[test]
fn check_options_are_check_block_keys() {
    let base = TEST_START;
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        nanny(&args)
    };
    let out = with(&["--check", "type=gopher"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .starts_with("nanny: --check `type=gopher`: invalid argument (`type` is one of: tcp, udp, http"),
        "{}",
        stderr(&out)
    );
    let out = with(&["--check", "type=dns"]);
    assert!(stderr(&out).contains("needs `query`"), "{}", stderr(&out));
    let out = with(&["--check", "type=http", "-s", "GET /"]);
    assert_eq!(
        stderr(&out),
        "nanny: --check replaces -s, -x and -e: give one or the other\n"
    );

    // A working one: an HTTP check of a server that answers 200 on /ok only.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port().to_string();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut request = [0u8; 1024];
            let read = stream.read(&mut request).unwrap_or(0);
            let status = if request[..read].starts_with(b"GET /ok ") {
                "200 OK"
            } else {
                "404 Not Found"
            };
            let _ = write!(stream, "HTTP/1.0 {status}\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let dir = testkit::TempDir::new("nanny-check");
    // nanny's log for `path`, once it holds `until` (at most 10 s).
    let run = |path: &str, until: &str| {
        let log = dir.0.join(format!("nanny{}.log", path.replace('/', "-")));
        let out = std::fs::File::create(&log).expect("log");
        let mut child = Command::new(NANNY)
            .args(base)
            .args([
                "-p",
                &port,
                "-t",
                "1",
                "-v",
                "--check",
                "type=http",
                "--check",
                &format!("path={path}"),
            ])
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("start nanny");
        let started = std::time::Instant::now();
        let text = || std::fs::read_to_string(&log).unwrap_or_default();
        while !text().contains(until) && started.elapsed() < std::time::Duration::from_secs(10) {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        text()
    };
    let up = run("/ok", "available");
    assert!(up.contains(&format!("making 127.0.0.1:{port} available")), "{up}");
    let down = run("/missing", "HTTP status 404");
    assert!(down.contains("check nanny: HTTP status 404"), "{down}");
    assert!(!down.contains("available"), "{down}");
}
