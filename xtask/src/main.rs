//! The project's own tasks, run as `cargo xtask <task>`:
//!
//! - `test`: everything CI runs: formatting, lints, and every test.
//! - `man`: regenerate the man pages in `docs/man` from the argument definitions.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("man") => man(),
        _ => {
            eprintln!("usage: cargo xtask <test|man>\n\n  test  formatting, lints and every test (what CI runs)\n  man   regenerate docs/man from the argument definitions");
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
            println!("{line}");
            counts.add_line(&line);
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

/// Installs the Debian packages whose commands are missing (`apt-get`, as root).
fn ensure_commands(needed: &[(&str, &str)]) -> Result<(), String> {
    let missing: Vec<&str> = needed
        .iter()
        .filter(|(command, _)| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {command}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(|&(_, package)| package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("==> installing {}", missing.join(" "));
    let mut update = Command::new("apt-get");
    update.arg("update");
    step("apt-get update", update)?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive");
    step("apt-get install", install)
}

fn test() -> Result<(), String> {
    // Namespace tests drive iproute2.
    ensure_commands(&[("ip", "iproute2")])?;

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

    let mut tests = cargo();
    tests.args(["test", "--workspace", "--all-features"]);
    let host = counted_step("cargo test (host)", tests)?;

    // The fuzz target runs under cargo-fuzz with a nightly toolchain; here it
    // must at least keep compiling against the parser's API.
    let mut fuzz = cargo();
    fuzz.args(["check", "--manifest-path", "lvs-cf/fuzz/Cargo.toml"]);
    step("cargo check (fuzz target)", fuzz)?;

    println!("{} passed, {} failed", host.passed, host.failed);
    Ok(())
}

fn man() -> Result<(), String> {
    let dir = workspace_root().join("docs/man");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    for (command, section) in lvs_cli::programs() {
        let path = dir.join(format!("{}.{section}", command.get_name()));
        let mut page = Vec::new();
        clap_mangen::Man::new(command)
            .section(section)
            .render(&mut page)
            .map_err(|e| format!("render: {e}"))?;
        std::fs::write(&path, page).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Counts;

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
