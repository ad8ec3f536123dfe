//! Two LVS routers and a client on one bridge, each in a namespace of its
//! own, for failover tests and benchmarks. In each router namespace a server
//! on [`SERVICE_PORT`] answers every connection with its router's name, so
//! the client sees which router owns the VIP.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::{veth, Netns};

pub const PRIMARY: &str = "10.7.0.1";
pub const BACKUP: &str = "10.7.0.2";
pub const CLIENT: &str = "10.7.0.10";
pub const VIP: &str = "10.7.0.100";
pub const SERVICE_PORT: u16 = 8080;
/// The routers' names, as their servers answer.
pub const NAMES: [&str; 2] = ["r1", "r2"];

pub struct RouterPair {
    pub switch: Netns,
    /// The primary (`PRIMARY` on eth0), then the backup (`BACKUP`).
    pub routers: [Netns; 2],
    pub client: Netns,
}

/// Runs `f` on a thread of its own inside `ns`, for as long as it runs.
pub fn spawn_in(ns: &Netns, f: impl FnOnce() + Send + 'static) {
    let path = format!("/run/netns/{}", ns.name);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        // SAFETY: setns on this thread only, with a namespace fd we hold open.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}");
        let _ = ready_tx.send(());
        f();
    });
    let _ = ready_rx.recv();
}

impl RouterPair {
    pub fn new() -> RouterPair {
        let switch = Netns::new("rp-sw");
        switch.ip(&["link", "add", "br0", "type", "bridge"]);
        switch.ip(&["link", "set", "br0", "up"]);
        let routers = [Netns::new("rp-r1"), Netns::new("rp-r2")];
        let client = Netns::new("rp-cl");
        for (ns, port, address) in [
            (&routers[0], NAMES[0], PRIMARY),
            (&routers[1], NAMES[1], BACKUP),
            (&client, "cl", CLIENT),
        ] {
            veth(ns, "eth0", &switch, port);
            switch.ip(&["link", "set", port, "master", "br0"]);
            ns.ip(&["addr", "add", &format!("{address}/24"), "dev", "eth0"]);
        }
        for (ns, name) in routers.iter().zip(NAMES) {
            let listener = ns.run(|| TcpListener::bind(("0.0.0.0", SERVICE_PORT)).expect("bind the server"));
            spawn_in(ns, move || {
                for mut stream in listener.incoming().flatten() {
                    let _ = stream.write_all(name.as_bytes());
                }
            });
        }
        RouterPair {
            switch,
            routers,
            client,
        }
    }

    /// Whether router `index` has the VIP on eth0.
    pub fn has_vip(&self, index: usize) -> bool {
        self.routers[index]
            .ip(&["-o", "addr", "show", "dev", "eth0"])
            .contains(&format!("inet {VIP}/32"))
    }

    /// Which router answers the client on the VIP within `limit`, if any.
    pub fn answer_within(&self, limit: Duration) -> Option<String> {
        self.client.run(|| ask(limit))
    }

    pub fn answer(&self) -> Option<String> {
        self.answer_within(Duration::from_millis(100))
    }

    /// Asks again and again (each attempt bounded by `attempt`) until router
    /// `index` answers; returns when it did, or `None` after `limit`.
    pub fn first_answer_from(&self, index: usize, attempt: Duration, limit: Duration) -> Option<Instant> {
        let started = Instant::now();
        self.client.run(|| {
            while started.elapsed() < limit {
                if ask(attempt).as_deref() == Some(NAMES[index]) {
                    return Some(Instant::now());
                }
            }
            None
        })
    }

    /// The switch port of router `index` goes down (its NIC loses carrier) or up.
    pub fn cable(&self, index: usize, connected: bool) {
        self.switch
            .ip(&["link", "set", NAMES[index], if connected { "up" } else { "down" }]);
    }
}

impl Default for RouterPair {
    fn default() -> Self {
        RouterPair::new()
    }
}

/// One request to the VIP from the calling thread's namespace.
fn ask(limit: Duration) -> Option<String> {
    ask_at(VIP, limit)
}

/// One request to `vip` from the calling thread's namespace.
fn ask_at(vip: &str, limit: Duration) -> Option<String> {
    let address: SocketAddr = format!("{vip}:{SERVICE_PORT}").parse().ok()?;
    let mut stream = TcpStream::connect_timeout(&address, limit).ok()?;
    stream.set_read_timeout(Some(Duration::from_millis(100))).ok()?;
    let mut name = String::new();
    stream.read_to_string(&mut name).ok()?;
    Some(name)
}

