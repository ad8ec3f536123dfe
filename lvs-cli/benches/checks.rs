//! The director's health checks against keepalived's checker, in the same
//! run, on the same real servers: nginx (Debian's) serving 1,000 HTTP and
//! 1,000 HTTPS ports, each port one real server of one virtual service,
//! every server checked once a second (`check_interval = 1`, keepalived's
//! `delay_loop 1`), HTTP with `GET /` expecting 200, HTTPS the same over TLS
//! without verifying the certificate (keepalived's `SSL_GET` does not).
//!
//! Each daemon runs alone in turn, for HTTP and then for HTTPS: once every
//! server is in the IPVS table it gets a warm-up, then its CPU (user and
//! system, all its processes: keepalived's parent and checker child) and
//! resident memory are read over a window, and nginx's request counter says
//! how many checks it made in that window. Needs root, a kernel with IPVS,
//! nginx, keepalived and openssl: `cargo xtask bench checks` runs it in the
//! kernel test lab. Targets: the director at most a third of keepalived's
//! CPU for the same checks, and under 64 MiB resident.
//!
//! To see where the CPU goes, `CHECKS_BENCH_PROFILE` names a shell command
//! run after each daemon's window, while it still checks, with its process
//! id in `$PID` (for example `perf stat -e 'syscalls:sys_enter_*' -p $PID
//! sleep 10`), and its output is printed; `CHECKS_BENCH=http` (or `https`)
//! runs one of the two. The lab passes on the `CHECKS_BENCH` variables
//! `cargo xtask bench checks` is run with.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use testkit::{Netns, TempDir};

const SERVERS: u16 = 1000;
const HTTP_BASE: u16 = 20000;
const HTTPS_BASE: u16 = 22000;
const STATUS_PORT: u16 = 19999;
const RIP: &str = "10.9.0.1";
const VIP: &str = "10.8.0.100";
const WARM_UP: Duration = Duration::from_secs(5);
const WINDOW: Duration = Duration::from_secs(20);
const LVS: &str = env!("CARGO_BIN_EXE_lvs");
const IPVSADM: &str = "/usr/sbin/ipvsadm";

#[derive(Clone, Copy, PartialEq)]
enum Protocol {
    Http,
    Https,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Http => "HTTP",
            Protocol::Https => "HTTPS",
        }
    }

    fn base(self) -> u16 {
        match self {
            Protocol::Http => HTTP_BASE,
            Protocol::Https => HTTPS_BASE,
        }
    }
}

/// What one daemon cost over the window.
struct Measured {
    cpu_share: f64,
    resident_mib: f64,
    checks_per_second: f64,
}

fn lvs_cf(protocol: Protocol) -> String {
    let kind = match protocol {
        Protocol::Http => "http",
        Protocol::Https => "https\n  verify = 0",
    };
    let mut text = format!(
        "primary = 10.255.0.1\nservice = lvs\nnetwork = nat\n\
         virtual web {{\n active = 1\n address = {VIP} eth0:1\n port = 80\n timeout = 2\n check_interval = 1\n\
         check page {{\n  type = {kind}\n  path = /\n  status = [ 200 ]\n }}\n"
    );
    for i in 0..SERVERS {
        let _ = write!(
            text,
            " server s{i} {{\n  address = {RIP}\n  port = {}\n  active = 1\n }}\n",
            protocol.base() + i
        );
    }
    text.push_str("}\n");
    text
}

fn keepalived_conf(protocol: Protocol) -> String {
    let checker = match protocol {
        Protocol::Http => "HTTP_GET",
        Protocol::Https => "SSL_GET",
    };
    let mut text = format!(
        "global_defs {{\n  router_id bench\n}}\n\
         virtual_server {VIP} 80 {{\n  delay_loop 1\n  lb_algo wlc\n  lb_kind NAT\n  protocol TCP\n"
    );
    for i in 0..SERVERS {
        let _ = write!(
            text,
            "  real_server {RIP} {} {{\n    weight 1\n    {checker} {{\n      url {{\n        path /\n        status_code 200\n      }}\n      connect_timeout 2\n    }}\n  }}\n",
            protocol.base() + i
        );
    }
    text.push_str("}\n");
    text
}

