//! `include = PATTERN`: conf.d fragments read in place of the line, with
//! errors and findings on the included file's own lines.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::path::{Path, PathBuf};

use lvs_cf::*;

/// A folder of files for one test, removed at the end.
struct Folder(PathBuf);

impl Folder {
    fn new(name: &str) -> Folder {
        let path = std::env::temp_dir().join(format!("lvs-cf-include-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(path.join("lvs.d")).expect("create the folder");
        Folder(path)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn load(path: &Path) -> Result<Parsed, LoadError> {
    parse_file(path, &ParseOptions::default())
}

fn service(name: &str, vip: &str) -> String {
    format!(
        "virtual {name} {{\n active = 1\n address = {vip} eth0:1\n port = 80\n\
         server a {{\n  address = 10.0.0.1\n  active = 1\n }}\n}}\n"
    )
}

#[test]
fn fragments_are_read_in_place_in_name_order() {
    let folder = Folder::new("order");
    folder.file("lvs.d/20-mail.cf", &service("mail", "192.0.2.2"));
    folder.file("lvs.d/10-web.cf", &service("web", "192.0.2.1"));
    folder.file("lvs.d/notes.txt", "not lvs.cf at all {");
    // Servers of a block opened around the include.
    folder.file(
        "dns-servers.cf",
        "server b {\n  address = 10.0.0.2\n  active = 1\n }\n",
    );
    let main = folder.file(
        "lvs.cf",
        "primary = 192.0.2.250\ninclude = lvs.d/*.cf\n\
         virtual dns {\n active = 1\n address = 192.0.2.3 eth0:1\n port = 53\n protocol = udp\n\
         include = \"dns-servers.cf\"  # its servers\n}\n",
    );
    let parsed = load(&main).expect("valid");
    let names: Vec<&str> = parsed
        .config
        .virtual_services
        .iter()
        .map(|vs| vs.name.as_str())
        .collect();
    assert_eq!(names, ["web", "mail", "dns"]);
    assert_eq!(parsed.config.virtual_services[2].servers[0].name, "b");
    assert_eq!(parsed.diagnostics(), []);
    assert!(parsed.origins.has_includes());

    // A glob that matches nothing is an empty conf.d.
    let empty = folder.file(
        "empty.cf",
        &format!("include = none.d/*.cf\n{}", service("web", "192.0.2.1")),
    );
    assert_eq!(load(&empty).expect("valid").config.virtual_services.len(), 1);
}

#[test]
fn glob_characters_in_the_folders_name_are_taken_as_written() {
    let folder = Folder::new("[x]*");
    folder.file("lvs.d/web.cf", &service("web", "192.0.2.1"));
    // A folder that the pattern matches counts as no file.
    std::fs::create_dir_all(folder.0.join("lvs.d/dir.cf")).expect("a folder");
    let main = folder.file("lvs.cf", "include = lvs.d/*.cf\n");
    let parsed = load(&main).expect("valid");
    assert_eq!(parsed.config.virtual_services.len(), 1);
}

#[test]
fn errors_and_findings_name_the_included_file_and_its_line() {
    let folder = Folder::new("errors");
    let fragment = folder.file(
        "lvs.d/web.cf",
        &service("web", "192.0.2.1").replace(" port = 80\n", " port = 80\n scheduler = fastest\n"),
    );
    let main = folder.file("lvs.cf", "primary = 192.0.2.250\n\ninclude = lvs.d/*.cf\n");
    match load(&main) {
        Err(LoadError::Parse { path, error }) => {
            assert_eq!((path, error.line), (fragment.clone(), 5));
            assert_eq!(error.kind, ErrorKind::BadArgument);
        }
        other => panic!("{other:?}"),
    }

    // A finding of validation: on the fragment's line, and the main file's
    // lines after the include keep their own numbers.
    folder.file(
        "lvs.d/web.cf",
        &service("web", "192.0.2.1").replace(" port = 80\n", " port = 80\n persistence_engine = sip\n"),
    );
    let main = folder.file(
        "lvs.cf",
        "primary = 192.0.2.250\ninclude = lvs.d/*.cf\nvirtual old {\n pmask = 255.255.255.0\n}\n",
    );
    let found: Vec<String> = load(&main)
        .expect("valid")
        .diagnostics()
        .iter()
        .map(ToString::to_string)
        .collect();
    // In reading order: the fragment stands before the main file's rest.
    assert_eq!(
        found,
        [
            format!(
                "{}: line 5: warning: `persistence_engine` in `web` has no effect without `persistent`",
                fragment.display()
            ),
            "line 4: warning: `pmask` in `old` has no effect without `persistent`".to_owned(),
        ]
    );
}

#[test]
fn a_missing_file_a_loop_and_a_bad_line_are_errors_on_the_include_line() {
    let folder = Folder::new("refused");
    let main = folder.file("lvs.cf", "primary = 192.0.2.250\ninclude = missing.cf\n");
    let error = load(&main).expect_err("missing");
    assert!(
        matches!(&error, LoadError::Include { path, line: 2, why } if *path == main && why.contains("missing.cf")),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "error parsing {} at line 2: no file {}",
            main.display(),
            folder.0.join("missing.cf").display()
        )
    );

    let a = folder.file("a.cf", "include = b.cf\n");
    folder.file("b.cf", "\n\ninclude = a.cf\n");
    let main = folder.file("lvs.cf", "include = a.cf\n");
    let error = load(&main).expect_err("a loop");
    assert!(
        matches!(&error, LoadError::Include { path, line: 3, why } if path.ends_with("b.cf") && why.contains("include loop")),
        "{error:?}"
    );
    assert!(error.to_string().contains(&a.display().to_string()), "{error}");

    std::fs::create_dir_all(folder.0.join("own")).expect("a folder");
    let myself = folder.file("own/self.cf", "include = *.cf\n");
    assert!(matches!(load(&myself), Err(LoadError::Include { line: 1, .. })));

    let main = folder.file("lvs.cf", "include lvs.d/*.cf\n");
    assert!(matches!(load(&main), Err(LoadError::Include { line: 1, .. })));
}

#[test]
fn include_is_an_extension_and_needs_a_file() {
    let folder = Folder::new("strict");
    folder.file("web.cf", &service("web", "192.0.2.1"));
    let main = folder.file("lvs.cf", "include = web.cf\n");
    match parse_file(&main, &ParseOptions::strict()) {
        Err(LoadError::Parse { path, error }) => {
            assert_eq!((path, error.line), (main.clone(), 1));
            assert!(error.to_string().contains("lvs-rs extension"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    let error = parse("include = web.cf\n").expect_err("text has no folder");
    assert!(error.to_string().contains("read only in files"), "{error}");
}
