//! Each check kind against real servers on loopback: one that answers, one
//! that refuses, one that never answers, one that answers wrongly, one that
//! answers slowly; and check programs that succeed, fail, hang and print
//! the wrong text.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lvs_core::check::{Check, Expect, Failure, HttpCheck};
use lvs_health::run::run;

const LIMIT: Duration = Duration::from_millis(500);

/// A TCP server on loopback that answers each connection with `reply` after
/// `delay` (never, with `None`), having read what the client sent first.
fn tcp_server(reply: Option<&'static [u8]>, delay: Duration) -> SocketAddr {
    serve_each(move |mut stream| {
        stream.set_read_timeout(Some(Duration::from_millis(100))).ok();
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request);
        std::thread::sleep(delay);
        match reply {
            Some(reply) => {
                let _ = stream.write_all(reply);
            }
            // Hold the connection open, silent.
            None => std::thread::sleep(Duration::from_secs(5)),
        }
    })
}

/// A TCP server on loopback that hands each connection to `handle`, on a
/// thread of its own.
fn serve_each(handle: impl Fn(std::net::TcpStream) + Clone + Send + 'static) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let handle = handle.clone();
            std::thread::spawn(move || handle(stream));
        }
    });
    addr
}

/// A port on loopback where nothing listens: a TCP socket bound to it but
/// not listening holds the port, so no other test can take it meanwhile.
fn closed_tcp_port() -> SocketAddr {
    use std::os::fd::{FromRawFd, OwnedFd};
    // SAFETY: plain socket calls on a descriptor this function owns; the
    // address structures live across the calls that use them.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "socket");
        let owned = OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, (&addr as *const libc::sockaddr_in).cast(), len),
            0,
            "bind"
        );
        let mut bound: libc::sockaddr_in = std::mem::zeroed();
        let mut bound_len = len;
        assert_eq!(
            libc::getsockname(fd, (&mut bound as *mut libc::sockaddr_in).cast(), &mut bound_len),
            0
        );
        // Held for the life of the test process.
        std::mem::forget(owned);
        SocketAddr::from(([127, 0, 0, 1], u16::from_be(bound.sin_port)))
    }
}

fn udp_server(reply: Option<&'static [u8]>) -> SocketAddr {
    slow_udp_server(reply, Duration::ZERO)
}

/// A UDP server that answers each datagram with `reply` after `delay`.
fn slow_udp_server(reply: Option<&'static [u8]>, delay: Duration) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = socket.local_addr().expect("address");
    std::thread::spawn(move || {
        let mut buffer = [0u8; 1500];
        while let Ok((_, from)) = socket.recv_from(&mut buffer) {
            if let Some(reply) = reply {
                std::thread::sleep(delay);
                let _ = socket.send_to(reply, from);
            }
        }
    });
    addr
}

/// A TCP port that never completes a handshake: a listener with a backlog
/// of 0 whose one queued connection is never accepted, so the kernel drops
/// every further SYN and a connect waits until it gives up.
fn silent_tcp_port() -> SocketAddr {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor this function owns.
    let listener = unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "socket");
        let addr = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: 0,
            sin_addr: libc::in_addr {
                s_addr: u32::from(std::net::Ipv4Addr::LOCALHOST).to_be(),
            },
            sin_zero: [0; 8],
        };
        let rc = libc::bind(
            fd,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        assert_eq!(rc, 0, "bind");
        assert_eq!(libc::listen(fd, 0), 0, "listen");
        TcpListener::from_raw_fd(fd)
    };
    let addr = listener.local_addr().expect("address");
    let filler = std::net::TcpStream::connect(addr).expect("fill the accept queue");
    // Both stay open for the rest of the test run.
    std::mem::forget(listener);
    std::mem::forget(filler);
    addr
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn check(check: &Check, target: SocketAddr) -> Result<(), Failure> {
    runtime().block_on(run(check, target, LIMIT))
}

fn http_probe() -> Check {
    Check::Tcp {
        send: Some(b"GET / HTTP/1.0\r\n\r\n".to_vec()),
        expect: Some(Expect::Prefix(b"HTTP".to_vec())),
    }
}

#[test]
fn tcp_connect() {
    let connect = Check::Tcp {
        send: None,
        expect: None,
    };
    assert_eq!(check(&connect, tcp_server(None, Duration::ZERO)), Ok(()));
    assert!(matches!(
        check(&connect, closed_tcp_port()),
        Err(Failure::Connect(_))
    ));
    let started = Instant::now();
    assert_eq!(check(&connect, silent_tcp_port()), Err(Failure::ConnectTimeout));
    assert!(
        started.elapsed() >= LIMIT,
        "gave up early: {:?}",
        started.elapsed()
    );
}