/// Any number of routers and a client on one bridge (for VIP groups): router
/// `i` is `10.8.0.{i + 1}` on eth0 in namespace `PREFIX-r{i + 1}`, the
/// client `10.8.0.10`, and each router serves its name (`r1`, `r2`, ...)
/// on [`SERVICE_PORT`], so the client sees which router holds a VIP.
pub struct RouterLan {
    pub switch: Netns,
    pub routers: Vec<Netns>,
    pub client: Netns,
}

impl RouterLan {
    /// The address of router `index`.
    pub fn address(index: usize) -> String {
        format!("10.8.0.{}", index + 1)
    }

    /// The name router `index` answers with.
    pub fn name(index: usize) -> String {
        format!("r{}", index + 1)
    }

    pub fn new(prefix: &str, count: usize) -> RouterLan {
        let switch = Netns::new(&format!("{prefix}-sw"));
        switch.ip(&["link", "add", "br0", "type", "bridge"]);
        switch.ip(&["link", "set", "br0", "up"]);
        let routers: Vec<Netns> = (0..count)
            .map(|i| Netns::new(&format!("{prefix}-r{}", i + 1)))
            .collect();
        let client = Netns::new(&format!("{prefix}-cl"));
        let ports: Vec<(String, String)> = (0..count)
            .map(|i| (RouterLan::name(i), RouterLan::address(i)))
            .chain([("cl".to_owned(), "10.8.0.10".to_owned())])
            .collect();
        for (ns, (port, address)) in routers.iter().chain([&client]).zip(&ports) {
            veth(ns, "eth0", &switch, port);
            switch.ip(&["link", "set", port, "master", "br0"]);
            ns.ip(&["addr", "add", &format!("{address}/24"), "dev", "eth0"]);
        }
        for (i, ns) in routers.iter().enumerate() {
            let listener = ns.run(|| TcpListener::bind(("0.0.0.0", SERVICE_PORT)).expect("bind the server"));
            let name = RouterLan::name(i);
            spawn_in(ns, move || {
                for mut stream in listener.incoming().flatten() {
                    let _ = stream.write_all(name.as_bytes());
                }
            });
        }
        RouterLan {
            switch,
            routers,
            client,
        }
    }

    /// Whether router `index` has `vip` on eth0.
    pub fn has(&self, index: usize, vip: &str) -> bool {
        self.routers[index]
            .ip(&["-o", "addr", "show", "dev", "eth0"])
            .contains(&format!("inet {vip}/"))
    }

    /// The routers holding `vip`.
    pub fn holders(&self, vip: &str) -> Vec<usize> {
        (0..self.routers.len()).filter(|&i| self.has(i, vip)).collect()
    }

    /// Which router answers the client on `vip`, if any within 100 ms.
    pub fn answer(&self, vip: &str) -> Option<String> {
        let vip = vip.to_owned();
        self.client.run(move || ask_at(&vip, Duration::from_millis(100)))
    }

    /// Asks `vip` again and again (each try bounded by `attempt`) until
    /// router `index` answers; returns when it did, or `None` after `limit`.
    pub fn first_answer_from(
        &self,
        index: usize,
        vip: &str,
        attempt: Duration,
        limit: Duration,
    ) -> Option<Instant> {
        let (name, vip) = (RouterLan::name(index), vip.to_owned());
        let started = Instant::now();
        self.client.run(move || {
            while started.elapsed() < limit {
                if ask_at(&vip, attempt).as_deref() == Some(name.as_str()) {
                    return Some(Instant::now());
                }
            }
            None
        })
    }

    /// Asks `vip` again and again (each try bounded by `attempt`) until
    /// `until`: when each answer came, and from which router (`None`: no
    /// answer within the try).
    pub fn watch(&self, vip: &str, attempt: Duration, until: Instant) -> Vec<(Instant, Option<String>)> {
        let vip = vip.to_owned();
        self.client.run(move || {
            let mut answers = Vec::new();
            while Instant::now() < until {
                let answer = ask_at(&vip, attempt);
                answers.push((Instant::now(), answer));
            }
            answers
        })
    }

    /// The switch port of router `index` goes down or up.
    pub fn cable(&self, index: usize, connected: bool) {
        self.switch.ip(&[
            "link",
            "set",
            &RouterLan::name(index),
            if connected { "up" } else { "down" },
        ]);
    }
}
