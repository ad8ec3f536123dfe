//! A server farm behind LVS directors, in network namespaces: a client,
//! one or two directors and three real web servers.
//!
//! - NAT: the client and the directors share the front bridge; the real
//!   servers sit on a back bridge, routed through `GATEWAY` (the NAT router
//!   address the active director holds).
//! - Direct routing: everyone shares the front bridge; each real server has
//!   the VIP on its loopback and does not answer ARP for it.
//! - Mixed: one service reaches each server another way. rs1 by direct
//!   routing, rs2 by NAT on the back bridge, rs3 on the front bridge by a GUE
//!   tunnel to [`GUE_PORT`], which it decapsulates with the kernel's `fou`
//!   module (`ip fou`) onto `tunl0`, the VIP on its loopback.
//!
//! Each real server answers `GET` with `HTTP/1.0 200 OK` and its name, and
//! echoes any other line back, prefixed with its name, on a connection that
//! stays open: the connection that must survive reloads. A server can be
//! switched off (it accepts and closes at once, so checks fail, while its
//! open connections go on).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::routers::spawn_in;
use crate::{veth, Netns};

pub const VIP: &str = "10.8.0.100";
pub const CLIENT: &str = "10.8.0.10";
/// The directors' own front addresses.
pub const DIRECTORS: [&str; 2] = ["10.8.0.1", "10.8.0.2"];
/// NAT: the back network's gateway, a floating address (`nat_router`).
pub const GATEWAY: &str = "10.8.1.254";
pub const PORT: u16 = 80;
/// Mixed: the UDP port rs3 decapsulates GUE on.
pub const GUE_PORT: u16 = 6080;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Nat,
    DirectRouting,
    Mixed,
}

/// How the director reaches a real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    Nat,
    DirectRouting,
    /// A GUE tunnel to [`GUE_PORT`].
    Gue,
}

impl Reach {
    /// What a server block of lvs.cf says for it, over a global `network = nat`.
    pub fn lvs_cf(self) -> &'static str {
        match self {
            Reach::Nat => "",
            Reach::DirectRouting => "network = direct\n",
            Reach::Gue => "network = tunnel\ntunnel_type = gue\ntunnel_port = 6080\n",
        }
    }
}

/// A real web server.
pub struct RealServer {
    pub name: String,
    pub address: String,
    /// How the director reaches it.
    pub reach: Reach,
    pub ns: Netns,
    up: Arc<AtomicBool>,
}

impl RealServer {
    /// Serving (true) or refusing every new connection (false).
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }
}

pub struct Farm {
    pub mode: Mode,
    pub switch: Netns,
    pub client: Netns,
    pub directors: Vec<Netns>,
    pub servers: Vec<RealServer>,
}

fn serve(listener: TcpListener, name: String, up: Arc<AtomicBool>) {
    for stream in listener.incoming().flatten() {
        if !up.load(Ordering::SeqCst) {
            continue;
        }
        let name = name.clone();
        std::thread::spawn(move || {
            let Ok(reader) = stream.try_clone() else { return };
            let mut writer = stream;
            for line in BufReader::new(reader).lines() {
                let Ok(line) = line else { return };
                if line.starts_with("GET ") {
                    let _ = write!(
                        writer,
                        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n{name}\n"
                    );
                    return;
                }
                if writeln!(writer, "{name}: {line}").is_err() {
                    return;
                }
            }
        });
    }
}