#[test]
fn tcp_send_expect() {
    assert_eq!(
        check(
            &http_probe(),
            tcp_server(Some(b"HTTP/1.0 200 OK\r\n\r\n"), Duration::ZERO)
        ),
        Ok(())
    );
    assert!(matches!(
        check(&http_probe(), closed_tcp_port()),
        Err(Failure::Connect(_))
    ));
    assert_eq!(
        check(&http_probe(), tcp_server(None, Duration::ZERO)),
        Err(Failure::ReadTimeout)
    );
    assert!(matches!(
        check(&http_probe(), tcp_server(Some(b"SMTP ready"), Duration::ZERO)),
        Err(Failure::Mismatch(_))
    ));
    assert_eq!(
        check(
            &http_probe(),
            tcp_server(Some(b"HTTP/1.0 200 OK"), Duration::from_millis(200))
        ),
        Ok(()),
        "slow, within the timeout"
    );
    assert_eq!(
        check(
            &http_probe(),
            tcp_server(Some(b"HTTP/1.0 200 OK"), Duration::from_millis(900))
        ),
        Err(Failure::ReadTimeout),
        "too slow"
    );
    assert_eq!(
        check(&http_probe(), tcp_server(Some(b"HT"), Duration::ZERO)),
        Err(Failure::ShortRead { got: 2, wanted: 4 })
    );
}

#[test]
fn tcp_expect_any_byte_and_regex() {
    let any = Check::Tcp {
        send: None,
        expect: Some(Expect::AnyByte),
    };
    assert_eq!(check(&any, tcp_server(Some(b"x"), Duration::ZERO)), Ok(()));
    let regex = Check::Tcp {
        send: Some(b"PING\r\n".to_vec()),
        expect: Some(Expect::from_nanny(r"\+PONG|OK \d+", true, false).expect("regex")),
    };
    assert_eq!(
        check(&regex, tcp_server(Some(b"+PONG\r\n"), Duration::ZERO)),
        Ok(())
    );
    assert_eq!(
        check(&regex, tcp_server(Some(b"server says OK 42"), Duration::ZERO)),
        Ok(()),
        "unanchored"
    );
    assert!(check(&regex, tcp_server(Some(b"-ERR"), Duration::ZERO)).is_err());
}

#[test]
fn udp_send_expect() {
    let dns = Check::Udp {
        send: Some(b"ping".to_vec()),
        expect: Some(Expect::Prefix(b"pong".to_vec())),
    };
    assert_eq!(check(&dns, udp_server(Some(b"pong!"))), Ok(()));
    assert!(matches!(
        check(&dns, udp_server(Some(b"nope!"))),
        Err(Failure::Mismatch(_))
    ));
    assert_eq!(check(&dns, udp_server(None)), Err(Failure::NoReply));
    assert_eq!(
        check(&dns, slow_udp_server(Some(b"pong"), Duration::from_millis(200))),
        Ok(()),
        "slow, within the timeout"
    );
    assert_eq!(
        check(&dns, slow_udp_server(Some(b"pong"), Duration::from_millis(900))),
        Err(Failure::NoReply),
        "too slow"
    );
    // An address of the loopback range that no test binds: nothing answers there.
    let closed: SocketAddr = "127.254.0.1:9".parse().expect("literal");
    assert!(
        matches!(check(&dns, closed), Err(Failure::Read(_))),
        "port unreachable"
    );
    // Without an expect string any reply will do (nanny crashes here).
    let any = Check::Udp {
        send: None,
        expect: None,
    };
    assert_eq!(check(&any, udp_server(Some(b"!"))), Ok(()));
    assert_eq!(check(&any, udp_server(None)), Err(Failure::NoReply));
}

fn http_server(status: u16, body: &'static str) -> SocketAddr {
    slow_http_server(status, body, Duration::ZERO)
}

fn slow_http_server(status: u16, body: &'static str, delay: Duration) -> SocketAddr {
    let reply: &'static [u8] = Box::leak(
        format!(
            "HTTP/1.1 {status} Whatever\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
        .into_boxed_slice(),
    );
    tcp_server(Some(reply), delay)
}

