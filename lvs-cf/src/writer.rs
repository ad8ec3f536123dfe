//! The canonical writer: a [`Config`] as lvs.cf, in the layout of the Piranha
//! configuration tool (globals first, blocks indented by 5 and 9 spaces).
//!
//! It writes every value that differs from Piranha's default, plus the
//! settings the tool always wrote, and only syntax Piranha 0.8.6 reads, so a
//! model without extensions gives a file Piranha accepts. For every model that
//! [`validate`](crate::validate()) finds no error in, `parse(write(c)) == c`.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::model::*;

const BLOCK_INDENT: &str = "     ";
const SERVER_INDENT: &str = "         ";
const SERVER_CHECK_INDENT: &str = "             ";

/// Renders `config` as lvs.cf text.
pub fn write(config: &Config) -> String {
    let mut out =
        String::with_capacity(256 + 512 * (config.virtual_services.len() + config.failover_services.len()));
    let defaults = Config::default();
    let w = &mut out;

    entry(w, "", "serial_no", config.serial_no);
    if let Some(host) = &config.primary {
        entry(w, "", "primary", host);
    }
    if let Some(host) = &config.primary_private {
        entry(w, "", "primary_private", host);
    }
    if let Some(dev) = &config.primary_shared {
        entry(w, "", "primary_shared", quote(dev));
    }
    entry(w, "", "service", config.service);
    if config.rsh_command != defaults.rsh_command {
        entry(w, "", "rsh_command", quote(&config.rsh_command));
    }
    entry(w, "", "backup_active", u8::from(config.backup_active));
    if let Some(host) = &config.backup {
        entry(w, "", "backup", host);
    }
    if let Some(host) = &config.backup_private {
        entry(w, "", "backup_private", host);
    }
    if let Some(dev) = &config.backup_shared {
        entry(w, "", "backup_shared", quote(dev));
    }
    entry(w, "", "heartbeat", u8::from(config.heartbeat));
    entry(w, "", "heartbeat_port", config.heartbeat_port);
    entry(w, "", "keepalive", config.keepalive);
    entry(w, "", "deadtime", config.deadtime);
    entry(w, "", "network", config.network);
    if let Some(router) = &config.nat_router {
        entry(w, "", "nat_router", address_on_device(router));
    }
    if let Some(mask) = &config.nat_nmask {
        entry(w, "", "nat_nmask", mask);
    }
    if let Some(action) = config.reservation_conflict_action {
        entry(w, "", "reservation_conflict_action", action);
    }
    if config.debug_level != defaults.debug_level {
        entry(w, "", "debug_level", quote(&config.debug_level));
    }
    if let Some(cmd) = &config.active_cmd {
        entry(w, "", "active_cmd", quote(cmd));
    }
    if let Some(cmd) = &config.inactive_cmd {
        entry(w, "", "inactive_cmd", quote(cmd));
    }
    if config.monitor_links {
        entry(w, "", "monitor_links", 1);
    }
    if config.syncdaemon {
        entry(w, "", "syncdaemon", 1);
    }
    if config.syncd_iface != defaults.syncd_iface {
        entry(w, "", "syncd_iface", quote(&config.syncd_iface));
    }
    if config.syncd_id != 0 {
        entry(w, "", "syncd_id", config.syncd_id);
    }
    for (key, value) in [
        ("tcp_timeout", config.tcp_timeout),
        ("tcpfin_timeout", config.tcpfin_timeout),
        ("udp_timeout", config.udp_timeout),
    ] {
        if value != 0 {
            entry(w, "", key, value);
        }
    }
    if !config.hard_shutdown {
        entry(w, "", "hard_shutdown", 0);
    }
    if config.ipvsadm != defaults.ipvsadm {
        entry(w, "", "ipvsadm", quote(&config.ipvsadm));
    }
    if config.sync {
        entry(w, "", "sync", 1);
    }
    if let Some(path) = &config.heartbeat_key {
        entry(w, "", "heartbeat_key", quote(path));
    }
    if config.arp_count != defaults.arp_count {
        entry(w, "", "arp_count", config.arp_count);
    }
    if config.arp_interval != defaults.arp_interval {
        entry(w, "", "arp_interval", config.arp_interval);
    }
    for (key, value) in config.ipvs_sysctls.entries() {
        entry(w, "", key, value);
    }
    if let Some(path) = &config.maintenance_dir {
        entry(w, "", "maintenance_dir", quote(path));
    }
    if let Some(timeout) = config.drain_timeout {
        entry(w, "", "drain_timeout", timeout);
    }
    write_routing_globals(w, config);
    let i = BLOCK_INDENT;
    for router in &config.routers {
        let _ = writeln!(w, "router {} {{", quote(&router.name));
        write_router(w, i, router);
        let _ = writeln!(w, "}}");
    }
    for group in &config.vip_groups {
        let _ = writeln!(w, "vip_group {} {{", quote(&group.name));
        write_group(w, i, group);
        let _ = writeln!(w, "}}");
    }
    for track in &config.tracks {
        let _ = writeln!(w, "track {} {{", quote(&track.name));
        write_track(w, i, track);
        let _ = writeln!(w, "}}");
    }
    for vs in &config.virtual_services {
        write_service(w, "virtual", vs);
    }
    for vs in &config.failover_services {
        write_service(w, "failover", vs);
    }
    out
}

