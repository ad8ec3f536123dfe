//! The project's own tasks, run as `cargo xtask <task>`:
//!
//! - `test`: everything CI runs: formatting, lints, every host and namespace
//!   test, then every kernel test in one boot of the kernel test lab.
//! - `demo`: the lab demo (the README's main job): two routers running pulse
//!   and lvs, three web servers and a client in the lab, with a server
//!   failing and returning and the active router failing over.
//! - `bench NAME`: a benchmark (see docs/benchmarks.md).
//! - `soak [SECONDS]`: the director's soak test in the lab, for SECONDS
//!   (300 by default; `test` runs it for 60): flapping servers, reloads and
//!   status clients, then the table, memory and log checked.
//! - `vm -- CMD`: boot the lab and run CMD in it (IPVS modules loaded).
//! - `man`: regenerate the man pages in `docs/man` from the argument definitions.
//!
//! The kernel test lab: this machine's kernel has no IPVS, so kernel tests run
//! in a QEMU guest booted with virtme-ng from Debian's kernel, which sees the
//! host's files (read-only, but for a scratch folder) and so the test binaries
//! built here.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("man") => man(),
        Some("systemd") => systemd_lab_tests().map(|_| ()),
        Some("package") => package().map(|deb| println!("{}", deb.display())),
        Some("demo") => demo(),
        Some("bench") => bench(args.get(1).map(String::as_str)),
        Some("soak") => soak(args.get(1).map(String::as_str)),
        Some("vm") => {
            let command: Vec<String> = args.iter().skip(1).skip_while(|a| *a == "--").cloned().collect();
            if command.is_empty() {
                Err("usage: cargo xtask vm -- CMD [ARGS...]".to_owned())
            } else {
                vm(&command.join(" "))
            }
        }
        _ => {
            eprintln!("usage: cargo xtask <test|demo|package|systemd|bench|vm|man>\n\n  test         formatting, lints and every test (what CI runs)\n  demo         the lab demo: two routers, three web servers, a client, failures and failover\n  package      the Debian package (cargo-deb), checked by lintian\n  systemd      the package installed, run and purged on Debian booted with systemd (QEMU)\n  bench NAME   a benchmark: cf, ipvs, ipvsadm, health, failover, reload, checks, history\n  soak [SECS]  the director's soak test in the lab (300 s by default)\n  vm -- CMD    run CMD in the kernel test lab\n  man          regenerate docs/man from the argument definitions");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    command.current_dir(workspace_root());
    // A clean clone in CI builds everything once: incremental state would
    // only take disk (it was half of the target directory).
    if std::env::var_os("CI").is_some() && std::env::var_os("CARGO_INCREMENTAL").is_none() {
        command.env("CARGO_INCREMENTAL", "0");
    }
    command
}