#[test]
fn http_get() {
    let get = |status: Vec<std::ops::RangeInclusive<u16>>, body: Option<&str>| {
        let mut http = HttpCheck::get("/health");
        http.host = Some("www.example".into());
        http.status = status;
        http.body = body.map(|b| regex::bytes::Regex::new(b).expect("regex"));
        Check::Http(Box::new(http))
    };
    assert_eq!(check(&get(vec![], None), http_server(200, "fine")), Ok(()));
    assert_eq!(
        check(&get(vec![], None), http_server(503, "busy")),
        Err(Failure::Status(503))
    );
    assert_eq!(
        check(&get(vec![503..=503], None), http_server(503, "busy")),
        Ok(())
    );
    assert_eq!(check(&get(vec![], Some("^fi")), http_server(200, "fine")), Ok(()));
    assert!(matches!(
        check(&get(vec![], Some("ok")), http_server(200, "fine")),
        Err(Failure::Mismatch(_))
    ));
    assert!(matches!(
        check(
            &get(vec![], None),
            tcp_server(Some(b"garbage\r\n"), Duration::ZERO)
        ),
        Err(Failure::BadResponse(_))
    ));
    assert!(matches!(
        check(&get(vec![], None), closed_tcp_port()),
        Err(Failure::Connect(_))
    ));
    assert_eq!(
        check(&get(vec![], None), tcp_server(None, Duration::ZERO)),
        Err(Failure::ReadTimeout)
    );
    assert_eq!(
        check(
            &get(vec![], None),
            slow_http_server(200, "fine", Duration::from_millis(200))
        ),
        Ok(()),
        "slow, within the timeout"
    );
    assert_eq!(
        check(
            &get(vec![], None),
            slow_http_server(200, "fine", Duration::from_millis(900))
        ),
        Err(Failure::ReadTimeout),
        "too slow"
    );
    assert!(matches!(
        check(&get(vec![], None), silent_tcp_port()),
        Err(Failure::ConnectTimeout)
    ));
}

struct Scripts(PathBuf);

