//! `lvs --nanny-processes`: Piranha's model, a `nanny` process per real
//! server, for sites that depend on it. lvs starts each with lvsd's argument
//! list (reference §3.3), each nanny adds and removes its own server, lvs
//! counts their `[ active ]`/`[inactive]` lines for the sorry server, and a
//! nanny that dies stops lvs when `hard_shutdown = 1`.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::process::Stdio;

use lvs_cf::{Config, Network, Protocol, RealServer, VirtualService};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc::UnboundedSender;

/// Seconds as nanny's integer options take them: fractions round up.
fn whole_seconds(duration: std::time::Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

/// lvsd's argument list for the nanny of `server` in `vs` (reference §3.3),
/// plus lvs-rs's `--failures`, `--check-interval` and `--ipvs` when the file sets them.
pub fn argv(
    config: &Config,
    vs: &VirtualService,
    server: &RealServer,
    rip: IpAddr,
    vip: &str,
    verbose: bool,
    foreground: bool,
) -> Vec<String> {
    let mut argv = vec![
        vs.client_monitor.clone(),
        "-c".into(),
        "-h".into(),
        rip.to_string(),
        "-p".into(),
        vs.port.to_string(),
        "-r".into(),
        vs.server_port(server).to_string(),
    ];
    if vs.fwmark != 0 {
        argv.extend(["-f".into(), vs.fwmark.to_string()]);
    }
    if vs.protocol == Protocol::Udp {
        argv.push("-u".into());
    }
    for (flag, text) in [("-e", &vs.send_program), ("-s", &vs.send), ("-x", &vs.expect)] {
        if let Some(text) = text {
            argv.extend([flag.into(), text.value.clone()]);
        }
    }
    if vs.quiesce_server {
        argv.push("-q".into());
    }
    if vs.use_regex {
        argv.push("--regex".into());
    }
    if verbose {
        argv.push("-v".into());
    }
    let method = match vs.network_of(server, config.network) {
        Network::Nat => "m",
        Network::Direct => "g",
        Network::Tunnel => "i",
    };
    argv.extend([
        "-a".into(),
        vs.reentry.to_string(),
        "-I".into(),
        config.ipvsadm.clone(),
        "-t".into(),
        whole_seconds(vs.timeout.as_duration()).to_string(),
        "-w".into(),
        server.weight.to_string(),
        "-V".into(),
        vip.to_owned(),
        "-M".into(),
        method.into(),
    ]);
    if let Some(monitor) = &vs.load_monitor {
        let command = if monitor == "uptime" {
            &config.rsh_command
        } else {
            monitor
        };
        argv.extend(["-U".into(), command.clone()]);
    }
    if vs.failure_count != 1 {
        argv.extend(["--failures".into(), vs.failure_count.to_string()]);
    }
    if let Some(interval) = vs.check_interval {
        argv.extend([
            "--check-interval".into(),
            interval.as_duration().as_secs_f64().to_string(),
        ]);
    }
    // The server's IPVS settings beyond -M, as lvs.cf writes them (tunnel
    // keys only for a tunnelled server).
    let tunnelled = vs.network_of(server, config.network) == Network::Tunnel;
    for (key, value) in vs.options_of(server).entries() {
        if key != "network" && (tunnelled || !key.starts_with("tunnel_")) {
            argv.extend(["--ipvs".into(), format!("{key}={value}")]);
        }
    }
    if foreground || vs.sorry_server.is_some() {
        argv.push("--nodaemon".into());
    }
    argv.push("--lvs".into());
    argv
}

/// What a nanny said or did, for the daemon's loop.
#[derive(Debug)]
pub enum NannyNews {
    /// `[ active ]` (true) or `[inactive]` (false) from the nanny of this service and server.
    Status {
        /// The virtual service's block name.
        service: String,
        /// The server's block name.
        server: String,
        /// Whether it said active.
        active: bool,
    },
    /// Another line of its output, to log.
    Line(String),
    /// It exited.
    Died {
        /// The virtual service's block name.
        service: String,
        /// The server's block name.
        server: String,
        /// How it ended.
        status: String,
    },
}

struct Running {
    child: Child,
    service: String,
    server: String,
}

/// The nanny processes, keyed by their argument lists: a reload keeps the
/// nannies whose arguments did not change.
#[derive(Default)]
pub struct Nannies {
    running: HashMap<Vec<String>, Running>,
}

impl Nannies {
    /// Starts the nanny `argv` for `service`/`server` unless it runs already.
    /// Its output lines and its death are sent to `news`.
    pub fn start(
        &mut self,
        argv: Vec<String>,
        service: &str,
        server: &str,
        news: &UnboundedSender<NannyNews>,
    ) -> Result<u32, String> {
        if let Some(running) = self.running.get(&argv) {
            return Ok(running.child.id().unwrap_or(0));
        }
        let Some((program, args)) = argv.split_first() else {
            return Err("empty nanny command".into());
        };
        let mut command = Command::new(program);
        // Its lines come with their priorities, to be logged at their severity.
        crate::service::without_manager(&mut command)
            .args(args)
            .env(crate::log::PRIORITIES_VARIABLE, "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        // SAFETY: prctl(2) in the child before exec: only async-signal-safe work.
        unsafe {
            command.pre_exec(|| {
                // Nannies die with lvs (Piranha's bz522230).
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot run {program}: {e}"))?;
        let pid = child.id().unwrap_or(0);
        if let Some(stdout) = child.stdout.take() {
            let (news, service, server) = (news.clone(), service.to_owned(), server.to_owned());
            tokio::spawn(async move {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let status = if line.contains("[ active ]") {
                        Some(true)
                    } else if line.contains("[inactive]") {
                        Some(false)
                    } else {
                        None
                    };
                    let _ = news.send(NannyNews::Line(line));
                    if let Some(active) = status {
                        let _ = news.send(NannyNews::Status {
                            service: service.clone(),
                            server: server.clone(),
                            active,
                        });
                    }
                }
            });
        }
        self.running.insert(
            argv,
            Running {
                child,
                service: service.to_owned(),
                server: server.to_owned(),
            },
        );
        Ok(pid)
    }

    /// Stops (SIGTERM, then waits) every nanny whose arguments are not in
    /// `keep`; each removes its own server as it goes.
    pub async fn stop_except(&mut self, keep: &[Vec<String>]) {
        let gone: Vec<Vec<String>> = self
            .running
            .keys()
            .filter(|argv| !keep.contains(argv))
            .cloned()
            .collect();
        for argv in gone {
            if let Some(mut running) = self.running.remove(&argv) {
                if let Some(pid) = running.child.id().and_then(|p| i32::try_from(p).ok()) {
                    // SAFETY: kill(2) on our own child, not yet reaped.
                    unsafe { libc::kill(pid, libc::SIGTERM) };
                }
                let _ = running.child.wait().await;
            }
        }
    }

    /// Waits for the first nanny to exit; pending while none runs.
    pub async fn next_death(&mut self) -> NannyNews {
        if self.running.is_empty() {
            return std::future::pending().await;
        }
        let (argv, status) = std::future::poll_fn(|cx| {
            for (argv, running) in self.running.iter_mut() {
                let wait = std::pin::pin!(running.child.wait());
                if let std::task::Poll::Ready(status) = wait.poll(cx) {
                    return std::task::Poll::Ready((argv.clone(), status));
                }
            }
            std::task::Poll::Pending
        })
        .await;
        let running = self.running.remove(&argv);
        let (service, server) = running.map(|r| (r.service, r.server)).unwrap_or_default();
        let status = match status {
            Ok(status) => status.to_string(),
            Err(e) => e.to_string(),
        };
        NannyNews::Died {
            service,
            server,
            status,
        }
    }

    /// How many run.
    pub fn len(&self) -> usize {
        self.running.len()
    }

    /// Whether none runs.
    pub fn is_empty(&self) -> bool {
        self.running.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// lvsd's argument list for the first server of `config`'s first
    /// service, at 10.0.1.1 behind the VIP 10.0.0.100.
    fn first_servers_argv(config: &Config) -> Vec<String> {
        let vs = &config.virtual_services[0];
        argv(
            config,
            vs,
            &vs.servers[0],
            "10.0.1.1".parse().expect("ip"),
            "10.0.0.100",
            false,
            false,
        )
    }

    #[test]
    fn lvsds_argument_list() {
        let config = lvs_cf::parse(
            "network = direct\nvirtual web {\n active = 1\n address = 10.0.0.100 eth0:1\n port = 80\n\
             send = \"GET / HTTP/1.0\\r\\n\\r\\n\"\n expect = \"HTTP\"\n use_regex = 0\n timeout = 6\n reentry = 15\n\
             quiesce_server = 1\n sorry_server = 10.0.0.99\n\
             server a {\n  address = 10.0.1.1\n  active = 1\n  weight = 3\n }\n}\n",
        )
        .expect("valid")
        .config;
        let argv = first_servers_argv(&config);
        assert_eq!(
            argv,
            [
                "/usr/sbin/nanny",
                "-c",
                "-h",
                "10.0.1.1",
                "-p",
                "80",
                "-r",
                "80",
                "-s",
                "GET / HTTP/1.0\\r\\n\\r\\n",
                "-x",
                "HTTP",
                "-q",
                "-a",
                "15",
                "-I",
                "/sbin/ipvsadm",
                "-t",
                "6",
                "-w",
                "3",
                "-V",
                "10.0.0.100",
                "-M",
                "g",
                "--nodaemon",
                "--lvs"
            ]
        );
    }

    #[test]
    fn a_servers_ipvs_settings_go_to_its_nanny() {
        let config = lvs_cf::parse(
            "network = nat\nvirtual web {\n active = 1\n address = 10.0.0.100 eth0:1\n port = 80\n\
             upper_threshold = 9\n lower_threshold = 4\n\
             server a {\n  address = 10.0.1.1\n  active = 1\n  network = tunnel\n  tunnel_type = gue\n\
               tunnel_port = 6080\n }\n}\n",
        )
        .expect("valid")
        .config;
        let argv = first_servers_argv(&config);
        let after = |flag: &str| {
            argv.windows(2)
                .filter(|pair| pair[0] == flag)
                .map(|pair| pair[1].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(after("-M"), ["i"]);
        assert_eq!(
            after("--ipvs"),
            [
                "tunnel_type=gue",
                "tunnel_port=6080",
                "upper_threshold=9",
                "lower_threshold=4"
            ]
        );
        // What nanny reads back from them is what lvs would enter itself.
        let entries: Vec<String> = std::iter::once("network = tunnel".to_owned())
            .chain(after("--ipvs"))
            .collect();
        let entries: Vec<&str> = entries.iter().map(String::as_str).collect();
        let (options, warnings) = lvs_cf::server_options(&entries).expect("valid");
        assert!(warnings.is_empty(), "{warnings:?}");
        let vs = &config.virtual_services[0];
        assert_eq!(options, vs.options_of(&vs.servers[0]));
    }
}