/// Runs one step, printing what it is and how long it took.
fn step(name: &str, mut command: Command) -> Result<(), String> {
    println!("==> {name}");
    let started = Instant::now();
    let status = command
        .status()
        .map_err(|e| format!("{name}: cannot run {command:?}: {e}"))?;
    println!(
        "<== {name}: {} in {:.1}s",
        if status.success() { "ok" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
    if status.success() {
        Ok(())
    } else {
        Err(format!("{name} failed ({status})"))
    }
}

/// Test counts read from cargo test's `test result:` lines.
#[derive(Debug, Default)]
struct Counts {
    passed: u64,
    failed: u64,
}

impl Counts {
    fn add_line(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else {
            return;
        };
        let number_before = |word: &str| {
            rest.split(';')
                .filter_map(|part| part.trim().strip_suffix(word))
                .find_map(|n| n.trim().rsplit(' ').next().and_then(|n| n.parse::<u64>().ok()))
                .unwrap_or(0)
        };
        self.passed += number_before("passed");
        self.failed += number_before("failed");
    }
}

/// Runs a test command, passing its output through and counting its tests.
fn counted_step(name: &str, mut command: Command) -> Result<Counts, String> {
    use std::io::{BufRead, BufReader};
    println!("==> {name}");
    let started = Instant::now();
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("{name}: cannot run {command:?}: {e}"))?;
    let mut counts = Counts::default();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // The lab's console adds terminal control sequences and padding.
            let line: String = line.chars().filter(|c| !c.is_control() || *c == '\t').collect();
            let line = line.trim_start();
            if line.is_empty() {
                continue;
            }
            println!("{line}");
            counts.add_line(line);
        }
    }
    let status = child.wait().map_err(|e| format!("{name}: {e}"))?;
    println!(
        "<== {name}: {} in {:.1}s",
        if status.success() { "ok" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
    if status.success() {
        Ok(counts)
    } else {
        Err(format!(
            "{name} failed ({status}): {} passed, {} failed",
            counts.passed, counts.failed
        ))
    }
}

/// Installs the Debian packages whose commands are missing.
fn ensure_commands(needed: &[(&str, &str)]) -> Result<(), String> {
    let missing: Vec<&str> = needed
        .iter()
        .filter(|(command, _)| !command_exists(command))
        .map(|&(_, package)| package)
        .collect();
    install_packages(&missing)
}

/// `apt-get install` (as root, after an update) of `packages`, if any.
fn install_packages(packages: &[&str]) -> Result<(), String> {
    if packages.is_empty() {
        return Ok(());
    }
    println!("==> installing {}", packages.join(" "));
    let mut update = Command::new("apt-get");
    update.arg("update");
    step("apt-get update", update)?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive");
    step("apt-get install", install)
}

fn test() -> Result<(), String> {
    // Namespace tests drive iproute2; lvs-web's browser test drives Chromium;
    // the health checks' tests run real servers (and make no certificates
    // with openssl: rcgen does that in the test).
    ensure_commands(&[
        ("ip", "iproute2"),
        ("chromium", "chromium"),
        ("chromedriver", "chromium-driver"),
        ("nginx", "nginx-light"),
        ("dnsmasq", "dnsmasq-base"),
        ("aiosmtpd", "python3-aiosmtpd"),
        ("dovecot", "dovecot-imapd"),
        ("/usr/lib/dovecot/pop3", "dovecot-pop3d"),
        ("sysctl", "procps"),
        // The VM test of a cut-over from keepalived's table.
        ("keepalived", "keepalived"),
        // Prometheus's checker of the metrics and of the alert rules in docs/monitoring.
        ("promtool", "prometheus"),
    ])?;

    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    step("cargo fmt --check", fmt)?;

    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]);
    step("cargo clippy", clippy)?;

    let mut doc = cargo();
    doc.args(["doc", "--workspace", "--no-deps", "--all-features"])
        .env("RUSTDOCFLAGS", "-D warnings");
    step("cargo doc (warnings denied)", doc)?;

    rooms_keep_their_rules()?;

    // Every library crate packages for crates.io, built from its package alone.
    forget_packaged_sources();
    let mut package = cargo();
    package.args([
        "package",
        "--workspace",
        "--exclude",
        "testkit",
        "--exclude",
        "xtask",
        "--allow-dirty",
    ]);
    step("cargo package", package)?;

    let mut tests = cargo();
    tests.args(["test", "--workspace", "--all-features"]);
    let host = counted_step("cargo test (host)", tests)?;

    // The fuzz target runs under cargo-fuzz with a nightly toolchain; here it
    // must at least keep compiling against the parser's API.
    let mut fuzz = cargo();
    fuzz.args(["check", "--manifest-path", "lvs-cf/fuzz/Cargo.toml"]);
    step("cargo check (fuzz target)", fuzz)?;

    let kernel = kernel_lab_tests()?;
    let systemd = systemd_lab_tests()?;
    println!(
        "{} passed, {} failed",
        host.passed + kernel.passed + systemd.passed,
        host.failed + kernel.failed + systemd.failed
    );
    Ok(())
}

/// Crates `lvs-core` must never depend on: it makes decisions only (no
/// runtime, no system calls, no sockets, no check runners).
const NOT_IN_THE_CORE: &[&str] = &[
    "tokio",
    "libc",
    "neli",
    "mio",
    "lvs-health",
    "lvs-arp",
    "pnet_packet",
];
/// Crates the programs other than the web tool build without (hyper's
/// client is in every program: the HTTP checks speak through it).
const ONLY_FOR_THE_WEB: &[&str] = &["axum", "argon2"];

/// The rooms keep their rules: `lvs-core` depends on no IO crate, and
/// `lvs-cli` without its `web` feature builds no web stack.
fn rooms_keep_their_rules() -> Result<(), String> {
    tree_lacks(&["-p", "lvs-core"], NOT_IN_THE_CORE)?;
    tree_lacks(&["-p", "lvs-cli", "--no-default-features"], ONLY_FOR_THE_WEB)
}