impl Scripts {
    fn new() -> Scripts {
        let dir = std::env::temp_dir().join(format!("lvs-core-checks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Scripts(dir)
    }

    fn script(&self, name: &str, body: &str) -> String {
        use std::os::unix::fs::PermissionsExt;
        let path = self.0.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path.display().to_string()
    }
}

impl Drop for Scripts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn check_programs() {
    let scripts = Scripts::new();
    let target: SocketAddr = "127.0.0.1:8080".parse().expect("literal");
    let program = |command: String, expect: Option<&str>| Check::Program {
        command,
        expect: expect.map(str::to_owned),
        dynamic: false,
    };

    let ok = scripts.script("ok.sh", r#"[ "$1" = 127.0.0.1 ] && [ "$2" = 8080 ] && echo OK"#);
    assert_eq!(
        check(&program(format!("{ok} %h %p"), Some("OK")), target),
        Ok(()),
        "%h and %p are replaced"
    );
    assert_eq!(
        check(&program(format!("{ok} %h %p"), None), target),
        Ok(()),
        "no expect: exit status 0 is enough"
    );

    let wrong = scripts.script("wrong.sh", "echo NOT OK");
    assert_eq!(
        check(&program(wrong.clone(), Some("OK")), target),
        Err(Failure::Mismatch("NOT OK".into()))
    );
    assert_eq!(
        check(&program(wrong, Some("NOT OK")), target),
        Ok(()),
        "an exact match"
    );

    // Nanny counts a failing program with an expect string as a success.
    let fail = scripts.script("fail.sh", "echo OK; exit 1");
    assert!(matches!(
        check(&program(fail.clone(), Some("OK")), target),
        Err(Failure::Program(_))
    ));
    assert!(matches!(
        check(&program(fail, None), target),
        Err(Failure::Program(_))
    ));

    let pid_file = scripts.0.join("sleep.pid");
    let hang = scripts.script(
        "hang.sh",
        &format!("sleep 30 &\necho $! > {}\nwait", pid_file.display()),
    );
    let started = Instant::now();
    assert_eq!(
        check(&program(hang, Some("OK")), target),
        Err(Failure::ProgramTimeout)
    );
    assert!(
        started.elapsed() < LIMIT + Duration::from_secs(2),
        "killed at the timeout"
    );
    // What the program started dies with it.
    let sleeper: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    let deadline = Instant::now() + Duration::from_secs(2);
    // SAFETY: kill with signal 0 only asks whether the process exists.
    while unsafe { libc::kill(sleeper, 0) } == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_ne!(
        unsafe { libc::kill(sleeper, 0) },
        0,
        "the program's child was killed too"
    );

    assert!(matches!(
        check(&program("/nonexistent/check".into(), None), target),
        Err(Failure::Program(_))
    ));
}

/// A server for the engine: a plain TCP check every 100 ms.
fn watched(id: usize, target: SocketAddr, weight: u32) -> lvs_health::engine::Server {
    use lvs_core::nanny::NannyConfig;
    lvs_health::engine::Server {
        id,
        target,
        check: std::sync::Arc::new(Check::Tcp {
            send: None,
            expect: None,
        }),
        timeout: Duration::from_millis(300),
        nanny: NannyConfig::piranha(weight, Duration::from_millis(100), Duration::from_millis(300)),
        load_command: None,
        adopt: None,
    }
}

#[test]
fn the_engine_watches_many_servers_in_one_runtime() {
    use lvs_core::nanny::NannyAction;
    use lvs_health::engine::{Engine, Update};

    // Twenty that answer, twenty that refuse.
    let mut servers = Vec::new();
    for id in 0..40 {
        let target = if id % 2 == 0 {
            tcp_server(Some(b"ok"), Duration::ZERO)
        } else {
            closed_tcp_port()
        };
        servers.push(watched(id, target, 1));
    }
    let added = runtime().block_on(async move {
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Update>();
        let engine = Engine::start(servers, sender);
        assert_eq!(engine.len(), 40);
        let mut added = std::collections::BTreeSet::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while added.len() < 20 {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(Update {
                    id,
                    action: NannyAction::Add { .. },
                })) => {
                    added.insert(id);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        if testkit::require_root("the_engine_watches_many_servers_in_one_runtime (half-open)") {
            assert!(engine.half_open(), "as root, plain connect checks are probes");
        }
        engine.stop();
        added
    });
    assert_eq!(
        added,
        (0..40).step_by(2).collect(),
        "exactly the servers that answer are added"
    );
}

/// Checks are timed only while the board has an observer: without one the
/// clock is not read after a check, and no time is recorded.
#[test]
fn checks_are_timed_only_for_an_observer() {
    use lvs_health::engine::{Engine, Update};
    let target = tcp_server(Some(b"ok"), Duration::ZERO);
    let mut server = watched(0, target, 1);
    // send/expect: a check of its own task, not a half-open probe.
    server.check = std::sync::Arc::new(Check::Tcp {
        send: Some(b"hello".to_vec()),
        expect: None,
    });
    runtime().block_on(async move {
        let (sender, _receiver) = tokio::sync::mpsc::unbounded_channel::<Update>();
        let quiet = Engine::start(vec![server.clone()], sender.clone());
        let watched = Engine::start(vec![server], sender);
        let (seen, mut times) = tokio::sync::mpsc::unbounded_channel();
        watched.board().observe_with(move |check| {
            let _ = seen.send(check.timed);
        });
        let timed = tokio::time::timeout(Duration::from_secs(3), async {
            loop {
                if let Some(Some(timed)) = times.recv().await {
                    break timed;
                }
            }
        })
        .await
        .expect("an observed check is timed");
        assert_eq!(timed.0, "tcp");
        assert!(timed.1 < Duration::from_millis(300), "{timed:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let last = quiet.last_checks();
        assert!(!last.is_empty(), "the quiet engine checked");
        assert!(last.values().all(|check| check.timed.is_none()), "{last:?}");
        quiet.stop();
        watched.stop();
    });
}

#[test]
fn half_open_probes() {
    use lvs_health::probe::SynProber;
    if !testkit::require_root("half_open_probes") {
        return;
    }
    let open = tcp_server(Some(b"ok"), Duration::ZERO);
    let refused = closed_tcp_port();
    let silent = silent_tcp_port();
    // A listener that goes away between two probes.
    let dying = TcpListener::bind("127.0.0.1:0").expect("bind");
    let dying_address = dying.local_addr().expect("address");
    runtime().block_on(async move {
        let prober = std::sync::Arc::new(SynProber::new().expect("a raw socket as root"));
        assert_eq!(prober.probe(open, LIMIT).await, Some(Ok(())));
        assert!(matches!(
            prober.probe(refused, LIMIT).await,
            Some(Err(Failure::Connect(why))) if why.contains("refused")
        ));
        let started = Instant::now();
        assert_eq!(
            prober.probe(silent, LIMIT).await,
            Some(Err(Failure::ConnectTimeout)),
            "a full accept queue drops SYNs"
        );
        assert!(started.elapsed() >= LIMIT && started.elapsed() < LIMIT * 3);

        assert_eq!(prober.probe(dying_address, LIMIT).await, Some(Ok(())));
        drop(dying);
        assert!(matches!(
            prober.probe(dying_address, LIMIT).await,
            Some(Err(Failure::Connect(_)))
        ));

        // Many at once, interleaved, each gets its own answer.
        let probes: Vec<_> = (0..200)
            .map(|i| {
                let target = if i % 2 == 0 { open } else { refused };
                let prober = std::sync::Arc::clone(&prober);
                tokio::spawn(async move { prober.probe(target, LIMIT).await })
            })
            .collect();
        for (i, probe) in probes.into_iter().enumerate() {
            let result = probe.await.expect("probe task");
            assert_eq!(result.map(|r| r.is_ok()), Some(i % 2 == 0), "probe {i}");
        }

        let v6: SocketAddr = "[::1]:80".parse().expect("literal");
        assert_eq!(prober.probe(v6, LIMIT).await, None, "IPv6 is left to a connect");
    });
}

#[test]
fn replacing_the_servers_keeps_the_checks_of_unchanged_ones() {
    use lvs_core::nanny::NannyAction;
    use lvs_health::engine::{Engine, Update};

    let server = watched;
    let (up, other) = (
        tcp_server(Some(b"ok"), Duration::ZERO),
        tcp_server(Some(b"ok"), Duration::ZERO),
    );
    runtime().block_on(async move {
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Update>();
        let mut engine = Engine::start(vec![server(0, up, 1), server(1, closed_tcp_port(), 1)], sender);
        let added =
            |update: &Update, id: usize| update.id == id && matches!(update.action, NannyAction::Add { .. });
        // The next table change, log lines aside.
        async fn next_change(receiver: &mut tokio::sync::mpsc::UnboundedReceiver<Update>) -> Update {
            loop {
                let update = tokio::time::timeout(Duration::from_secs(3), receiver.recv())
                    .await
                    .expect("an update")
                    .expect("open");
                if !matches!(update.action, NannyAction::Log(_)) {
                    return update;
                }
            }
        }
        let first = next_change(&mut receiver).await;
        assert!(added(&first, 0), "{first:?}");

        // Server 0 unchanged, 1 gone, 2 new; then server 0 again with a new weight.
        engine.replace(vec![server(0, up, 1), server(2, other, 1)]);
        assert_eq!(engine.len(), 2);
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(800);
        while let Ok(Some(update)) = tokio::time::timeout_at(deadline, receiver.recv()).await {
            seen.push(update);
        }
        assert!(
            seen.iter().any(|u| added(u, 2)),
            "the new server is added: {seen:?}"
        );
        assert!(
            !seen.iter().any(|u| added(u, 0)),
            "the kept check is not restarted: {seen:?}"
        );
        assert!(
            !seen.iter().any(|u| u.id == 1),
            "the removed server's check stopped: {seen:?}"
        );
        assert!(engine.last_checks().contains_key(&2) && !engine.last_checks().contains_key(&1));

        engine.replace(vec![server(0, up, 4), server(2, other, 1)]);
        let restarted = next_change(&mut receiver).await;
        assert!(
            added(&restarted, 0),
            "a changed server's check starts again: {restarted:?}"
        );
    });
}

/// A TCP server on loopback that answers `ok` to every connection and
/// counts them.
fn counting_tcp_server() -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&count);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counted.fetch_add(1, Ordering::SeqCst);
            stream.set_read_timeout(Some(Duration::from_millis(100))).ok();
            let mut request = [0u8; 64];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(b"ok");
        }
    });
    (addr, count)
}