/// `[ a b ]`.
fn list(words: impl Iterator<Item = String>) -> String {
    let mut out = String::from("[");
    for word in words {
        out.push(' ');
        out.push_str(&word);
    }
    out.push_str(" ]");
    out
}

/// The top level's keys of heartbeat keys and announcements.
pub(crate) fn write_routing_globals(w: &mut String, config: &Config) {
    if !config.heartbeat_keys.is_empty() {
        let keys = config
            .heartbeat_keys
            .iter()
            .map(|(id, path)| format!("{id}:{path}"));
        entry(w, "", "heartbeat_keys", list(keys));
    }
    if let Some(id) = config.heartbeat_send_key {
        entry(w, "", "heartbeat_send_key", id);
    }
    if let Some(after) = config.announce_again {
        entry(w, "", "announce_again", after);
    }
    if let Some(every) = config.announce_refresh {
        entry(w, "", "announce_refresh", every);
    }
    if let Some(bound) = config.catch_up_bound {
        entry(w, "", "catch_up_bound", bound);
    }
}

/// A `router` block's lines.
pub(crate) fn write_router(w: &mut String, i: &str, router: &RouterBlock) {
    if let Some(host) = &router.address {
        entry(w, i, "address", host);
    }
    if let Some(host) = &router.private {
        entry(w, i, "private", host);
    }
}

/// A `vip_group` block's lines.
pub(crate) fn write_group(w: &mut String, i: &str, group: &VipGroup) {
    let priorities = group.priorities.iter().map(|(router, p)| format!("{router}:{p}"));
    entry(w, i, "priorities", list(priorities));
    if !group.preempt {
        entry(w, i, "preempt", 0);
    }
    if let Some(delay) = group.preempt_delay {
        entry(w, i, "preempt_delay", delay);
    }
    if let Some(program) = &group.notify {
        entry(w, i, "notify", quote(program));
    }
}

/// A `track` block's lines.
pub(crate) fn write_track(w: &mut String, i: &str, track: &TrackBlock) {
    let defaults = TrackBlock::new("");
    if let Some(target) = &track.target {
        entry(w, i, target.key(), quote(target.value()));
    }
    if let Some(interval) = track.interval {
        entry(w, i, "interval", interval);
    }
    if track.rise != defaults.rise {
        entry(w, i, "rise", track.rise);
    }
    if track.fall != defaults.fall {
        entry(w, i, "fall", track.fall);
    }
    if track.weight != defaults.weight {
        entry(w, i, "weight", track.weight);
    }
    if !track.groups.is_empty() {
        entry(w, i, "groups", list(track.groups.iter().cloned()));
    }
}

