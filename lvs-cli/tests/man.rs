//! The man pages in docs/man are generated from the argument definitions;
//! this fails when they are stale. `cargo xtask man` regenerates them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

#[test]
fn man_pages_are_current() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/man");
    for (command, section) in lvs_cli::programs() {
        let name = command.get_name().to_owned();
        let mut page = Vec::new();
        clap_mangen::Man::new(command)
            .section(section)
            .render(&mut page)
            .expect("render");
        let path = dir.join(format!("{name}.{section}"));
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == page,
            "{} is stale: run `cargo xtask man`",
            path.display()
        );
    }
}