/// The weights the first `count` servers added were added at, by id (what
/// came within 3 s).
async fn added_weights(
    receiver: &mut tokio::sync::mpsc::UnboundedReceiver<lvs_health::engine::Update>,
    count: usize,
) -> std::collections::BTreeMap<usize, u32> {
    use lvs_core::nanny::NannyAction;
    let mut weights = std::collections::BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while weights.len() < count {
        match tokio::time::timeout_at(deadline, receiver.recv()).await {
            Ok(Some(lvs_health::engine::Update {
                id,
                action: NannyAction::Add { weight, .. },
            })) => {
                weights.insert(id, weight);
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    weights
}

#[test]
fn servers_checked_the_same_way_share_one_probe() {
    use lvs_core::nanny::NannyAction;
    use lvs_health::engine::{Engine, Update};
    use std::collections::BTreeMap;
    use std::sync::atomic::Ordering;

    let (target, connections) = counting_tcp_server();
    // A conversation, so that it is a connection as root too.
    let talking = |id: usize, weight: u32, interval_ms: u64| {
        let mut server = watched(id, target, weight);
        server.check = std::sync::Arc::new(Check::Tcp {
            send: Some(b"hello".to_vec()),
            expect: Some(Expect::Prefix(b"ok".to_vec())),
        });
        server.nanny.interval = Duration::from_millis(interval_ms);
        server
    };
    runtime().block_on(async move {
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Update>();
        // Two services balancing to one server with one check, at weights of
        // their own; a third checks it every 50 ms instead, so apart.
        let mut engine = Engine::start(
            vec![talking(0, 96, 100), talking(1, 160, 100), talking(2, 32, 50)],
            sender,
        );
        assert_eq!((engine.len(), engine.probes()), (3, 2));
        let weights = added_weights(&mut receiver, 3).await;
        assert_eq!(
            weights,
            BTreeMap::from([(0, 3), (1, 5), (2, 1)]),
            "each server's machine adds it at its own weight (slow start: 1/32 of it)"
        );

        // Over a second: about 10 checks of the shared probe, 20 of the
        // other; three probes of their own would make about 40.
        let before = connections.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let made = connections.load(Ordering::SeqCst) - before;
        // Fewer when a busy machine skips ticks; never more than the two probes make.
        assert!((10..=36).contains(&made), "{made} connections in a second");

        // One member leaves: the other keeps its machine, and is not added again.
        engine.replace(vec![talking(1, 160, 100), talking(2, 32, 50)]);
        assert_eq!((engine.len(), engine.probes()), (2, 2));
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
        while let Ok(Some(update)) = tokio::time::timeout_at(deadline, receiver.recv()).await {
            seen.push(update);
        }
        assert!(
            seen.iter().all(|u| u.id != 0),
            "the one gone gets nothing: {seen:?}"
        );
        assert!(
            !seen.iter().any(|u| matches!(u.action, NannyAction::Add { .. })),
            "the one kept is not restarted: {seen:?}"
        );
        assert!(engine.last_checks().contains_key(&1) && !engine.last_checks().contains_key(&0));

        // A changed weight restarts that server's machine within the probe.
        engine.replace(vec![talking(1, 224, 100), talking(2, 32, 50)]);
        assert_eq!(engine.probes(), 2);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        let readded = loop {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(Update {
                    id: 1,
                    action: NannyAction::Add { weight, .. },
                })) => break Some(weight),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break None,
            }
        };
        assert_eq!(readded, Some(7));

        engine.replace(Vec::new());
        assert_eq!((engine.len(), engine.probes()), (0, 0));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before = connections.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            connections.load(Ordering::SeqCst),
            before,
            "no probe is left running"
        );
    });

    // As root, plain connect checks share a half-open probe the same way.
    if !testkit::require_root("servers_checked_the_same_way_share_one_probe (half-open)") {
        return;
    }
    let open = tcp_server(Some(b"ok"), Duration::ZERO);
    runtime().block_on(async move {
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Update>();
        let engine = Engine::start(vec![watched(0, open, 64), watched(1, open, 128)], sender);
        assert!(engine.half_open());
        assert_eq!((engine.len(), engine.probes()), (2, 1));
        let weights = added_weights(&mut receiver, 2).await;
        assert_eq!(weights, BTreeMap::from([(0, 2), (1, 4)]));
    });
}

