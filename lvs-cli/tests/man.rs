//! The man pages in docs/man and the shell completions in docs/completions
//! are generated from the argument definitions; this fails when they are
//! stale. `cargo xtask man` regenerates them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

#[test]
fn man_pages_and_completions_are_current() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let reference = std::fs::read_to_string(docs.join("lvs.cf.md")).expect("the reference");
    let files = lvs_cli::generated::files(&reference).expect("render");
    assert!(files.iter().any(|f| f.path.ends_with("lvs.cf.5")));
    assert!(files.iter().any(|f| f.path.starts_with("completions/zsh")));
    for file in files {
        let path = docs.join(&file.path);
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == file.contents,
            "{} is stale: run `cargo xtask man`",
            path.display()
        );
    }
}

/// bash takes each program's completions, and they complete its options.
#[test]
fn bash_completes_each_programs_options() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/completions/bash");
    for (command, _) in lvs_cli::programs() {
        let name = command.get_name().to_owned();
        let file = docs.join(&name);
        // The function clap_complete names after the program (`-` and `_` alike).
        let function = format!("_{}", name.replace('-', "__"));
        let script = format!(
            "source '{}' && complete -p {name} && COMP_WORDS=({name} --hel) COMP_CWORD=1 && \
             {function} {name} --hel {name} && echo \"${{COMPREPLY[@]}}\"",
            file.display()
        );
        let out = std::process::Command::new("bash")
            .args(["--norc", "-c", &script])
            .output()
            .expect("run bash");
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(said.contains(&format!("-F {function} ")), "{name}: {said}");
        assert!(said.lines().last() == Some("--help"), "{name}: {said}");
    }
}
