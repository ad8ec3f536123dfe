//! VIP groups in lvs.cf: `router`, `vip_group` and `track` blocks, a
//! virtual service's `vip_group`, and heartbeat keys by id.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use lvs_cf::*;

const PAIR: &str = "primary = 10.0.0.1\nbackup = 10.0.0.2\nbackup_active = 1\nheartbeat = 1\n\
                    heartbeat_key = /etc/sysconfig/ha/heartbeat.key\nnetwork = direct\n";

/// Two groups over three routers, two tracks, each pair router preferred
/// by one group. (A `\` at a line's end also drops the next one's indent.)
const GROUPS: &str = "router third {\n\
     address = 10.0.0.3\n\
     private = 192.168.0.3\n\
}\n\
vip_group web {\n\
     priorities = [ primary:200 backup:100 third:50 ]\n\
     preempt_delay = 5\n\
     notify = /usr/local/bin/group-changed\n\
}\n\
vip_group mail {\n\
     priorities = [ backup:200 primary:100 ]\n\
     preempt = 0\n\
}\n\
track haproxy {\n\
     process = haproxy\n\
     interval = 1\n\
     rise = 2\n\
     fall = 3\n\
     groups = [ web ]\n\
}\n\
track uplink {\n\
     interface = eth1\n\
     weight = -150\n\
}\n\
announce_again = 2\n\
announce_refresh = 60\n\
catch_up_bound = 45\n\
virtual www {\n\
     active = 1\n\
     address = 10.0.1.80 eth0:1\n\
     vip_group = web\n\
}\n\
virtual smtp {\n\
     active = 1\n\
     address = 10.0.1.25 eth0:2\n\
     port = 25\n\
     vip_group = mail\n\
}\n";

