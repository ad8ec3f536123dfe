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

fn test() -> Result<(), String> {
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
    step("cargo test (host)", tests)?;

    // The fuzz target runs under cargo-fuzz with a nightly toolchain; here it
    // must at least keep compiling against the parser's API.
    let mut fuzz = cargo();
    fuzz.args(["check", "--manifest-path", "lvs-cf/fuzz/Cargo.toml"]);
    step("cargo check (fuzz target)", fuzz)?;
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