impl Farm {
    /// The farm with `directors` directors (1 or 2), none of them running
    /// anything yet: the VIP and gateway are for their daemons to bring up.
    pub fn new(mode: Mode, directors: usize) -> Farm {
        let switch = Netns::new("farm-sw");
        switch.ip(&["link", "add", "front", "type", "bridge"]);
        switch.ip(&["link", "set", "front", "up"]);
        switch.ip(&["link", "add", "back", "type", "bridge"]);
        switch.ip(&["link", "set", "back", "up"]);
        let plug = |ns: &Netns, device: &str, port: &str, bridge: &str, address: &str| {
            plug(&switch, ns, device, port, bridge, address);
        };
        let client = Netns::new("farm-cl");
        plug(&client, "eth0", "cl", "front", &format!("{CLIENT}/24"));
        let directors: Vec<Netns> = (0..directors).map(|i| director(&switch, mode, i)).collect();
        let servers = (1..=3)
            .map(|i| {
                let name = format!("rs{i}");
                let ns = Netns::new(&format!("farm-{name}"));
                let reach = match (mode, i) {
                    (Mode::Nat, _) | (Mode::Mixed, 2) => Reach::Nat,
                    (Mode::DirectRouting, _) | (Mode::Mixed, 1) => Reach::DirectRouting,
                    (Mode::Mixed, _) => Reach::Gue,
                };
                let address = match reach {
                    Reach::Nat => {
                        let address = format!("10.8.1.{}", 10 + i);
                        plug(&ns, "eth0", &name, "back", &format!("{address}/24"));
                        ns.ip(&["route", "add", "default", "via", GATEWAY]);
                        address
                    }
                    Reach::DirectRouting | Reach::Gue => {
                        let address = format!("10.8.0.{}", 10 + i);
                        plug(&ns, "eth0", &name, "front", &format!("{address}/24"));
                        ns.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "lo"]);
                        for (key, value) in [("arp_ignore", "1"), ("arp_announce", "2")] {
                            for device in ["all", "eth0"] {
                                let _ = ns.exec(
                                    "sysctl",
                                    &["-qw", &format!("net.ipv4.conf.{device}.{key}={value}")],
                                );
                            }
                        }
                        if reach == Reach::Gue {
                            // GUE packets to GUE_PORT come out of tunl0 as the inner packet to the VIP.
                            ns.ip(&["fou", "add", "port", &GUE_PORT.to_string(), "gue"]);
                            ns.ip(&["link", "set", "tunl0", "up"]);
                            for device in ["all", "default", "tunl0"] {
                                let _ = ns
                                    .exec("sysctl", &["-qw", &format!("net.ipv4.conf.{device}.rp_filter=0")]);
                            }
                        }
                        address
                    }
                };
                let up = Arc::new(AtomicBool::new(true));
                let listener = ns.run(|| TcpListener::bind(("0.0.0.0", PORT)).expect("bind the web server"));
                let (serving, label) = (Arc::clone(&up), name.clone());
                spawn_in(&ns, move || serve(listener, label, serving));
                RealServer {
                    name,
                    address,
                    reach,
                    ns,
                    up,
                }
            })
            .collect();
        Farm {
            mode,
            switch,
            client,
            directors,
            servers,
        }
    }

    /// Director `index` reboots: its namespace (with its IPVS table and
    /// connections) is gone and a fresh one takes its place, plugged in as
    /// before. Whatever ran in the old one must have ended.
    pub fn reboot_director(&mut self, index: usize) {
        // Deleting the switch's end deletes the pair at once; the namespace
        // itself goes in the kernel's own time.
        self.switch.ip(&["link", "del", &format!("d{}", index + 1)]);
        if self.mode != Mode::DirectRouting {
            self.switch.ip(&["link", "del", &format!("d{}b", index + 1)]);
        }
        self.directors[index] = director(&self.switch, self.mode, index);
    }

    /// Brings the VIP (and in NAT the gateway) up on `director` by hand, for
    /// tests that run a director without pulse.
    pub fn bring_up(&self, director: usize) {
        let ns = &self.directors[director];
        ns.ip(&["addr", "add", &format!("{VIP}/32"), "dev", "eth0"]);
        if self.mode != Mode::DirectRouting {
            ns.ip(&["addr", "add", &format!("{GATEWAY}/24"), "dev", "eth1"]);
        }
    }

    /// The lvs.cf of director 0 (10.8.0.1) for `virtual web` on the VIP,
    /// port 80, with `scheduler`, the servers `servers` (indexes) at
    /// `weight`, each reached the farm's way, and `extra` lines in the block.
    pub fn lvs_cf(&self, scheduler: &str, servers: &[usize], weight: u32, extra: &str) -> String {
        let network = match self.mode {
            Mode::Nat | Mode::Mixed => format!("network = nat\nnat_router = {GATEWAY} eth1:1\n"),
            Mode::DirectRouting => "network = direct\n".to_owned(),
        };
        let servers: String = servers
            .iter()
            .map(|&i| {
                let server = &self.servers[i];
                // Mixed: each server's own method, over the global NAT.
                let reach = if self.mode == Mode::Mixed {
                    server.reach.lvs_cf()
                } else {
                    ""
                };
                format!(
                    "  server {} {{\n    address = {}\n    active = 1\n    weight = {weight}\n{reach}  }}\n",
                    server.name, server.address
                )
            })
            .collect();
        format!(
            "serial_no = 1\nprimary = 10.8.0.1\nservice = lvs\nbackup_active = 0\n{network}\
             virtual web {{\n  active = 1\n  address = {VIP} eth0:1\n  port = 80\n  scheduler = {scheduler}\n\
             \x20 timeout = 1\n  reentry = 2\n{extra}{servers}}}\n"
        )
    }

    /// The client's `GET /` to the VIP: the name of the server that answered.
    pub fn get(&self) -> Option<String> {
        self.client.run(|| get_here(Duration::from_millis(500)))
    }

    /// `count` requests, one after another; the answers in order (`None` for a failure).
    pub fn gets(&self, count: usize) -> Vec<Option<String>> {
        self.client
            .run(|| (0..count).map(|_| get_here(Duration::from_millis(500))).collect())
    }

    /// A connection to the VIP that stays open (see [`Held::ask`]).
    pub fn hold(&self) -> Held {
        let stream = self.client.run(|| {
            let address: SocketAddr = format!("{VIP}:{PORT}").parse().expect("literal");
            TcpStream::connect_timeout(&address, Duration::from_secs(2)).expect("connect to the VIP")
        });
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .expect("timeout");
        Held {
            reader: BufReader::new(stream.try_clone().expect("clone")),
            stream,
        }
    }
}