/// `cargo tree ARGS -e normal` holds none of `banned`.
fn tree_lacks(args: &[&str], banned: &'static [&'static str]) -> Result<(), String> {
    let what = args.join(" ");
    println!("==> the dependencies of {what}");
    let output = cargo()
        .arg("tree")
        .args(args)
        .args(["-e", "normal", "--prefix", "none", "--format", "{p}"])
        .output()
        .map_err(|e| format!("cannot run cargo tree: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo tree failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let tree = String::from_utf8_lossy(&output.stdout);
    let found = named_in(&tree, banned);
    if found.is_empty() {
        println!(
            "<== the dependencies of {what}: ok (none of {})",
            banned.join(", ")
        );
        Ok(())
    } else {
        Err(format!("{what} depends on {}:\n{tree}", found.join(", ")))
    }
}

/// The crates of `banned` that a `cargo tree --prefix none` listing names.
fn named_in(tree: &str, banned: &'static [&'static str]) -> Vec<&'static str> {
    banned
        .iter()
        .copied()
        .filter(|name| {
            tree.lines()
                .any(|line| line.split_whitespace().next() == Some(*name))
        })
        .collect()
}

fn man() -> Result<(), String> {
    let docs = workspace_root().join("docs");
    let files = lvs_cli::generated::files(&docs).map_err(|e| e.to_string())?;
    for file in files {
        let path = docs.join(&file.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        std::fs::write(&path, &file.contents).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

const LAB_DIR: &str = "/tmp/lvs-lab";
/// The kernel test runs, in order: `(package, test target, test arguments)`.
const KERNEL_TESTS: &[(&str, &str, &str)] = &[
    ("lvs-ipvs", "kernel", "--test-threads=2"),
    ("lvs-cli", "nanny_kernel", "--test-threads=2"),
    ("lvs-cli", "ipvsadm_kernel", ""),
    ("lvs-cli", "pulse_kernel", ""),
    ("lvs-cli", "failback_kernel", "--test-threads=1"),
    ("lvs-cli", "director_kernel", "--test-threads=1"),
    // The browser's test with real traffic; the host runs the others.
    ("lvs-cli", "web_browser", "lab_"),
];
/// Examples that must run in the lab: `(package, example)`.
const LAB_EXAMPLES: &[(&str, &str)] = &[
    ("lvs-ipvs", "add_service"),
    ("lvs-daemon", "embed"),
    ("lvs-cli", "demo"),
];
/// Loaded before anything runs in the lab; a missing one is reported, not fatal.
const LAB_MODULES: &[&str] = &[
    "ip_vs_rr",
    "ip_vs_wrr",
    "ip_vs_lc",
    "ip_vs_wlc",
    "ip_vs_lblc",
    "ip_vs_lblcr",
    "ip_vs_dh",
    "ip_vs_sh",
    "ip_vs_sed",
    "ip_vs_nq",
    "ip_vs_fo",
    "ip_vs_ovf",
    "ip_vs_mh",
    "ip_vs_twos",
    "ip_vs_pe_sip",
    "veth",
    "dummy",
    // GUE decapsulation on a tunnelled real server.
    "fou",
    "ipip",
];

/// The lab's tools: QEMU, a Debian kernel with IPVS modules, ipvsadm, kmod,
/// and virtme-ng (from PyPI).
fn ensure_lab_tools() -> Result<PathBuf, String> {
    ensure_commands(&[
        ("qemu-system-x86_64", "qemu-system-x86"),
        ("ipvsadm", "ipvsadm"),
        ("modprobe", "kmod"),
        // virtme-ng's judge of its busybox (see static_busybox_on).
        ("file", "file"),
        // A real server for the checks' tests.
        ("nginx", "nginx-light"),
    ])?;
    let path = std::env::var_os("PATH").unwrap_or_default();
    if !static_busybox_on(&path) {
        // It replaces a dynamically linked busybox (initramfs-tools pulls one in).
        install_packages(&["busybox-static"])?;
        if !static_busybox_on(&path) {
            return Err(
                "virtme-ng needs a statically linked busybox, and the one it finds is not, \
                        even after installing busybox-static"
                    .to_owned(),
            );
        }
    }
    if find_kernel().is_none() {
        install_packages(&["linux-image-amd64"])?;
    }
    if !command_exists("vng") {
        let mut pip = Command::new("python3");
        pip.args(["-m", "pip", "install", "--quiet", "virtme-ng==1.42"]);
        step("pip install virtme-ng", pip)?;
    }
    find_kernel().ok_or_else(|| "no /boot/vmlinuz-* kernel after installing linux-image-amd64".to_owned())
}

/// The names virtme-ng looks busybox up by, in its order.
const BUSYBOX_NAMES: [&str; 3] = ["busybox-static", "busybox.static", "busybox"];

/// The directories virtme-ng looks in after `PATH`.
const BUSYBOX_DIRS: [&str; 6] = [
    "/usr/local/bin",
    "/usr/local/sbin",
    "/usr/bin",
    "/usr/sbin",
    "/bin",
    "/sbin",
];

/// Whether virtme-ng, searching `path` (a `PATH` value), finds a statically
/// linked busybox, which it needs to boot the lab: it takes the first of
/// [`BUSYBOX_NAMES`] it finds, in `PATH` then in [`BUSYBOX_DIRS`], and
/// refuses it unless `file -L` says it is statically linked. Debian's
/// `busybox` package is dynamically linked; `busybox-static` replaces it.
fn static_busybox_on(path: &std::ffi::OsStr) -> bool {
    let found = BUSYBOX_NAMES.iter().find_map(|name| {
        std::env::split_paths(path)
            .chain(BUSYBOX_DIRS.iter().map(PathBuf::from))
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    found.is_some_and(|busybox| {
        Command::new("file")
            .args(["-L", "-b"])
            .arg(&busybox)
            .output()
            .is_ok_and(|out| said_static(&String::from_utf8_lossy(&out.stdout)))
    })
}

/// Whether `file`'s description is of a statically linked program (as
/// virtme-ng reads it).
fn said_static(description: &str) -> bool {
    description.contains("statically linked") || description.contains("static-pie linked")
}

fn command_exists(command: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {command}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The newest Debian kernel in /boot.
fn find_kernel() -> Option<PathBuf> {
    let mut kernels: Vec<PathBuf> = std::fs::read_dir("/boot")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-"))
        })
        .collect();
    kernels.sort();
    kernels.pop()
}

/// Builds cargo targets and returns the executables of the targets of `kind`
/// (`test`, `example`, `bench`), from cargo's JSON messages; the package's
/// binaries, built along, are left out.
fn build_executables(kind: &str, args: &[&str]) -> Result<Vec<PathBuf>, String> {
    let output = cargo()
        .args(args)
        .arg("--message-format=json-render-diagnostics")
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("cargo {} failed", args.join(" ")));
    }
    let mut executables = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(path) = message.get("executable").and_then(|e| e.as_str()) else {
            continue;
        };
        let kinds = message.pointer("/target/kind").and_then(|k| k.as_array());
        if kinds.is_some_and(|kinds| kinds.iter().any(|k| k.as_str() == Some(kind))) {
            executables.push(PathBuf::from(path));
        }
    }
    Ok(executables)
}

/// `text` as one shell word: in single quotes, each `'` as `'\''`.
fn shell_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// The build directory of cargo's `profile` (`debug`, `release`).
fn profile_dir(profile: &str) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join(profile)
}