#[test]
fn periodic_probes_run_on_their_schedule_until_forgotten() {
    use lvs_health::probe::{Schedule, SynProber};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    if !testkit::require_root("periodic_probes_run_on_their_schedule_until_forgotten") {
        return;
    }
    let open = tcp_server(Some(b"ok"), Duration::ZERO);
    let refused = closed_tcp_port();
    let silent = silent_tcp_port();
    runtime().block_on(async move {
        let prober = SynProber::new().expect("a raw socket as root");
        let (sender, mut results) = tokio::sync::mpsc::unbounded_channel();
        let start = tokio::time::Instant::now();
        let schedule = Schedule {
            first: start,
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(50),
        };
        let mut watches = Vec::new();
        for (name, target) in [("open", open), ("refused", refused), ("silent", silent)] {
            let sender = sender.clone();
            let watch = prober.watch(target, schedule, move |result, took| {
                sender
                    .send((name, tokio::time::Instant::now(), result, took))
                    .is_ok()
            });
            watches.push(watch.expect("an IPv4 target"));
        }
        // 100 more, all due at once: each gets its own answer.
        let answered = Arc::new(AtomicUsize::new(0));
        for _ in 0..100 {
            let answered = Arc::clone(&answered);
            let watch = prober.watch(open, schedule, move |result, _| {
                if result.is_ok() {
                    answered.fetch_add(1, Ordering::SeqCst);
                }
                false
            });
            assert!(watch.is_some());
        }
        // Each target's results, with when they came.
        type Results = Vec<(tokio::time::Instant, Result<(), Failure>, Duration)>;
        let mut seen: std::collections::HashMap<&str, Results> = std::collections::HashMap::new();
        let until = start + Duration::from_millis(540);
        while let Ok(Some((name, at, result, took))) = tokio::time::timeout_at(until, results.recv()).await {
            seen.entry(name).or_default().push((at, result, took));
        }
        for (name, wanted) in [
            ("open", Ok(())),
            ("refused", Err("refused")),
            ("silent", Err("timed out")),
        ] {
            let got = seen.get(name).cloned().unwrap_or_default();
            assert!(
                (4..=6).contains(&got.len()),
                "{name}: one result per 100 ms for 540 ms: {got:?}"
            );
            for (_, result, took) in &got {
                // The time from the SYN to its answer: the timeout for the
                // silent one, less for those that answer.
                if name == "silent" {
                    assert!(*took >= Duration::from_millis(50), "{name}: {took:?}");
                } else {
                    assert!(*took < Duration::from_millis(50), "{name}: {took:?}");
                }
                match (&wanted, result) {
                    (Ok(()), Ok(())) => {}
                    (Err(why), Err(failure)) => {
                        assert!(failure.to_string().contains(why), "{name}: {failure}")
                    }
                    _ => panic!("{name}: {result:?}"),
                }
            }
            // One probe at a time, on the schedule: no two results together.
            for pair in got.windows(2) {
                assert!(
                    pair[1].0 - pair[0].0 >= Duration::from_millis(30),
                    "{name}: two results within 30 ms: {got:?}"
                );
            }
        }
        assert_eq!(
            answered.load(Ordering::SeqCst),
            100,
            "a probe that returns false runs once"
        );

        // A forgotten probe sends no more results.
        prober.forget(watches[0]);
        while results.try_recv().is_ok() {}
        let until = tokio::time::Instant::now() + Duration::from_millis(300);
        let mut after = Vec::new();
        while let Ok(Some((name, _, _, _))) = tokio::time::timeout_at(until, results.recv()).await {
            after.push(name);
        }
        assert!(!after.contains(&"open"), "results after forget: {after:?}");
        assert!(after.contains(&"refused") && after.contains(&"silent"));
        let v6: SocketAddr = "[::1]:80".parse().expect("literal");
        assert!(
            prober.watch(v6, schedule, |_, _| true).is_none(),
            "IPv6 is left to a connect"
        );
    });
}