fn write_service(w: &mut String, block: &str, vs: &VirtualService) {
    let defaults = VirtualService::new("");
    let _ = writeln!(w, "{block} {} {{", quote(&vs.name));
    let i = BLOCK_INDENT;
    entry(w, i, "active", u8::from(vs.active));
    if let Some(address) = &vs.address {
        entry(w, i, "address", address_on_device(address));
    }
    if let Some(ip) = &vs.sorry_server {
        entry(w, i, "sorry_server", ip);
    }
    if let Some(mask) = &vs.vip_nmask {
        entry(w, i, "vip_nmask", mask);
    }
    if vs.fwmark != 0 {
        entry(w, i, "fwmark", vs.fwmark);
    }
    entry(w, i, "port", vs.port);
    if vs.persistent != 0 {
        entry(w, i, "persistent", vs.persistent);
    }
    if let Some(mask) = &vs.pmask {
        entry(w, i, "pmask", mask);
    }
    if let Some(text) = &vs.send {
        entry(w, i, "send", quoted(text));
    }
    if let Some(text) = &vs.expect {
        entry(w, i, "expect", quoted(text));
    }
    if vs.use_regex {
        entry(w, i, "use_regex", 1);
    }
    if let Some(text) = &vs.send_program {
        entry(w, i, "send_program", quoted(text));
    }
    if let Some(monitor) = &vs.load_monitor {
        entry(w, i, "load_monitor", quote(monitor));
    }
    entry(w, i, "scheduler", vs.scheduler);
    entry(w, i, "protocol", vs.protocol);
    entry(w, i, "timeout", vs.timeout);
    entry(w, i, "reentry", vs.reentry);
    if vs.quiesce_server {
        entry(w, i, "quiesce_server", 1);
    }
    if vs.failure_count != defaults.failure_count {
        entry(w, i, "failure_count", vs.failure_count);
    }
    if let Some(interval) = vs.check_interval {
        entry(w, i, "check_interval", interval);
    }
    write_service_extensions(w, i, vs);
    if vs.client_monitor != defaults.client_monitor {
        entry(w, i, "client_monitor", quote(&vs.client_monitor));
    }
    if let Some(text) = &vs.start_cmd {
        entry(w, i, "start_cmd", quoted(text));
    }
    if let Some(text) = &vs.stop_cmd {
        entry(w, i, "stop_cmd", quoted(text));
    }
    if let Some(host) = &vs.master {
        entry(w, i, "master", host);
    }
    if let Some(dirs) = &vs.dirs {
        let mut list = String::from("[");
        for dir in dirs {
            list.push(' ');
            list.push_str(&quote(dir));
        }
        list.push_str(" ]");
        entry(w, i, "dirs", list);
    }
    for check in &vs.checks {
        write_check(w, BLOCK_INDENT, SERVER_INDENT, check);
    }
    for server in &vs.servers {
        let _ = writeln!(w, "{BLOCK_INDENT}server {} {{", quote(&server.name));
        let s = SERVER_INDENT;
        if let Some(address) = &server.address {
            entry(w, s, "address", address);
        }
        entry(w, s, "active", u8::from(server.active));
        if let Some(port) = server.port {
            entry(w, s, "port", port);
        }
        entry(w, s, "weight", server.weight);
        write_server_extensions(w, s, server);
        for check in &server.checks {
            write_check(w, SERVER_INDENT, SERVER_CHECK_INDENT, check);
        }
        let _ = writeln!(w, "{BLOCK_INDENT}}}");
    }
    w.push_str("}\n");
}