/// Guest shell lines that run the programs in `dirs` (cargo profile
/// directories: `lvs`, `pulse`, `nanny`...) from copies in the guest's
/// memory, each bind-mounted over its own path.
///
/// The guest reads the host's files over 9p, mounted `sync` with no page
/// cache: every start of a program reads its file anew, and a 40 MB debug
/// build takes 2 s and more to start (0.4 s from memory). Tests that start
/// a daemon and time what follows (a failover's lvs daemon) waited on that.
fn staged_programs(dirs: &[PathBuf]) -> String {
    let mut lines = String::from("mkdir -p /run/lvs-programs\n");
    for (index, dir) in dirs.iter().enumerate() {
        lines.push_str(&format!(
            "mkdir -p /run/lvs-programs/{index}\n\
             for program in {}/*; do\n  \
             if [ -f \"$program\" ] && [ -x \"$program\" ]; then\n    \
             copy=/run/lvs-programs/{index}/$(basename \"$program\")\n    \
             cp \"$program\" \"$copy\" && mount --bind \"$copy\" \"$program\" || {{ rm -f \"$copy\"; echo \"lab: $program runs from the host's file\"; }}\n  \
             fi\n\
             done\n",
            shell_quoted(&dir.to_string_lossy())
        ));
    }
    lines
}