/// An open connection through the director.
pub struct Held {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Held {
    /// Sends a line and returns the answer: `"rsN: line"`, or `None` when
    /// the connection is broken.
    pub fn ask(&mut self, line: &str) -> Option<String> {
        writeln!(self.stream, "{line}").ok()?;
        let mut answer = String::new();
        match self.reader.read_line(&mut answer) {
            Ok(n) if n > 0 => Some(answer.trim_end().to_owned()),
            _ => None,
        }
    }

    /// How long [`Held::ask`] waits for an answer (2 s at first).
    pub fn patience(&self, limit: Duration) {
        let _ = self.stream.set_read_timeout(Some(limit));
    }

    /// The server this connection reached.
    pub fn server(&mut self) -> Option<String> {
        self.ask("who")
            .and_then(|a| a.split(':').next().map(str::to_owned))
    }
}

/// Joins `ns`'s `device` to `bridge` of the switch through its port `port`,
/// with `address` on the device.
fn plug(switch: &Netns, ns: &Netns, device: &str, port: &str, bridge: &str, address: &str) {
    veth(ns, device, switch, port);
    switch.ip(&["link", "set", port, "master", bridge]);
    ns.ip(&["addr", "add", address, "dev", device]);
}

/// Director `i`'s namespace, plugged into the front (and, but for direct
/// routing, the back) bridge, forwarding.
fn director(switch: &Netns, mode: Mode, i: usize) -> Netns {
    let ns = Netns::new(&format!("farm-d{}", i + 1));
    plug(
        switch,
        &ns,
        "eth0",
        &format!("d{}", i + 1),
        "front",
        &format!("{}/24", DIRECTORS[i]),
    );
    if mode != Mode::DirectRouting {
        plug(
            switch,
            &ns,
            "eth1",
            &format!("d{}b", i + 1),
            "back",
            &format!("10.8.1.{}/24", i + 1),
        );
    }
    let _ = ns.exec("sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
    ns
}

/// A `GET /` to the VIP from the calling thread's namespace: the name of
/// the server that answered.
pub fn get_here(limit: Duration) -> Option<String> {
    let address: SocketAddr = format!("{VIP}:{PORT}").parse().ok()?;
    let mut stream = TcpStream::connect_timeout(&address, limit).ok()?;
    stream.set_read_timeout(Some(limit)).ok()?;
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    let body = reply.split("\r\n\r\n").nth(1)?;
    Some(body.trim().to_owned())
}