/// A server's settings beyond Piranha's (lvs-rs extensions), as set.
pub(crate) fn write_server_extensions(w: &mut String, i: &str, server: &RealServer) {
    write_options(w, i, &server.options);
    if let Some(program) = &server.notify {
        entry(w, i, "notify", quote(program));
    }
}

/// A service's settings beyond Piranha's (lvs-rs extensions), as set.
pub(crate) fn write_service_extensions(w: &mut String, i: &str, vs: &VirtualService) {
    write_options(w, i, &vs.server_options);
    if let Some(program) = &vs.notify {
        entry(w, i, "notify", quote(program));
    }
    if let Some(quorum) = vs.quorum {
        entry(w, i, "quorum", quorum);
    }
    if let Some(hysteresis) = vs.hysteresis {
        entry(w, i, "hysteresis", hysteresis);
    }
    if let Some(action) = vs.quorum_action {
        entry(w, i, "quorum_action", action);
    }
    if let Some(group) = &vs.vip_group {
        entry(w, i, "vip_group", quote(group));
    }
    if !vs.scheduler_flags.is_empty() {
        let flags = vs.scheduler_flags.iter().map(|flag| flag.keyword().to_owned());
        entry(w, i, "scheduler_flags", list(flags));
    }
    if vs.one_packet {
        entry(w, i, "one_packet", 1);
    }
    if let Some(engine) = vs.persistence_engine {
        entry(w, i, "persistence_engine", engine);
    }
    if let Some(port) = vs.sorry_port {
        entry(w, i, "sorry_port", port);
    }
    if let Some(network) = vs.sorry_network {
        entry(w, i, "sorry_network", network);
    }
    if let Some(weight) = vs.sorry_weight {
        entry(w, i, "sorry_weight", weight);
    }
}

/// The keys of [`ServerOptions`] that are set.
pub(crate) fn write_options(w: &mut String, i: &str, options: &ServerOptions) {
    for (key, value) in options.entries() {
        entry(w, i, key, value);
    }
}

pub(crate) fn write_check(w: &mut String, outer: &str, i: &str, check: &CheckBlock) {
    let defaults = CheckBlock::new("");
    let _ = writeln!(w, "{outer}check {} {{", quote(&check.name));
    entry(w, i, "type", check.kind);
    if let Some(address) = check.address {
        entry(w, i, "address", address);
    }
    if let Some(port) = check.port {
        entry(w, i, "port", port);
    }
    if let Some(source) = check.source {
        entry(w, i, "source", source);
    }
    if let Some(timeout) = check.timeout {
        entry(w, i, "timeout", timeout);
    }
    for (text_key, hex_key, payload) in [
        ("send", "send_hex", &check.send),
        ("expect", "expect_hex", &check.expect),
    ] {
        match payload {
            Some(Payload::Text(text)) => entry(w, i, text_key, quoted(text)),
            Some(Payload::Hex(bytes)) => entry(w, i, hex_key, quote(&hex(bytes))),
            None => {}
        }
    }
    if check.use_regex {
        entry(w, i, "use_regex", 1);
    }
    if check.method != defaults.method {
        entry(w, i, "method", check.method);
    }
    for (key, value) in [
        ("path", &check.path),
        ("host", &check.host),
        ("body", &check.body),
    ] {
        if let Some(value) = value {
            entry(w, i, key, quote(value));
        }
    }
    if !check.status.is_empty() {
        let codes: Vec<String> = check.status.iter().map(ToString::to_string).collect();
        entry(w, i, "status", format!("[ {} ]", codes.join(" ")));
    }
    if let Some(digest) = &check.digest {
        entry(w, i, "digest", hex(digest));
    }
    if check.http_version != defaults.http_version {
        entry(w, i, "http_version", check.http_version);
    }
    if !check.reuse_connection {
        entry(w, i, "reuse_connection", 0);
    }
    if let Some(sni) = &check.sni {
        entry(w, i, "sni", quote(sni));
    }
    if !check.verify {
        entry(w, i, "verify", 0);
    }
    for (key, value) in [
        ("ca_file", &check.ca_file),
        ("client_cert", &check.client_cert),
        ("client_key", &check.client_key),
    ] {
        if let Some(value) = value {
            entry(w, i, key, quote(value));
        }
    }
    if check.tls_min != defaults.tls_min {
        entry(w, i, "tls_min", check.tls_min);
    }
    if check.starttls {
        entry(w, i, "starttls", 1);
    }
    if let Some(query) = &check.query {
        entry(w, i, "query", quote(query));
    }
    if check.record != defaults.record {
        entry(w, i, "record", check.record);
    }
    if check.transport != defaults.transport {
        entry(w, i, "transport", check.transport);
    }
    if check.rcode != defaults.rcode {
        entry(w, i, "rcode", check.rcode);
    }
    for (key, value) in [
        ("answer", &check.answer),
        ("command", &check.command),
        ("file", &check.file),
    ] {
        if let Some(value) = value {
            entry(w, i, key, quote(value));
        }
    }
    if check.dynamic {
        entry(w, i, "dynamic", 1);
    }
    let _ = writeln!(w, "{outer}}}");
}