/// Writes the guest script: load modules, stage the programs of the cargo
/// profiles `profiles` (see [`staged_programs`]), then run `body`.
fn lab_script(body: &str, profiles: &[&str]) -> Result<PathBuf, String> {
    std::fs::create_dir_all(LAB_DIR).map_err(|e| format!("cannot create {LAB_DIR}: {e}"))?;
    let modules = LAB_MODULES.join(" ");
    let dirs: Vec<PathBuf> = profiles.iter().map(|profile| profile_dir(profile)).collect();
    let staged = staged_programs(&dirs);
    let script = format!(
        "#!/bin/bash\nset -u\nmodprobe ip_vs || {{ echo 'lab: cannot load ip_vs'; exit 3; }}\n\
         for m in {modules}; do modprobe \"$m\" 2>/dev/null || echo \"lab: no module $m\"; done\n\
         echo \"lab: kernel $(uname -r), $(nproc) cpus\"\n\
         # The checkout is read-only in the guest: screenshots go to the lab's folder.\n\
         export LVS_WEB_SCREENSHOTS={LAB_DIR}/web-screenshots\n{staged}{body}\n"
    );
    let path = PathBuf::from(LAB_DIR).join("run.sh");
    std::fs::write(&path, script).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// The command that boots the lab and runs `script` in it. vng's standard
/// error joins its output and its input is empty: it reopens the terminal it
/// is given, which would truncate a log file that stands in for one.
fn lab_command(kernel: &Path, script: &Path) -> Command {
    let vng = format!(
        // A guest under KVM hangs at boot on these machines; TCG works.
        "exec vng --disable-kvm --memory 2G --cpus 2 --rwdir {LAB_DIR} --run {} --exec 'bash {}' 2>&1",
        kernel.display(),
        script.display()
    );
    let mut command = Command::new("sh");
    command
        .current_dir(workspace_root())
        .args(["-c", &vng])
        .stdin(std::process::Stdio::null());
    command
}

/// Removes what an earlier `cargo package --workspace` extracted of this
/// workspace's crates. Cargo verifies each package against the others
/// through a local registry whose sources it extracts under
/// `$CARGO_HOME/registry/src/-HASH/`, keyed by the checkout's path, and it
/// does not extract them again: a second run from the same folder would
/// build against the first run's sources.
fn forget_packaged_sources() {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    let Some(sources) = home.map(|home| home.join("registry/src")) else {
        return;
    };
    let Ok(registries) = std::fs::read_dir(&sources) else {
        return;
    };
    for registry in registries.flatten() {
        // Local registries are the ones named `-HASH`; crates.io's is not.
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        let Ok(crates) = std::fs::read_dir(registry.path()) else {
            continue;
        };
        for extracted in crates.flatten() {
            if extracted.file_name().to_string_lossy().starts_with("lvs-") {
                let _ = std::fs::remove_dir_all(extracted.path());
            }
        }
    }
}

/// Builds the Debian package with cargo-deb (installed when missing) and has
/// lintian check it: an error fails, warnings are shown. Returns the `.deb`.
fn package() -> Result<PathBuf, String> {
    let has_cargo_deb = cargo()
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !has_cargo_deb {
        let mut install = cargo();
        install.args(["install", "--locked", "cargo-deb@3.8.0"]);
        step("cargo install cargo-deb", install)?;
    }
    ensure_commands(&[("lintian", "lintian")])?;
    let output = cargo()
        .args(["deb", "-p", "lvs-cli"])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo deb: {e}"))?;
    if !output.status.success() {
        return Err("cargo deb failed".to_owned());
    }
    let deb = String::from_utf8_lossy(&output.stdout)
        .lines()
        .rev()
        .find(|line| line.ends_with(".deb"))
        .map(|line| PathBuf::from(line.trim()))
        .ok_or("cargo deb named no package")?;
    let mut lintian = Command::new("lintian");
    lintian.args(["--fail-on", "error", "--allow-root"]).arg(&deb);
    step("lintian", lintian)?;
    Ok(deb)
}

/// The Debian release the lab's systemd root is made of: this machine's,
/// so that the packaged programs find the C library they were built with.
fn debian_codename() -> Result<String, String> {
    let release = std::fs::read_to_string("/etc/os-release")
        .map_err(|e| format!("cannot read /etc/os-release: {e}"))?;
    release
        .lines()
        .find_map(|line| line.strip_prefix("VERSION_CODENAME="))
        .map(|name| name.trim_matches('"').to_owned())
        .filter(|name| !name.is_empty())
        .ok_or_else(|| "/etc/os-release names no VERSION_CODENAME".to_owned())
}

/// What the systemd root holds beyond debootstrap's minimal base: systemd
/// as init, the tools the test reads the system with, a real web server for
/// the checks, Debian's own ipvsadm to read the table, and man-db (for
/// `systemd-analyze verify` to find each unit's man pages).
const SYSTEMD_ROOT_PACKAGES: &str = "systemd-sysv,udev,iproute2,kmod,procps,nginx-light,ipvsadm,man-db";

/// The version in a kernel's name (`/boot/vmlinuz-VERSION`), which names
/// its modules' directory and its initramfs.
fn kernel_version(kernel: &Path) -> Result<String, String> {
    kernel
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.strip_prefix("vmlinuz-"))
        .map(str::to_owned)
        .ok_or_else(|| format!("{} is not named vmlinuz-VERSION", kernel.display()))
}