fn parse(text: &str) -> Parsed {
    parse_with(text, &ParseOptions::default()).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// The errors of a file, as `lvsd --check` prints them.
fn errors(text: &str) -> Vec<String> {
    parse(text)
        .diagnostics()
        .into_iter()
        .filter(Diagnostic::is_error)
        .map(|d| d.to_string())
        .collect()
}

#[test]
fn groups_routers_and_tracks_read_and_write_back() {
    let text = format!("{PAIR}{GROUPS}");
    let parsed = parse(&text);
    assert_eq!(parsed.diagnostics(), []);
    let c = &parsed.config;
    assert_eq!(c.routers.len(), 1);
    assert_eq!(c.routers[0].address, Some(Host::Ip("10.0.0.3".parse().unwrap())));
    assert_eq!(
        c.routers[0].private,
        Some(Host::Ip("192.168.0.3".parse().unwrap()))
    );
    let web = &c.vip_groups[0];
    assert_eq!(
        web.priorities,
        [
            ("primary".to_owned(), 200),
            ("backup".to_owned(), 100),
            ("third".to_owned(), 50)
        ]
    );
    assert!(web.preempt);
    assert_eq!(web.preempt_delay, Some(Seconds::whole(5)));
    assert_eq!(web.notify.as_deref(), Some("/usr/local/bin/group-changed"));
    assert!(!c.vip_groups[1].preempt);
    let haproxy = &c.tracks[0];
    assert_eq!(haproxy.target, Some(TrackTarget::Process("haproxy".to_owned())));
    assert_eq!((haproxy.rise, haproxy.fall, haproxy.weight), (2, 3, 0));
    assert_eq!(haproxy.groups, ["web"]);
    assert_eq!(c.tracks[1].weight, -150);
    assert!(c.tracks[1].groups.is_empty());
    assert_eq!(c.announce_again, Some(Seconds::whole(2)));
    assert_eq!(c.catch_up_bound, Some(Seconds::whole(45)));
    assert_eq!(c.virtual_services[1].vip_group.as_deref(), Some("mail"));
    let written = write(c);
    assert!(
        written.contains("vip_group web {\n     priorities = [ primary:200 backup:100 third:50 ]\n"),
        "{written}"
    );
    assert_eq!(&parse(&written).config, c);
}

#[test]
fn groups_are_extensions() {
    let text = format!("{PAIR}{GROUPS}");
    let strict = ParseOptions {
        strict: true,
        ..ParseOptions::default()
    };
    let error = parse_with(&text, &strict).expect_err("strict refuses extensions");
    assert!(error.to_string().contains("lvs-rs extension"), "{error}");
}

#[test]
fn heartbeat_keys_by_id() {
    let text = format!(
        "{}heartbeat_keys = [ 1:/etc/sysconfig/ha/old.key 2:/etc/sysconfig/ha/new.key ]\nheartbeat_send_key = 2\n{GROUPS}",
        PAIR.replace("heartbeat_key = /etc/sysconfig/ha/heartbeat.key\n", "")
    );
    let parsed = parse(&text);
    assert_eq!(parsed.diagnostics(), []);
    assert_eq!(
        parsed.config.heartbeat_keys,
        [
            (1, "/etc/sysconfig/ha/old.key".to_owned()),
            (2, "/etc/sysconfig/ha/new.key".to_owned())
        ]
    );
    assert_eq!(parsed.config.heartbeat_send_key, Some(2));
    assert_eq!(parse(&write(&parsed.config)).config, parsed.config);

    let unsure = text.replace("heartbeat_send_key = 2\n", "");
    assert_eq!(
        errors(&unsure),
        ["line 6: error: `heartbeat_keys` holds several keys: say which one seals heartbeats with `heartbeat_send_key`"]
    );
    let missing = text.replace("heartbeat_send_key = 2", "heartbeat_send_key = 3");
    assert_eq!(
        errors(&missing),
        ["line 7: error: `heartbeat_send_key = 3` names no key of `heartbeat_keys`"]
    );
    let both = format!("heartbeat_key = /k\n{text}");
    assert!(errors(&both)[0].contains("`heartbeat_keys` and `heartbeat_key` are both set"));
    for bad in ["[ 1/etc/k ]", "[ 256:/k ]", "[ 1:/a 1:/b ]", "[ 1: ]"] {
        let text = format!("{PAIR}heartbeat_keys = {bad}\n");
        let error = parse_with(&text, &ParseOptions::default()).expect_err(bad);
        assert_eq!(error.line, 7, "{bad}: {error}");
    }
}

#[test]
fn what_cannot_work_is_an_error_on_its_line() {
    let with = |from: &str, to: &str| {
        let groups = GROUPS.replace(from, to);
        assert_ne!(groups, GROUPS, "{from}");
        format!("{PAIR}{groups}")
    };
    // The file's lines: PAIR is 6 lines, so `router third {` is line 7.
    assert_eq!(
        errors(&with("primary:200 backup:100 third:50", "primary:200 fourth:100")),
        ["line 12: error: vip_group `web` gives a priority to `fourth`, which is not a router (routers: primary, backup, third)"]
    );
    assert_eq!(
        errors(&with("vip_group = mail\n", "")),
        ["line 39: error: virtual `smtp` names no `vip_group`: with VIP groups, every active virtual service belongs to one"]
    );
    assert_eq!(
        errors(&with("vip_group = mail", "vip_group = post")),
        ["line 43: error: virtual `smtp` names vip_group `post`, but no vip_group block defines it"]
    );
    assert_eq!(
        errors(&with(
            "process = haproxy\n",
            "process = haproxy\nfile = /run/maintenance\n"
        )),
        ["line 22: error: track `haproxy` sets more than one of `program`, `process`, `interface`, `file`"]
    );
    assert_eq!(
        errors(&with("interface = eth1\n", "")),
        ["line 27: error: track `uplink` watches nothing: give it one of `program`, `process`, `interface`, `file`"]
    );
    assert_eq!(
        errors(&with("groups = [ web ]", "groups = [ www ]")),
        ["line 25: error: track `haproxy` applies to vip_group `www`, which no vip_group block defines"]
    );
    assert_eq!(
        errors(&with("router third {\naddress = 10.0.0.3\n", "router third {\n")),
        ["line 7: error: router `third` has no `address`"]
    );
    assert_eq!(
        errors(&with("router third", "router primary")),
        ["line 7: error: router `primary` is defined twice (`primary` and `backup` are the names of those routers)",
         "line 12: error: vip_group `web` gives a priority to `third`, which is not a router (routers: primary, backup, primary)"]
    );
    let unauthenticated = format!(
        "{}{GROUPS}",
        PAIR.replace("heartbeat_key = /etc/sysconfig/ha/heartbeat.key\n", "")
    );
    assert_eq!(
        errors(&unauthenticated),
        ["line 10: error: VIP groups need authenticated heartbeats: set `heartbeat_key` (or `heartbeat_keys`)"]
    );
    // Parse errors: a priority out of range, a router twice, an unknown key.
    for (from, to, line) in [
        ("primary:200", "primary:255", 12),
        ("backup:100 third:50", "backup:100 backup:50", 12),
        ("preempt = 0", "preempt = 2", 18),
        ("fall = 3", "fall = 0", 24),
        ("weight = -150", "weight = -300", 29),
        ("private = 192.168.0.3\n", "priority = 3\n", 9),
    ] {
        let text = with(from, to);
        let error = parse_with(&text, &ParseOptions::default()).expect_err(to);
        assert_eq!(error.line, line, "{to}: {error}");
    }
}

#[test]
fn routers_tracks_and_a_group_name_need_groups() {
    let text = format!(
        "{PAIR}router third {{\n address = 10.0.0.3\n}}\nvirtual www {{\n active = 1\n address = 10.0.1.80 eth0:1\n vip_group = web\n}}\n"
    );
    assert_eq!(
        errors(&text),
        [
            "line 7: error: a `router` block works only with VIP groups: add a `vip_group` block, or remove it",
            "line 13: error: virtual `www` names vip_group `web`, but no vip_group block defines it",
        ]
    );
}