fn nginx_conf(dir: &Path) -> String {
    let d = dir.display();
    let listens = |base: u16, ssl: &str| -> String {
        (0..SERVERS)
            .map(|i| format!("    listen {RIP}:{}{ssl} backlog=512;\n", base + i))
            .collect()
    };
    format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\n\
         worker_rlimit_nofile 65536;\nevents {{ worker_connections 16384; }}\n\
         http {{\n  access_log off;\n  ssl_certificate {d}/cert.pem;\n  ssl_certificate_key {d}/key.pem;\n\
           server {{\n{}    location / {{ return 200 \"ok\\n\"; }}\n  }}\n\
           server {{\n{}    location / {{ return 200 \"ok\\n\"; }}\n  }}\n\
           server {{\n    listen {RIP}:{STATUS_PORT};\n    location / {{ stub_status; }}\n  }}\n}}\n",
        listens(HTTP_BASE, ""),
        listens(HTTPS_BASE, " ssl"),
    )
}

/// nginx's count of requests served so far.
fn requests(ns: &Netns) -> u64 {
    ns.run(|| {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect((RIP, STATUS_PORT)).expect("nginx's status");
        let _ = stream.write_all(b"GET / HTTP/1.0\r\n\r\n");
        let mut text = String::new();
        let _ = stream.read_to_string(&mut text);
        // "server accepts handled requests\n A H R"
        text.lines()
            .skip_while(|line| !line.contains("accepts handled requests"))
            .nth(1)
            .and_then(|line| line.split_whitespace().nth(2))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no request count in nginx's status: {text}"))
    })
}

/// CPU seconds (user and system) and resident MiB of `pid` and its children.
fn tree_usage(pid: u32) -> (f64, f64) {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut cpu = 0.0;
    let mut rss = 0.0;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return (0.0, 0.0);
    };
    for entry in entries.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The fields after the command's closing parenthesis.
        let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let own = entry.file_name().to_string_lossy() == pid.to_string();
        let child = fields.get(1).is_some_and(|ppid| *ppid == pid.to_string());
        if !(own || child) {
            continue;
        }
        // utime and stime are fields 14 and 15 of stat (11 and 12 here).
        let field = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        cpu += (field(11) + field(12)) / ticks;
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        rss += status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0;
    }
    (cpu, rss)
}

/// Destinations the table holds for the VIP.
fn destinations(ns: &Netns) -> usize {
    let out = ns.exec(IPVSADM, &["-Ln", "-t", &format!("{VIP}:80")]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.trim_start().starts_with("->") && l.contains(RIP))
        .count()
}

/// Runs `daemon` until all servers are in the table, then measures it;
/// `diagnose` says what the daemon sees when they do not all come.
fn measure(ns: &Netns, mut daemon: Child, log: &Path, what: &str, diagnose: &dyn Fn() -> String) -> Measured {
    let started = Instant::now();
    // keepalived puts every server in the table at its start; the director
    // only once a check has passed.
    while destinations(ns) < usize::from(SERVERS) {
        if started.elapsed() > Duration::from_secs(120) || daemon.try_wait().ok().flatten().is_some() {
            let seen = diagnose();
            let _ = daemon.kill();
            panic!(
                "{what}: {} of {SERVERS} servers in the table after {:?}:\n{}\n{seen}",
                destinations(ns),
                started.elapsed(),
                std::fs::read_to_string(log)
                    .unwrap_or_default()
                    .lines()
                    .rev()
                    .take(30)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(WARM_UP);
    let pid = daemon.id();
    let (cpu_before, _) = tree_usage(pid);
    let requests_before = requests(ns);
    let window_start = Instant::now();
    std::thread::sleep(WINDOW);
    let (cpu_after, resident_mib) = tree_usage(pid);
    let requests_after = requests(ns);
    let elapsed = window_start.elapsed().as_secs_f64();
    let still = destinations(ns);
    if let Ok(profile) = std::env::var("CHECKS_BENCH_PROFILE") {
        let out = Command::new("sh")
            .args(["-c", &profile])
            .env("PID", pid.to_string())
            .output()
            .expect("run CHECKS_BENCH_PROFILE");
        println!(
            "  {what}: profile:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let _ = daemon.wait();
    if still < usize::from(SERVERS) {
        println!("  {what}: {still} of {SERVERS} servers still in the table at the window's end");
    }
    Measured {
        cpu_share: (cpu_after - cpu_before) / elapsed,
        resident_mib,
        // The status requests themselves aside.
        checks_per_second: (requests_after - requests_before).saturating_sub(1) as f64 / elapsed,
    }
}

fn spawn_in(ns: &Netns, program: &str, args: &[&str], log: &Path) -> Child {
    let out = std::fs::File::create(log).expect("log");
    Command::new("ip")
        .args(["netns", "exec", &ns.name, program])
        .args(args)
        .stdout(Stdio::from(out.try_clone().expect("log")))
        .stderr(Stdio::from(out))
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"))
}

fn main() -> ExitCode {
    if !Path::new(IPVSADM).exists() {
        eprintln!("skipped: run `cargo xtask bench checks`, which runs it in the kernel test lab");
        return ExitCode::SUCCESS;
    }
    if !testkit::require_root("checks benchmark") {
        return ExitCode::SUCCESS;
    }
    // SAFETY: plain getrlimit/setrlimit on a local struct; the daemons inherit it.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
    let ns = Netns::new("checks-bench");
    let dir = TempDir::new("checks-bench");
    for (device, address) in [("eth0", "10.8.0.1/24"), ("servers", "10.9.0.1/24")] {
        ns.ip(&["link", "add", device, "type", "dummy"]);
        ns.ip(&["addr", "add", address, "dev", device]);
        ns.ip(&["link", "set", device, "up"]);
    }
    let openssl = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ])
        .args(["-days", "2", "-subj", "/CN=bench.test", "-keyout"])
        .arg(dir.path().join("key.pem"))
        .arg("-out")
        .arg(dir.path().join("cert.pem"))
        .output()
        .expect("openssl");
    assert!(
        openssl.status.success(),
        "{}",
        String::from_utf8_lossy(&openssl.stderr)
    );
    let nginx_conf_path = dir.file("nginx.conf", &nginx_conf(dir.path()));
    let nginx_log = dir.path().join("nginx.log");
    let mut nginx = spawn_in(
        &ns,
        "nginx",
        &[
            "-c",
            &nginx_conf_path.to_string_lossy(),
            "-p",
            &dir.path().to_string_lossy(),
        ],
        &nginx_log,
    );
    let started = Instant::now();
    while ns
        .run(|| std::net::TcpStream::connect((RIP, STATUS_PORT)))
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "nginx did not start: {}",
            std::fs::read_to_string(&nginx_log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let mut results: Vec<(Protocol, Measured, Measured)> = Vec::new();
    // CHECKS_BENCH=https (or http) runs one of the two.
    let only = std::env::var("CHECKS_BENCH").unwrap_or_default();
    for protocol in [Protocol::Http, Protocol::Https] {
        if !only.is_empty() && !only.eq_ignore_ascii_case(protocol.name()) {
            continue;
        }
        let name = protocol.name();
        let config: PathBuf = dir.file(&format!("lvs-{name}.cf"), &lvs_cf(protocol));
        let log = dir.path().join(format!("lvs-{name}.log"));
        let socket = dir.path().join("lvs.sock");
        let lvs = spawn_in(
            &ns,
            LVS,
            &[
                "-n",
                "-c",
                &config.to_string_lossy(),
                "--socket",
                &socket.to_string_lossy(),
                "--pidfile",
                &dir.path().join("lvs.pid").to_string_lossy(),
            ],
            &log,
        );
        let status = || {
            let out = ns.exec(LVS, &["--status", "--socket", &socket.to_string_lossy()]);
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .take(12)
                .collect::<Vec<_>>()
                .join("\n")
        };
        let director = measure(&ns, lvs, &log, &format!("lvs, {name}"), &status);
        let _ = ns.exec(IPVSADM, &["-C"]);

        let conf = dir.file(&format!("keepalived-{name}.conf"), &keepalived_conf(protocol));
        let log = dir.path().join(format!("keepalived-{name}.log"));
        let pids = |what: &str| {
            dir.path()
                .join(format!("keepalived-{what}.pid"))
                .to_string_lossy()
                .into_owned()
        };
        let keepalived = spawn_in(
            &ns,
            "keepalived",
            &[
                "-n",
                "-l",
                "-C",
                "-f",
                &conf.to_string_lossy(),
                "-p",
                &pids("main"),
                "-c",
                &pids("checkers"),
            ],
            &log,
        );
        let peer = measure(
            &ns,
            keepalived,
            &log,
            &format!("keepalived, {name}"),
            &String::new,
        );
        let _ = ns.exec(IPVSADM, &["-C"]);
        results.push((protocol, director, peer));
    }
    let _ = nginx.kill();
    let _ = nginx.wait();

    println!(
        "health checks of {SERVERS} real servers every second, against nginx ({WARM_UP:?} warm-up, {WINDOW:?} window)"
    );
    println!("  check   daemon       CPU (of one core)   resident   checks/s");
    let mut met = true;
    for (protocol, director, peer) in &results {
        for (who, m) in [("lvs", director), ("keepalived", peer)] {
            println!(
                "  {:<7} {who:<12} {:>8.1}%          {:>6.1} MiB   {:>7.0}",
                protocol.name(),
                m.cpu_share * 100.0,
                m.resident_mib,
                m.checks_per_second
            );
        }
        let ratio = director.cpu_share / peer.cpu_share;
        // CPU per check made: the fair figure when keepalived cannot keep
        // the interval (it then makes fewer checks, not more CPU).
        let per_check = |m: &Measured| m.cpu_share / m.checks_per_second.max(1.0) * 1e6;
        println!(
            "  {:<7} lvs uses {:.2} of keepalived's CPU (target: at most 0.33), {:.1} MiB (target: under 64); \
             per check {:.0} us against {:.0} us ({:.3})",
            protocol.name(),
            ratio,
            director.resident_mib,
            per_check(director),
            per_check(peer),
            per_check(director) / per_check(peer)
        );
        met &= ratio <= 1.0 / 3.0 && director.resident_mib < 64.0;
    }
    println!("targets {}", if met { "met" } else { "NOT met" });
    if met {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