/// A Debian root that boots systemd, with the lab kernel's modules, made
/// once by debootstrap and kept under `target/` (remade when its recipe
/// changes).
fn systemd_root(kernel: &Path) -> Result<PathBuf, String> {
    ensure_commands(&[("debootstrap", "debootstrap"), ("mkfs.ext4", "e2fsprogs")])?;
    let codename = debian_codename()?;
    let version = kernel_version(kernel)?;
    let mirror =
        std::env::var("LVS_DEBIAN_MIRROR").unwrap_or_else(|_| "http://deb.debian.org/debian".to_owned());
    let recipe = format!("{codename} {SYSTEMD_ROOT_PACKAGES} {version} {mirror} man-db-manual\n");
    let root = profile_dir("systemd-lab").join(format!("root-{codename}"));
    let stamp = root.with_extension("recipe");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(recipe.as_str()) && root.is_dir() {
        return Ok(root);
    }
    let _ = std::fs::remove_file(&stamp);
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.parent().unwrap_or(&root))
        .map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let mut debootstrap = Command::new("debootstrap");
    debootstrap
        .args([
            "--variant=minbase",
            &format!("--include={SYSTEMD_ROOT_PACKAGES}"),
            &codename,
        ])
        .arg(&root)
        .arg(&mirror);
    step("debootstrap (the systemd lab's root)", debootstrap)?;
    let modules = PathBuf::from("/lib/modules").join(&version);
    let target = root.join("usr/lib/modules");
    std::fs::create_dir_all(&target).map_err(|e| format!("cannot create {}: {e}", target.display()))?;
    let mut copy = Command::new("cp");
    copy.arg("-a").arg(&modules).arg(&target);
    step("copy the kernel's modules", copy)?;
    // man-db rebuilds its index on every package change unless this flag
    // is gone (its debconf answer `auto-update = false`): minutes under TCG.
    let _ = std::fs::remove_file(root.join("var/lib/man-db/auto-update"));
    std::fs::write(root.join("etc/hostname"), "lvs-lab\n")
        .map_err(|e| format!("cannot name the host: {e}"))?;
    std::fs::write(&stamp, recipe).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(root)
}

/// The Debian package on a Debian system booted with systemd (one QEMU
/// boot): `lvs-cli/tests/systemd_vm.rs`.
fn systemd_lab_tests() -> Result<Counts, String> {
    let kernel = ensure_lab_tools()?;
    let version = kernel_version(&kernel)?;
    let initrd = PathBuf::from(format!("/boot/initrd.img-{version}"));
    if !initrd.is_file() {
        return Err(format!(
            "{} is missing: the systemd lab boots Debian's initramfs",
            initrd.display()
        ));
    }
    let deb = package()?;
    let root = systemd_root(&kernel)?;
    let mut test = cargo();
    test.args([
        "test",
        "-p",
        "lvs-cli",
        "--test",
        "systemd_vm",
        "--",
        "--nocapture",
    ])
    .env("LVS_SYSTEMD_TESTS", "1")
    .env("LVS_DEB", &deb)
    .env("LVS_SYSTEMD_ROOT", &root)
    .env("LVS_KERNEL", &kernel)
    .env("LVS_INITRD", &initrd);
    let counts = counted_step("the package under systemd", test)?;
    if counts.passed == 0 {
        return Err("the systemd lab ran no test".to_owned());
    }
    Ok(counts)
}

