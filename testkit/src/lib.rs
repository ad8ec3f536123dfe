//! Test support shared by the lvs-rs crates: network namespaces that clean
//! up after themselves, running code inside one, and the rule for tests that
//! need root: in CI they must run, elsewhere they may skip with a reason.
// Test support: a failed set-up is the report, so it may panic and unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

pub mod farm;
pub mod routers;

/// True when the test may go on as root. Outside CI a non-root run prints
/// why the test is skipped and returns false; in CI it fails the test.
pub fn require_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test}: needs root, and CI must run it");
    }
    eprintln!("skipped {test}: needs root (network namespaces, raw sockets)");
    false
}

/// Runs `ip` with `args` and returns its output; panics if it fails, with its stderr.
pub fn ip(args: &[&str]) -> String {
    let output = run("ip", args);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs a command; panics with its stderr if it fails.
pub fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    if !output.status.success() {
        panic!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

/// A network namespace, deleted when dropped.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// A fresh namespace with a unique name built from `prefix`, loopback up.
    pub fn new(prefix: &str) -> Netns {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{prefix}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n NAME args...`
    pub fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// `ip netns exec NAME program args...`, returning the output whatever the status.
    pub fn exec(&self, program: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program} in {}: {e}", self.name))
    }

    /// Starts `program` in this namespace (`ip netns exec`, which becomes the
    /// program) with standard output and error appended to `log`.
    pub fn spawn_logged<S: AsRef<std::ffi::OsStr>>(
        &self,
        program: impl AsRef<std::ffi::OsStr>,
        args: impl IntoIterator<Item = S>,
        log: &std::path::Path,
    ) -> std::process::Child {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("open {}: {e}", log.display()));
        let err = out
            .try_clone()
            .unwrap_or_else(|e| panic!("clone {}: {e}", log.display()));
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .arg(program)
            .args(args)
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start a program in {}: {e}", self.name))
    }

    /// Runs `f` on a thread that has entered this namespace, and returns its result.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
                    // SAFETY: setns on this thread only, with a namespace fd we hold open.
                    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                    assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
                    f()
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// Runs `watch` in this namespace on a thread of its own and, once it has
    /// called the `ready` it is given (say, after opening a capture socket),
    /// runs `act` on the calling thread. Returns both results.
    pub fn watch_while<W: Send, A>(
        &self,
        watch: impl FnOnce(&dyn Fn()) -> W + Send,
        act: impl FnOnce() -> A,
    ) -> (W, A) {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            let watcher = scope.spawn(move || {
                self.run(move || {
                    let ready = move || {
                        let _ = ready_tx.send(());
                    };
                    watch(&ready)
                })
            });
            // If the watcher fails before it is ready, its panic is reported below.
            let _ = ready_rx.recv();
            let acted = act();
            let watched = watcher
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (watched, acted)
        })
    }

    /// The MAC address of `device` in this namespace.
    pub fn mac(&self, device: &str) -> String {
        let out = self.ip(&["-o", "link", "show", device]);
        out.split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1)
            .unwrap_or_else(|| panic!("no MAC for {device}: {out}"))
            .to_owned()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}

/// Joins `a`'s `a_dev` and `b`'s `b_dev` with a veth pair, both up.
pub fn veth(a: &Netns, a_dev: &str, b: &Netns, b_dev: &str) {
    ip(&[
        "link", "add", a_dev, "netns", &a.name, "type", "veth", "peer", "name", b_dev, "netns", &b.name,
    ]);
    a.ip(&["link", "set", a_dev, "up"]);
    b.ip(&["link", "set", b_dev, "up"]);
}

/// A directory under the system's temporary directory, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    /// A fresh directory named after `name`, this process and a counter.
    pub fn new(name: &str) -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "lvs-rs-{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        TempDir(dir)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// A copy of the program at `program` that any user can run, in a fresh
    /// directory every user can enter (under the temporary directory when
    /// each of its ancestors lets others through, else under /tmp): a test
    /// that runs a program as another user must not depend on where the
    /// checkout, and so the build, sits.
    pub fn public_copy(name: &str, program: &std::path::Path) -> (TempDir, std::path::PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let others_pass = |dir: &std::path::Path| {
            dir.ancestors()
                .all(|d| std::fs::metadata(d).is_ok_and(|m| m.permissions().mode() & 0o001 != 0))
        };
        let dir = if others_pass(&std::env::temp_dir()) {
            TempDir::new(name)
        } else {
            let dir = std::path::Path::new("/tmp").join(format!("lvs-rs-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
            TempDir(dir)
        };
        std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", dir.0.display()));
        let copy = dir.0.join(program.file_name().unwrap_or_default());
        std::fs::copy(program, &copy).unwrap_or_else(|e| panic!("copy {}: {e}", program.display()));
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", copy.display()));
        (dir, copy)
    }

    /// Writes an executable script `name` and returns its path.
    pub fn script(&self, name: &str, text: &str) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.file(name, text);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
        path
    }

    /// A stand-in for the lvs daemon that pulse starts: it lives until
    /// SIGTERM and ignores SIGHUP (an ignored signal stays ignored across exec).
    pub fn stand_in_lvsd(&self) -> std::path::PathBuf {
        self.script("lvsd", "#!/bin/sh\ntrap '' HUP\nexec sleep 100000\n")
    }

    /// The lvs daemon `lvs` for a router named `name`, as pulse starts it,
    /// with a socket and pid file of its own in this directory (routers in
    /// namespaces share the file system).
    pub fn lvsd_for(&self, lvs: &std::path::Path, name: &str) -> std::path::PathBuf {
        let dir = self.0.display();
        self.script(
            &format!("lvsd-{name}"),
            &format!(
                "#!/bin/sh\nexec {} \"$@\" --socket {dir}/{name}.sock --pidfile {dir}/{name}.pid\n",
                lvs.display()
            ),
        )
    }

    /// Writes `text` to the file `name` in the directory (a relative path,
    /// its folders made as needed) and returns its path.
    pub fn file(&self, name: &str, text: &str) -> std::path::PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a probe of the kernel found, for [`kernel_lab`].
pub enum KernelProbe {
    Ready,
    /// The kernel lacks the feature (this host has no IPVS).
    NotAvailable,
    /// Something else went wrong: the test fails with this.
    Failed(String),
}

/// The gate of the kernel tests. They need root and a kernel with IPVS:
/// `cargo xtask test` runs them in the lab VM with `LVS_KERNEL_TESTS=1`, and
/// there they must run. Elsewhere they skip with a printed reason. `probe`
/// runs in a fresh namespace named after `prefix`, which is returned.
pub fn kernel_lab(test: &str, prefix: &str, probe: impl FnOnce() -> KernelProbe + Send) -> Option<Netns> {
    let required = std::env::var_os("LVS_KERNEL_TESTS").is_some();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(!required, "{test}: the kernel tests need root");
        eprintln!("skipped {test}: needs root and a kernel with IPVS (cargo xtask test runs it in the VM)");
        return None;
    }
    let ns = Netns::new(prefix);
    match ns.run(probe) {
        KernelProbe::Ready => Some(ns),
        KernelProbe::NotAvailable if !required => {
            eprintln!("skipped {test}: this kernel has no IPVS (cargo xtask test runs it in the VM)");
            None
        }
        KernelProbe::NotAvailable => panic!("{test}: the lab's kernel has no IPVS"),
        KernelProbe::Failed(why) => panic!("{test}: {why}"),
    }
}

/// The median of benchmark samples (the upper one of an even count).
pub fn median(mut samples: Vec<std::time::Duration>) -> std::time::Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

/// A duration in milliseconds, for printing.
pub fn ms(duration: std::time::Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Runs Prometheus's `promtool` (Debian's `prometheus` package, which
/// `cargo xtask test` installs) with `args`, `input` on its standard input.
/// Outside CI a missing promtool prints why the test is skipped and gives
/// `None`; in CI it fails the test.
pub fn promtool(test: &str, args: &[&str], input: &str) -> Option<Output> {
    use std::io::Write as _;
    let child = Command::new("promtool")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if std::env::var_os("CI").is_some() => panic!("{test}: promtool: {e}, and CI must run it"),
        Err(e) => {
            eprintln!("skipped {test}: promtool: {e} (apt-get install prometheus)");
            return None;
        }
    };
    let mut stdin = child.stdin.take().expect("piped");
    stdin.write_all(input.as_bytes()).expect("write to promtool");
    drop(stdin);
    Some(child.wait_with_output().expect("promtool ran"))
}

/// Scrapes a daemon's metrics at `address` (from the calling thread's
/// namespace) and returns its samples by name and labels, after checking
/// the answer: 200, Prometheus's text format, and, where promtool is
/// installed (in CI it must be), promtool's approval, lint included.
pub fn scrape_metrics(what: &str, address: &str) -> std::collections::HashMap<String, f64> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap_or_else(|e| panic!("{what}: {e}"));
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n")
        .expect("ask");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("read");
    let (head, body) = reply.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{what}: {reply}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain; version=0.0.4"),
        "{what}: {head}"
    );
    if let Some(checked) = promtool(what, &["check", "metrics"], body) {
        assert!(
            checked.status.success() && checked.stdout.is_empty() && checked.stderr.is_empty(),
            "{what}: promtool: {}{}\n{body}",
            String::from_utf8_lossy(&checked.stdout),
            String::from_utf8_lossy(&checked.stderr)
        );
    }
    body.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}