/// Bytes as lower-case hex digits, two per byte.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn entry(w: &mut String, indent: &str, key: &str, value: impl std::fmt::Display) {
    let _ = writeln!(w, "{indent}{key} = {value}");
}

fn address_on_device(a: &AddressOnDevice) -> String {
    format!("{} {}", a.host, quote(&a.device))
}

/// Whether `s` can stand as one token without quotes.
pub(crate) fn is_bare_token(s: &str) -> bool {
    !s.is_empty() && !s.contains([' ', '\t', '\r', '\n']) && !s.starts_with(['"', '\'', '#'])
}

/// `s` as one lvs.cf token: bare where it can be, else quoted with a
/// quote it does not contain. A leading `=` is quoted too (the `key=value`
/// extension would split it off). A string with blanks and both quotes
/// cannot be written (no escapes exist); validation reports those, and this
/// writes them double-quoted. The one quoting rule of lvs-rs: the writer and
/// the web tool both use it.
pub fn quote(s: &str) -> Cow<'_, str> {
    if is_bare_token(s) && !s.starts_with('=') {
        Cow::Borrowed(s)
    } else if !s.contains('"') || s.contains('\'') {
        Cow::Owned(format!("\"{s}\""))
    } else {
        Cow::Owned(format!("'{s}'"))
    }
}

/// A token's text without the quotes [`quote`] put around it.
pub fn unquote(token: &str) -> &str {
    for mark in ['"', '\''] {
        if let Some(inner) = token.strip_prefix(mark).and_then(|t| t.strip_suffix(mark)) {
            return inner;
        }
    }
    token
}

fn quoted(text: &Text) -> Cow<'_, str> {
    match text.quote.char() {
        Some(q) => Cow::Owned(format!("{q}{}{q}", text.value)),
        None => Cow::Borrowed(text.value.as_str()),
    }
}

/// Why a string cannot be written as a plain value, if it cannot.
pub(crate) fn plain_problem(s: &str) -> Option<&'static str> {
    if s.contains(['\r', '\n']) {
        Some("contains a line break")
    } else if !is_bare_token(s) && s.contains('"') && s.contains('\'') {
        Some("needs quotes but contains both kinds of quote")
    } else {
        None
    }
}

/// Why a quoted value cannot be written, if it cannot.
pub(crate) fn text_problem(text: &Text) -> Option<&'static str> {
    if text.value.contains(['\r', '\n']) {
        return Some("contains a line break");
    }
    match text.quote.char() {
        None if !is_bare_token(&text.value) => {
            Some("needs quotes (it is empty, has blanks, or starts with a quote or #)")
        }
        Some(q) if text.value.contains(q) => Some("contains its own quote character"),
        _ => None,
    }
}