/// Benchmarks: those that need IPVS run in the kernel test lab.
fn bench(name: Option<&str>) -> Result<(), String> {
    match name {
        Some("cf") => {
            let mut criterion = cargo();
            criterion.args(["bench", "-p", "lvs-cf", "--bench", "parse"]);
            step("lvs.cf parse benchmark", criterion)
        }
        Some("ipvs") => {
            let kernel = ensure_lab_tools()?;
            let executables = build_executables(
                "bench",
                &["bench", "--no-run", "-p", "lvs-ipvs", "--bench", "table"],
            )?;
            let exe = executables.first().ok_or("cargo built no benchmark")?;
            let script = lab_script(&format!("{} --bench", exe.display()), &["release"])?;
            counted_step("IPVS table benchmark in the lab", lab_command(&kernel, &script)).map(|_| ())
        }
        Some(name @ ("ipvsadm" | "reload" | "checks")) => {
            let kernel = ensure_lab_tools()?;
            if name == "checks" {
                // The peer, and the certificate of nginx's HTTPS ports.
                ensure_commands(&[("keepalived", "keepalived"), ("openssl", "openssl")])?;
            }
            let executables =
                build_executables("bench", &["bench", "--no-run", "-p", "lvs-cli", "--bench", name])?;
            let exe = executables.first().ok_or("cargo built no benchmark")?;
            // The benchmark's own variables (CHECKS_BENCH=http...) go with it.
            let prefix = format!("{}_BENCH", name.to_uppercase());
            let passed: String = std::env::vars_os()
                .filter_map(|(variable, value)| {
                    Some((variable.into_string().ok()?, value.into_string().ok()?))
                })
                .filter(|(variable, _)| {
                    variable.starts_with(&prefix)
                        && variable.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                })
                .map(|(variable, value)| format!("export {variable}={}\n", shell_quoted(&value)))
                .collect();
            let script = lab_script(&format!("{passed}{} --bench", exe.display()), &["release"])?;
            counted_step(
                &format!("{name} benchmark in the lab"),
                lab_command(&kernel, &script),
            )
            .map(|_| ())
        }
        Some("health") => {
            let nanny = build_executables("bin", &["build", "--release", "-p", "lvs-cli", "--bin", "nanny"])?;
            let nanny = nanny.first().ok_or("cargo built no nanny")?;
            let mut bench = cargo();
            bench
                .args(["bench", "-p", "lvs-health", "--bench", "health"])
                .env("LVS_NANNY", nanny);
            step("health check benchmark", bench)
        }
        Some("history") => {
            // lvs -t needs no kernel table: on this host.
            let mut bench = cargo();
            bench.args(["bench", "-p", "lvs-cli", "--bench", "history"]);
            step("history memory benchmark", bench)
        }
        Some("failover") => {
            // Side by side with keepalived, in namespaces on this host.
            ensure_commands(&[("ip", "iproute2"), ("keepalived", "keepalived")])?;
            let pulse = build_executables("bin", &["build", "--release", "-p", "lvs-cli", "--bin", "pulse"])?;
            let pulse = pulse.first().ok_or("cargo built no pulse")?;
            let mut bench = cargo();
            bench
                .args(["bench", "-p", "lvs-cli", "--bench", "failover"])
                .env("LVS_PULSE", pulse);
            step("failover benchmark", bench)
        }
        _ => {
            Err("usage: cargo xtask bench <cf|ipvs|ipvsadm|health|failover|reload|checks|history>".to_owned())
        }
    }
}

/// The soak test alone, in the lab, for `seconds` (300 by default).
fn soak(seconds: Option<&str>) -> Result<(), String> {
    let seconds: u64 = seconds
        .unwrap_or("300")
        .parse()
        .map_err(|_| "usage: cargo xtask soak [SECONDS]".to_owned())?;
    let kernel = ensure_lab_tools()?;
    let executables = build_executables(
        "test",
        &["test", "--no-run", "-p", "lvs-cli", "--test", "director_kernel"],
    )?;
    let exe = executables.first().ok_or("cargo built no director_kernel test")?;
    let script = lab_script(
        &format!(
            "LVS_KERNEL_TESTS=1 SOAK_SECONDS={seconds} {} --test-threads=1 --nocapture soak_",
            exe.display()
        ),
        &["debug"],
    )?;
    counted_step("soak test in the lab", lab_command(&kernel, &script)).map(|_| ())
}

/// The lab demo: builds pulse, lvs and the demo, boots the lab and runs it.
fn demo() -> Result<(), String> {
    let kernel = ensure_lab_tools()?;
    let bins = build_executables("bin", &["build", "-p", "lvs-cli", "--bins"])?;
    let named = |name: &str| {
        bins.iter()
            .find(|path| path.file_name().is_some_and(|f| f == name))
            .cloned()
            .ok_or(format!("cargo built no {name}"))
    };
    let (pulse, lvs) = (named("pulse")?, named("lvs")?);
    let demo = build_executables("example", &["build", "-p", "lvs-cli", "--example", "demo"])?;
    let demo = demo.first().ok_or("cargo built no demo")?;
    let config = workspace_root().join("docs/examples/demo.cf");
    let script = lab_script(
        &format!(
            "LVS_PULSE={} LVS_LVS={} LVS_DEMO_CF={} {}",
            pulse.display(),
            lvs.display(),
            config.display(),
            demo.display()
        ),
        &["debug"],
    )?;
    counted_step("the lab demo", lab_command(&kernel, &script)).map(|_| ())
}

