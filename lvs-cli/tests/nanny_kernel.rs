//! `nanny` against a real server and the real IPVS table, in a network
//! namespace of the kernel test lab (`cargo xtask test` runs it there with
//! `LVS_KERNEL_TESTS=1`; elsewhere it skips with a reason).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lvs_ipvs::{Destination, Ipvs, Protocol, Service, ServiceKey};
use testkit::Netns;

const NANNY: &str = env!("CARGO_BIN_EXE_nanny");

fn lab(test: &str) -> Option<Netns> {
    common::ipvs_lab(test, "nanny")
}

/// A web server in the namespace; dropping it closes the port.
struct Server {
    running: Arc<AtomicBool>,
}

impl Server {
    fn start(ns: &Netns, port: u16) -> Server {
        let listener = ns.run(|| TcpListener::bind(("127.0.0.1", port)).expect("bind"));
        listener.set_nonblocking(true).expect("non-blocking");
        let running = Arc::new(AtomicBool::new(true));
        let alive = Arc::clone(&running);
        std::thread::spawn(move || {
            while alive.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        stream.set_nonblocking(false).ok();
                        stream.set_read_timeout(Some(Duration::from_millis(200))).ok();
                        let mut request = [0u8; 512];
                        let _ = stream.read(&mut request);
                        let _ = stream.write_all(b"HTTP/1.0 200 OK\r\n\r\n");
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Server { running }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.running.store(false, Ordering::Relaxed);
        // Let the accept loop see the flag and drop the listener.
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Nanny(Child);

impl Nanny {
    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child process.
        unsafe { libc::kill(self.0.id() as i32, signal) };
    }
}

impl Drop for Nanny {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const VIP: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);

fn key() -> ServiceKey {
    ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: IpAddr::V4(VIP),
        port: 80,
    }
}

fn destinations(ns: &Netns) -> Vec<Destination> {
    ns.run(|| {
        Ipvs::connect()
            .expect("connect")
            .destinations(&key())
            .expect("dump")
    })
}

/// Waits until the table satisfies `want`; returns how long that took.
fn wait_for(ns: &Netns, what: &str, within: Duration, want: impl Fn(&[Destination]) -> bool) -> Duration {
    let started = Instant::now();
    loop {
        let dests = destinations(ns);
        if want(&dests) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{what}: not within {within:?}; the table has {dests:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start_nanny(ns: &Netns, port: u16, extra: &[&str]) -> Nanny {
    let port = port.to_string();
    let vip = VIP.to_string();
    let mut args = vec![
        "netns",
        "exec",
        &ns.name,
        NANNY,
        "-n",
        "-h",
        "127.0.0.1",
        "-p",
        "80",
        "-r",
        &port,
        "-V",
        &vip,
        "-t",
        "1",
        "-a",
        "3",
        "-w",
        "4",
        "--lvs",
    ];
    args.extend_from_slice(extra);
    Nanny(Command::new("ip").args(&args).spawn().expect("start nanny"))
}

fn present(d: &[Destination]) -> bool {
    d.len() == 1 && d[0].weight > 0
}

#[test]
fn nanny_adds_removes_and_readds_its_server() {
    let Some(ns) = lab("nanny_adds_removes_and_readds_its_server") else {
        return;
    };
    ns.run(|| {
        Ipvs::connect()
            .expect("connect")
            .add_service(&Service::new(key(), "wlc"))
            .expect("service")
    });
    let port = 18080;
    let server = Server::start(&ns, port);
    let nanny = start_nanny(&ns, port, &[]);
    wait_for(
        &ns,
        "the first success adds the server",
        Duration::from_secs(8),
        present,
    );
    assert_eq!(
        destinations(&ns)[0].weight,
        1,
        "slow start begins at max(1, 4 >> 5)"
    );

    drop(server);
    let gone = wait_for(
        &ns,
        "a dead server leaves the table",
        Duration::from_secs(8),
        |d| d.is_empty(),
    );
    // One interval (-t 1): the next check after the port closes fails at
    // once (a reset), plus the emulated VM's scheduling and this poll.
    assert!(
        gone <= Duration::from_millis(2000),
        "within one interval, took {gone:?}"
    );

    let server = Server::start(&ns, port);
    let back = wait_for(&ns, "it returns after reentry", Duration::from_secs(10), present);
    assert!(
        back >= Duration::from_secs(2),
        "not before reentry / interval successes: {back:?}"
    );

    nanny.signal(libc::SIGUSR1);
    wait_for(&ns, "SIGUSR1 forces it out", Duration::from_secs(4), |d| {
        d.is_empty()
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        destinations(&ns).is_empty(),
        "forced out, it stays out although it passes"
    );
    nanny.signal(libc::SIGUSR2);
    wait_for(&ns, "SIGUSR2 forces it in", Duration::from_secs(4), present);
    // Forced in, it stays in although it fails; SIGHUP returns to checking,
    // and the next check takes it out.
    drop(server);
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        present(&destinations(&ns)),
        "forced in, it stays in although it fails"
    );
    nanny.signal(libc::SIGHUP);
    wait_for(
        &ns,
        "SIGHUP returns to checking, and the failing server leaves",
        Duration::from_secs(3),
        |d| d.is_empty(),
    );
    let server = Server::start(&ns, port);
    wait_for(&ns, "back after reentry", Duration::from_secs(10), present);

    stop_removes_the_server(&ns, nanny, libc::SIGTERM);
    drop(server);
}

#[test]
fn quiesce_sets_the_weight_to_zero() {
    let Some(ns) = lab("quiesce_sets_the_weight_to_zero") else {
        return;
    };
    ns.run(|| {
        Ipvs::connect()
            .expect("connect")
            .add_service(&Service::new(key(), "wlc"))
            .expect("service")
    });
    let port = 18081;
    let server = Server::start(&ns, port);
    let nanny = start_nanny(&ns, port, &["-q"]);
    wait_for(&ns, "added", Duration::from_secs(8), present);
    drop(server);
    let quiesced = wait_for(&ns, "quiesced, not removed", Duration::from_secs(6), |d| {
        d.len() == 1 && d[0].weight == 0
    });
    assert!(
        quiesced <= Duration::from_millis(2000),
        "within one interval, took {quiesced:?}"
    );
    let server = Server::start(&ns, port);
    wait_for(
        &ns,
        "weighted again after reentry",
        Duration::from_secs(10),
        present,
    );
    // SIGINT ends nanny as SIGTERM does.
    stop_removes_the_server(&ns, nanny, libc::SIGINT);
    drop(server);
}

/// Stops nanny with `signal`: its server leaves the table and it exits 0.
fn stop_removes_the_server(ns: &Netns, mut nanny: Nanny, signal: i32) {
    nanny.signal(signal);
    wait_for(
        ns,
        &format!("nanny stopped by signal {signal} removes its server"),
        Duration::from_secs(4),
        |d| d.is_empty(),
    );
    let status = nanny.0.wait().expect("wait");
    assert!(status.success(), "{status}");
}