/// keepalived's `misc_dynamic`: 0 up, 1 down, 2 to 255 up at weight status - 2.
#[test]
fn a_dynamic_programs_exit_status_sets_the_weight() {
    let scripts = Scripts::new();
    let target: SocketAddr = "127.0.0.1:8080".parse().expect("literal");
    let outcome = |code: u8, dynamic: bool| {
        let command = scripts.script(&format!("exit{code}.sh"), &format!("exit {code}"));
        let check = Check::Program {
            command,
            expect: None,
            dynamic,
        };
        runtime().block_on(lvs_health::run::run_noting(&check, target, LIMIT))
    };
    let up = outcome(0, true);
    assert_eq!((up.result, up.weight), (Ok(()), None));
    assert!(matches!(outcome(1, true).result, Err(Failure::Program(_))));
    let weighed = outcome(12, true);
    assert_eq!((weighed.result, weighed.weight), (Ok(()), Some(10)));
    assert_eq!(
        outcome(2, true).weight,
        Some(0),
        "2 is weight 0: quiesced, still up"
    );
    assert!(
        matches!(outcome(12, false).result, Err(Failure::Program(_))),
        "without dynamic, any status but 0 fails"
    );
}

/// A state file says up, down or a weight; the engine turns its weights
/// into table changes at once, without slow start once the server is up.
#[test]
fn a_state_file_says_up_down_or_a_weight() {
    use lvs_core::nanny::{NannyAction, NannyConfig};
    use lvs_health::engine::{Engine, Update};
    let dir = testkit::TempDir::new("state-file");
    let path = dir.0.join("web1.state");
    let target: SocketAddr = "127.0.0.1:8080".parse().expect("literal");
    let check = Check::File { path: path.clone() };
    let outcome = |text: Option<&str>| {
        match text {
            Some(text) => std::fs::write(&path, text).expect("write"),
            None => {
                let _ = std::fs::remove_file(&path);
            }
        }
        runtime().block_on(lvs_health::run::run_noting(&check, target, LIMIT))
    };
    assert_eq!(outcome(Some("up\n")).result, Ok(()));
    assert_eq!(outcome(Some("UP")).weight, None);
    assert_eq!(outcome(Some(" 7 \n")).weight, Some(7));
    for (text, why) in [
        (Some("down"), "says down"),
        (Some("maybe"), "neither up, down nor a weight"),
        (Some("70000"), "neither up, down nor a weight"),
        (Some(""), "is empty"),
        (None, "No such file"),
    ] {
        match outcome(text).result {
            Err(Failure::File(message)) => assert!(message.contains(why), "{text:?}: {message}"),
            other => panic!("{text:?}: expected a state file failure, got {other:?}"),
        }
    }

    // A FIFO would block the read until someone writes to it.
    let fifo = dir.0.join("fifo");
    let fifo_name = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("path");
    // SAFETY: mkfifo on a path this test owns.
    assert_eq!(unsafe { libc::mkfifo(fifo_name.as_ptr(), 0o600) }, 0);
    let on_fifo = runtime().block_on(lvs_health::run::run_noting(
        &Check::File { path: fifo },
        target,
        LIMIT,
    ));
    assert!(
        matches!(&on_fifo.result, Err(Failure::File(why)) if why.contains("not a regular file")),
        "{on_fifo:?}"
    );

    std::fs::write(&path, "40").expect("write");
    let server = lvs_health::engine::Server {
        id: 1,
        target,
        check: std::sync::Arc::new(check.clone()),
        timeout: Duration::from_millis(300),
        nanny: NannyConfig::piranha(64, Duration::from_millis(50), Duration::from_millis(50)),
        load_command: None,
        adopt: Some(64),
    };
    let seen = runtime().block_on(async move {
        let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Update>();
        let engine = Engine::start(vec![server], sender);
        let mut seen = Vec::new();
        for then in ["down", ""] {
            let action = loop {
                match tokio::time::timeout(Duration::from_secs(3), receiver.recv()).await {
                    Ok(Some(Update {
                        action: NannyAction::Log(_),
                        ..
                    })) => continue,
                    Ok(Some(update)) => break Some(update.action),
                    _ => break None,
                }
            };
            seen.push(action);
            if !then.is_empty() {
                std::fs::write(&path, then).expect("write");
            }
        }
        engine.stop();
        seen
    });
    assert_eq!(
        seen,
        [
            Some(NannyAction::SetWeight { weight: 40 }),
            Some(NannyAction::Remove)
        ]
    );
}