fn vm(command: &str) -> Result<(), String> {
    let kernel = ensure_lab_tools()?;
    let script = lab_script(command, &["debug", "release"])?;
    counted_step("kernel test lab", lab_command(&kernel, &script)).map(|_| ())
}

/// Builds the kernel tests, boots the lab once, and runs them all in it.
fn kernel_lab_tests() -> Result<Counts, String> {
    let kernel = ensure_lab_tools()?;
    let mut body = String::from("export LVS_KERNEL_TESTS=1\nstatus=0\n");
    for (package, test, test_args) in KERNEL_TESTS {
        for exe in build_executables("test", &["test", "--no-run", "-p", package, "--test", test])? {
            body.push_str(&format!(
                "echo 'lab: {package} {test} {test_args}'\n{} {test_args} || status=1\n",
                exe.display()
            ));
        }
    }
    for (package, example) in LAB_EXAMPLES {
        for exe in build_executables("example", &["build", "-p", package, "--example", example])? {
            body.push_str(&format!(
                "if {}; then echo 'lab: example {example}: ok'; else echo 'lab: example {example}: FAILED'; status=1; fi\n",
                exe.display()
            ));
        }
    }
    body.push_str("exit $status");
    let script = lab_script(&body, &["debug"])?;
    let counts = counted_step("kernel tests in the lab", lab_command(&kernel, &script))?;
    if counts.passed == 0 {
        return Err("the lab ran no kernel test".to_owned());
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::{named_in, said_static, shell_quoted, static_busybox_on, Counts, NOT_IN_THE_CORE};

    #[test]
    fn shell_words_keep_their_quotes() {
        assert_eq!(shell_quoted("perf stat -p $PID"), "'perf stat -p $PID'");
        let word = shell_quoted("it's");
        let out = std::process::Command::new("sh")
            .args(["-c", &format!("printf %s {word}")])
            .output()
            .expect("sh");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "it's");
    }

    #[test]
    fn file_descriptions_read_as_virtme_ng_reads_them() {
        assert!(said_static(
            "ELF 64-bit LSB executable, x86-64, version 1 (GNU/Linux), statically linked, stripped"
        ));
        assert!(said_static(
            "ELF 64-bit LSB pie executable, x86-64, static-pie linked, stripped"
        ));
        assert!(!said_static(
            "ELF 64-bit LSB pie executable, x86-64, dynamically linked, interpreter /lib64/ld-linux-x86-64.so.2"
        ));
    }

    /// A dynamically linked busybox first in `PATH` (Debian's `busybox`
    /// package) is not one virtme-ng boots with; a static one is.
    #[test]
    fn a_dynamically_linked_busybox_is_not_taken_for_a_static_one() {
        let has_file = std::process::Command::new("file")
            .arg("--version")
            .output()
            .is_ok();
        let static_program = std::path::Path::new("/sbin/ldconfig");
        if !has_file || !static_program.is_file() {
            eprintln!("skipped: needs file(1) and Debian's statically linked /sbin/ldconfig");
            return;
        }
        let dir = std::env::temp_dir().join(format!("xtask-busybox-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        let busybox = dir.join("busybox");
        // This test's own executable is dynamically linked.
        std::fs::copy(std::env::current_exe().expect("own path"), &busybox).expect("copy");
        assert!(
            !static_busybox_on(dir.as_os_str()),
            "a dynamically linked busybox"
        );
        std::fs::copy(static_program, &busybox).expect("copy");
        assert!(static_busybox_on(dir.as_os_str()), "a statically linked one");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_core_check_names_what_it_finds() {
        let pure = "lvs-core v0.1.0 (/x/lvs-core)\nlvs-ipvs v0.1.0 (/x/lvs-ipvs)\nregex v1.13.2\n";
        assert!(named_in(pure, NOT_IN_THE_CORE).is_empty());
        let tokio = format!("{pure}tokio v1.48.0\nlibc v0.2.177\ntokio-macros v2.0.0\n");
        assert_eq!(named_in(&tokio, NOT_IN_THE_CORE), ["tokio", "libc"]);
    }

    #[test]
    fn counts_cargo_test_result_lines() {
        let mut counts = Counts::default();
        counts.add_line(
            "test result: ok. 38 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s",
        );
        counts.add_line(
            "test result: FAILED. 3 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out; finished in 1s",
        );
        counts.add_line("running 3 tests");
        assert_eq!((counts.passed, counts.failed), (41, 2));
    }
}
