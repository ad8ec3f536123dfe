//! nanny's command line: Piranha's options and the refusals that come
//! before any check or table change (no root or IPVS needed).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::process::{Command, Output};

const NANNY: &str = env!("CARGO_BIN_EXE_nanny");

fn nanny(args: &[&str]) -> Output {
    Command::new(NANNY).args(args).output().expect("run nanny")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_service_type_is_required_and_fos_is_refused() {
    let out = nanny(&["-h", "10.0.0.1", "-V", "192.0.2.1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "nanny: unknown service type\n");
    let out = nanny(&["--fos", "-h", "10.0.0.1", "-V", "192.0.2.1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "nanny: --fos (failover services) is not supported by lvs-rs\n"
    );
}

#[test]
fn addresses_are_required_and_checked() {
    let out = nanny(&["--lvs", "-V", "192.0.2.1"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "nanny: No address supplied for the server to monitor (-h)\n"
    );
    let out = nanny(&["--lvs", "-h", "10.0.0.999", "-V", "192.0.2.1"]);
    assert_eq!(stderr(&out), "nanny: bad IP address -- 10.0.0.999\n");
    let out = nanny(&["--lvs", "-h", "10.0.0.1"]);
    assert_eq!(stderr(&out), "nanny: No virtual address supplied (-V or -f)\n");
    let out = nanny(&["--lvs", "-h", "10.0.0.1", "-V", "192.0.2.999"]);
    assert_eq!(stderr(&out), "nanny: bad virtual address -- 192.0.2.999\n");
    let out = nanny(&["--lvs", "-h", "10.0.0.1", "-V", "192.0.2.1", "-t", "0"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "nanny: the interval (-t) must be at least 1 second\n"
    );
}

#[test]
fn bad_option_values_name_the_option() {
    let out = nanny(&["--lvs", "-h", "10.0.0.1", "-V", "192.0.2.1", "-t", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--interval"), "{}", stderr(&out));
    let out = nanny(&["--lvs", "--nosuch"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--nosuch"), "{}", stderr(&out));
}

#[test]
fn help_lists_piranhas_options() {
    let out = nanny(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for option in [
        "--interval",
        "--ipvsadm",
        "--loadcmd",
        "--method",
        "--nodaemon",
        "--nofork",
        "--port",
        "--rport",
        "--reentrytime",
        "--scale",
        "--server",
        "--send_program",
        "--send_string",
        "--expect_string",
        "--regex",
        "--suppress",
        "--quiesce_server",
        "--udp",
        "--verbose",
        "--virtaddress",
        "--fwmark",
        "--weight",
        "--test-start",
        "--lvs",
        "--fos",
        "--failures",
        "--check-interval",
    ] {
        assert!(help.contains(option), "{option} is not in --help");
    }
}