/// A mail server that never ends its reply fails the check; it does not
/// hold it for ever.
#[test]
fn an_endless_mail_reply_fails() {
    use lvs_core::check::{MailCheck, MailProtocol};
    let addr = serve_each(|mut stream| {
        // A greeting continued without end, a line at a time.
        while stream.write_all(b"220-still greeting\r\n").is_ok() {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let greeting = Check::Mail(MailCheck::greeting(MailProtocol::Smtp));
    match check(&greeting, addr) {
        Err(Failure::Greeting(why)) => assert!(why.contains("more than 64 lines"), "{why}"),
        other => panic!("expected a refused greeting, got {other:?}"),
    }
}

/// With a kept connection, a status-only check passes on a body too long
/// to read, and the connection is then not kept.
#[test]
fn a_status_check_passes_on_a_long_body() {
    use lvs_health::run::{run_in, Session};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&connections);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut request = [0u8; 1024];
                while stream.read(&mut request).is_ok_and(|n| n > 0) {
                    let body = vec![b'x'; 2 << 20];
                    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                    if stream.write_all(head.as_bytes()).is_err() || stream.write_all(&body).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let mut http = HttpCheck::get("/");
    http.reuse_connection = true;
    let check = Check::Http(Box::new(http));
    let runtime = runtime();
    let mut session = Session::new();
    for _ in 0..2 {
        let outcome = runtime.block_on(run_in(&mut session, &check, addr, Duration::from_secs(2)));
        assert_eq!(outcome.result, Ok(()));
    }
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "not kept"
    );
}
