//! The man pages in docs/man and the shell completions in docs/completions
//! are generated from the argument definitions; this fails when they are
//! stale. `cargo xtask man` regenerates them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

#[test]
fn man_pages_and_completions_are_current() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let files = lvs_cli::generated::files(&docs).unwrap_or_else(|e| panic!("{e}"));
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

/// Every program's page has the sections a Debian man page has, the
/// daemons' their signals and files too, in man-pages(7)'s order.
#[test]
fn each_program_page_has_the_sections_of_a_debian_man_page() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let files = lvs_cli::generated::files(&docs).unwrap_or_else(|e| panic!("{e}"));
    for (command, section) in lvs_cli::programs() {
        let name = command.get_name().to_owned();
        let page = files
            .iter()
            .find(|f| f.path.ends_with(format!("{name}.{section}")))
            .unwrap_or_else(|| panic!("no page for {name}"));
        let text = String::from_utf8_lossy(&page.contents);
        let headings: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix(".SH "))
            .map(|h| h.trim_matches('"').to_owned())
            .collect();
        let mut wanted = vec!["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS"];
        if name != "send_arp" {
            wanted.push("SIGNALS");
        }
        if name != "nanny" && name != "send_arp" {
            wanted.push("FILES");
        }
        wanted.push("SEE ALSO");
        let found: Vec<&str> = headings
            .iter()
            .map(String::as_str)
            .filter(|h| wanted.contains(h))
            .collect();
        assert_eq!(found, wanted, "{name}: sections {headings:?}");
        assert_eq!(
            text.matches(".ds Aq").count(),
            2,
            "{name}: roff's apostrophe preamble once (two lines)"
        );
    }
}
