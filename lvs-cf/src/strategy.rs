//! proptest strategies for lvs.cf (feature `proptest`).
//!
//! - [`config()`]: valid models: [`validate`](crate::validate()) finds no
//!   error in them, so `parse(write(c)) == c` holds.
//! - [`piranha_config()`]: valid models that use no lvs-rs extension, whose
//!   canonical text Piranha 0.8.6 reads.
//! - [`ugly_text()`]: a valid model with a text that means it but is written
//!   the hard way: odd blanks and tabs, comment and blank lines, CRLF, octal
//!   and hex numbers, `inet_aton` address forms, service-name ports, quoted
//!   keys and values, `key=value`, trailing comments, duplicate keys where
//!   the later one wins. Parse it with [`ugly_text_options()`].
//! - [`mutated_text()`]: such texts with bytes inserted, deleted or replaced,
//!   for never-panic properties.
//!
//! ```
//! use proptest::prelude::*;
//! proptest!(|((config, text) in lvs_cf::strategy::ugly_text())| {
//!     let parsed = lvs_cf::parse_with(&text, &lvs_cf::strategy::ugly_text_options()).unwrap();
//!     prop_assert_eq!(parsed.config, config);
//! });
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use crate::model::*;
use crate::services::Services;
use crate::writer::is_bare_token;
use crate::ParseOptions;

/// The options [`ugly_text()`] texts are written for: the lvs-rs dialect and
/// the built-in services table (so `port = https` means 443 on any machine).
pub fn ugly_text_options() -> ParseOptions<'static> {
    ParseOptions {
        strict: false,
        services: Some(Services::builtin()),
    }
}

fn word() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_./:@+-]{1,12}".prop_filter("a bare token", |s| is_bare_token(s) && !s.starts_with('='))
}

/// Strings as plain values: mostly bare words, some with blanks (written quoted).
fn plain_string() -> impl Strategy<Value = String> {
    prop_oneof![4 => word(), 1 => "[a-z0-9/]{1,6}( [a-z0-9=#'-]{1,6}){1,3}"]
}

fn text() -> impl Strategy<Value = Text> {
    prop_oneof![
        word().prop_map(Text::bare),
        r#"[ -!#-~]{0,24}"#.prop_map(Text::quoted),
        "[ -&(-~]{0,24}".prop_map(|value| Text {
            value,
            quote: Quote::Single
        }),
    ]
}

fn seconds() -> impl Strategy<Value = Seconds> {
    prop_oneof![
        3 => (1u64..=3600).prop_map(Seconds::whole),
        1 => (1u64..=100_000).prop_map(|ms| Seconds(Duration::from_millis(ms))),
    ]
}

fn host_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,8}(\\.[a-z]{2,5}){0,2}"
}

fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}

fn ipv6() -> impl Strategy<Value = Ipv6Addr> {
    prop_oneof![
        any::<u128>().prop_map(Ipv6Addr::from),
        (0u16..=0xffff).prop_map(|n| Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n))
    ]
}

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        3 => ipv4().prop_map(|a| Host::Ip(a.into())),
        1 => ipv6().prop_map(|a| Host::Ip(a.into())),
        1 => host_name().prop_map(Host::Name),
    ]
}

/// A host that is not 0.0.0.0 or ::.
fn specified_host() -> impl Strategy<Value = Host> {
    host().prop_filter("specified", |h| !h.is_unspecified())
}

fn netmask_for(v6: bool) -> BoxedStrategy<Netmask> {
    if v6 {
        (0u8..=128).prop_map(Netmask::Prefix).boxed()
    } else {
        prop_oneof![
            (0u32..=32)
                .prop_map(|len| Netmask::Dotted(Ipv4Addr::from(u32::MAX.checked_shl(32 - len).unwrap_or(0)))),
            (0u8..=32).prop_map(Netmask::Prefix),
        ]
        .boxed()
    }
}

fn device() -> impl Strategy<Value = String> {
    "(eth|ens|bond)[0-9](:[0-9]{1,2})?"
}

fn keyword<T: Copy + std::fmt::Debug + 'static>(
    all: &'static [(T, &'static str, bool)],
) -> impl Strategy<Value = T> {
    proptest::sample::select(all.iter().map(|&(v, _, _)| v).collect::<Vec<_>>())
}

/// What one address family draws from.
#[derive(Clone, Copy, Debug)]
enum Family {
    V4,
    V6,
    Names,
}

fn family() -> impl Strategy<Value = Family> {
    prop_oneof![3 => Just(Family::V4), 1 => Just(Family::V6), 1 => Just(Family::Names)]
}

fn address_in(family: Family) -> BoxedStrategy<Host> {
    match family {
        Family::V4 => ipv4()
            .prop_filter("specified", |a| !a.is_unspecified())
            .prop_map(|a| Host::Ip(a.into()))
            .boxed(),
        Family::V6 => ipv6()
            .prop_filter("specified", |a| !a.is_unspecified())
            .prop_map(|a| Host::Ip(a.into()))
            .boxed(),
        Family::Names => host_name().prop_map(Host::Name).boxed(),
    }
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        text().prop_map(Payload::Text),
        vec(any::<u8>(), 0..8).prop_map(Payload::Hex)
    ]
}

/// Valid `check` blocks of every type, named `check{index}`. Keys that the
/// type does not read are drawn too: they are warnings, not errors.
pub fn check_block(index: usize) -> BoxedStrategy<CheckBlock> {
    let address = prop_oneof![ipv4().prop_map(IpAddr::V4), ipv6().prop_map(IpAddr::V6)];
    let head = (
        keyword(CheckType::ALL),
        option::of(address),
        option::of(any::<u16>()),
        any::<bool>(),
        option::of(seconds()),
        option::of(payload()),
        option::of(payload()),
        any::<bool>(),
    )
        .boxed();
    let http = (
        keyword(HttpMethod::ALL),
        option::of("/[a-z0-9/._?=&%-]{0,12}"),
        option::of(word()),
        vec((100u16..=599, 0u16..50), 0..3),
        option::of(plain_string()),
        option::of(any::<[u8; 16]>()),
        keyword(HttpVersion::ALL),
    )
        .boxed();
    let tls = (
        option::of(word()),
        any::<bool>(),
        option::of(plain_string()),
        option::of((plain_string(), plain_string())),
        keyword(TlsVersion::ALL),
        any::<bool>(),
    )
        .boxed();
    let dns = (
        option::of("[a-z][a-z0-9-]{0,8}(\\.[a-z][a-z0-9-]{0,8}){0,2}\\.?"),
        keyword(RecordType::ALL),
        keyword(DnsTransport::ALL),
        keyword(Rcode::ALL),
        option::of(plain_string()),
        option::of(plain_string()),
    )
        .boxed();
    let local = (any::<bool>(), option::of(plain_string()), any::<bool>()).boxed();
    (head, http, tls, dns, local)
        .prop_map(move |(head, http, tls, dns, local)| {
            let (kind, address, port, with_source, timeout, send, expect, use_regex) = head;
            let (method, path, host, status, body, digest, http_version) = http;
            let (sni, verify, ca_file, client, tls_min, starttls) = tls;
            let (query, record, transport, rcode, answer, command) = dns;
            let mut check = CheckBlock::new(format!("check{index}"));
            check.kind = kind;
            check.address = address;
            check.port = port;
            // The source takes the address's family (and its value: any local one would do).
            check.source = address.filter(|_| with_source);
            check.timeout = timeout;
            check.use_regex = use_regex && !matches!(expect, Some(Payload::Hex(_)));
            check.send = send;
            check.expect = expect;
            check.method = method;
            check.path = path;
            check.host = host;
            check.status = status
                .into_iter()
                .map(|(low, span)| StatusRange {
                    low,
                    high: (low + span).min(599),
                })
                .collect();
            check.body = body;
            check.digest = digest;
            check.http_version = http_version;
            check.sni = sni;
            check.verify = verify;
            check.ca_file = ca_file;
            (check.client_cert, check.client_key) = client.unzip();
            check.tls_min = tls_min;
            check.starttls = starttls;
            check.query = query.or_else(|| (kind == CheckType::Dns).then(|| "example.org".to_owned()));
            check.record = record;
            check.transport = transport;
            check.rcode = rcode;
            check.answer = answer;
            check.command =
                command.or_else(|| (kind == CheckType::Program).then(|| "/bin/true %h".to_owned()));
            (check.dynamic, check.file, check.reuse_connection) = local;
            if kind == CheckType::File && check.file.is_none() {
                check.file = Some("/run/lvs/state".to_owned());
            }
            check
        })
        .boxed()
}

fn check_blocks(most: usize) -> BoxedStrategy<Vec<CheckBlock>> {
    (0..=most)
        .prop_flat_map(|n| (0..n).map(check_block).collect::<Vec<_>>())
        .boxed()
}

/// Valid [`ServerOptions`]: a tunnel type with the keys it takes, and the
/// thresholds as a pair, the lower not above the upper (so that a server's
/// pair over its service's is valid too).
fn server_options() -> BoxedStrategy<ServerOptions> {
    let tunnel = prop_oneof![
        3 => Just((None, None, None)),
        1 => option::of(Just(TunnelType::Ipip)).prop_map(|kind| (kind, None, None)),
        1 => (1u16..=65535, keyword(TunnelChecksum::ALL))
            .prop_map(|(port, checksum)| (Some(TunnelType::Gue), Some(port), Some(checksum))),
        1 => option::of(prop_oneof![Just(TunnelChecksum::None), Just(TunnelChecksum::Checksum)])
            .prop_map(|checksum| (Some(TunnelType::Gre), None, checksum)),
    ];
    let thresholds = prop_oneof![
        2 => Just((None, None)),
        1 => (0u32..=1000, 0u32..=1000).prop_map(|(a, b)| (Some(a.max(b)), Some(a.min(b)))),
    ];
    (option::of(keyword(Network::ALL)), tunnel, thresholds)
        .prop_map(
            |(network, (tunnel_type, tunnel_port, tunnel_checksum), (upper_threshold, lower_threshold))| {
                ServerOptions {
                    network,
                    tunnel_type,
                    tunnel_port,
                    tunnel_checksum,
                    upper_threshold,
                    lower_threshold,
                }
            },
        )
        .boxed()
}

fn server(index: usize, family: Family) -> BoxedStrategy<RealServer> {
    (
        "[a-zA-Z][a-zA-Z0-9_-]{0,6}",
        option::weighted(0.9, address_in(family)),
        any::<bool>(),
        0u32..=65535,
        option::of(any::<u16>()),
        prop_oneof![4 => Just(Vec::new()), 1 => check_blocks(2)],
        prop_oneof![3 => Just(ServerOptions::default()), 1 => server_options()],
        option::of(plain_string()),
    )
        .prop_map(
            move |(name, address, active, weight, port, checks, options, notify)| {
                // A server with no address must be inactive to be valid.
                let active = active && address.is_some();
                RealServer {
                    name: format!("{name}{index}"),
                    address,
                    active,
                    weight,
                    port,
                    checks,
                    options,
                    notify,
                }
            },
        )
        .boxed()
}

/// The VIP of the `index`-th service: distinct per index, so active services never collide.
fn vip(index: usize, family: Family) -> Host {
    let n = index as u32 + 1;
    match family {
        Family::V4 => Host::Ip(IpAddr::V4(Ipv4Addr::from(0xC000_0200 + n))),
        Family::V6 => Host::Ip(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 1, n as u16))),
        Family::Names => Host::Name(format!("vip{n}.example")),
    }
}

fn virtual_service(index: usize) -> impl Strategy<Value = VirtualService> {
    let head = (
        "[a-zA-Z][a-zA-Z0-9_.-]{0,8}",
        any::<bool>(),
        family(),
        device(),
        any::<u16>(),
        keyword(Protocol::ALL),
        prop_oneof![3 => Just(0u32), 1 => Just(index as u32 + 1)],
        keyword(Scheduler::ALL),
        prop_oneof![Just(0u32), 1u32..=2_678_400],
        seconds(),
        0u32..=100_000,
        any::<bool>(),
    )
        .boxed();
    let checks = (
        option::of(text()),
        option::of(text()),
        any::<bool>(),
        option::of(text()),
        option::of(plain_string()),
        prop_oneof![4 => Just("/usr/sbin/nanny".to_owned()), 1 => word()],
        option::of(text()),
        option::of(text()),
        option::of(host()),
        option::of(vec(
            word().prop_filter("not a bracket", |w| w != "[" && w != "]"),
            0..3,
        )),
    )
        .boxed();
    let ipvs = (
        prop_oneof![2 => Just(ServerOptions::default()), 1 => server_options()],
        (any::<bool>(), any::<bool>(), any::<bool>()),
        option::of(Just(PersistenceEngine::Sip)),
        (
            option::of(any::<u16>()),
            option::of(keyword(Network::ALL)),
            option::of(1u32..=65535),
        ),
    )
        .boxed();
    (
        head,
        checks,
        (
            1u32..5,
            option::of(seconds()),
            option::of(plain_string()),
            option::of((
                1u32..=100,
                option::of(0u32..=10),
                option::of(keyword(QuorumAction::ALL)),
            )),
        ),
        any::<bool>(),
        ipvs,
    )
        .prop_flat_map(move |(head, checks, extras, has_sorry, ipvs)| {
            // The family (third in `head`) decides the addresses of the rest.
            let family = head.2;
            let v6 = matches!(family, Family::V6);
            let sorry = if has_sorry && !matches!(family, Family::Names) {
                if v6 {
                    ipv6().prop_map(|a| Some(IpAddr::V6(a))).boxed()
                } else {
                    ipv4().prop_map(|a| Some(IpAddr::V4(a))).boxed()
                }
            } else {
                Just(None).boxed()
            };
            let servers =
                (0usize..4).prop_flat_map(move |n| (0..n).map(|j| server(j, family)).collect::<Vec<_>>());
            (
                Just(head),
                Just((checks, extras, ipvs)),
                sorry,
                option::of(netmask_for(v6)),
                option::of(netmask_for(v6)),
                (servers, prop_oneof![2 => Just(Vec::new()), 1 => check_blocks(3)]),
            )
        })
        .prop_map(
            move |(
                head,
                (checks, (failure_count, check_interval, notify, quorum), ipvs),
                sorry_server,
                vip_nmask,
                pmask,
                (servers, service_checks),
            )| {
                let (
                    name,
                    active,
                    family,
                    device,
                    port,
                    protocol,
                    fwmark,
                    scheduler,
                    persistent,
                    timeout,
                    reentry,
                    quiesce,
                ) = head;
                let (
                    send,
                    expect,
                    use_regex,
                    send_program,
                    load_monitor,
                    client_monitor,
                    start_cmd,
                    stop_cmd,
                    master,
                    dirs,
                ) = checks;
                let (server_options, (fallback, port_flag, one_packet), persistence_engine, sorry) = ipvs;
                let (sorry_port, sorry_network, sorry_weight) = sorry;
                // Flags only of the scheduler's own, one-packet scheduling only where the kernel takes it.
                let scheduler_flags = match scheduler {
                    Scheduler::Sh => [
                        (fallback, SchedulerFlag::ShFallback),
                        (port_flag, SchedulerFlag::ShPort),
                    ],
                    Scheduler::Mh => [
                        (fallback, SchedulerFlag::MhFallback),
                        (port_flag, SchedulerFlag::MhPort),
                    ],
                    _ => [(false, SchedulerFlag::MhFallback), (false, SchedulerFlag::MhPort)],
                }
                .into_iter()
                .filter_map(|(on, flag)| on.then_some(flag))
                .collect();
                let one_packet = one_packet && (protocol == Protocol::Udp || fwmark != 0);
                // A server's tunnel keys stand on their own only where the
                // service sets none (a GRE server under a GUE service would
                // inherit its port).
                let mut servers = servers;
                if server_options.has_tunnel_keys() {
                    for server in &mut servers {
                        server.options.tunnel_type = None;
                        server.options.tunnel_port = None;
                        server.options.tunnel_checksum = None;
                    }
                }
                VirtualService {
                    name: format!("{name}{index}"),
                    active,
                    address: Some(AddressOnDevice {
                        host: vip(index, family),
                        device,
                    }),
                    vip_nmask,
                    sorry_server,
                    port,
                    protocol,
                    fwmark,
                    scheduler,
                    persistent,
                    pmask: pmask.filter(|_| persistent > 0),
                    send,
                    expect,
                    use_regex,
                    send_program,
                    timeout,
                    reentry,
                    quiesce_server: quiesce,
                    failure_count,
                    check_interval,
                    load_monitor,
                    client_monitor,
                    start_cmd,
                    stop_cmd,
                    master,
                    dirs,
                    checks: service_checks,
                    server_options,
                    scheduler_flags,
                    one_packet,
                    persistence_engine,
                    sorry_port,
                    sorry_network,
                    sorry_weight,
                    notify,
                    quorum: quorum.map(|(minimum, _, _)| minimum),
                    hysteresis: quorum.and_then(|(_, hysteresis, _)| hysteresis),
                    // `sorry` needs a sorry server.
                    quorum_action: quorum
                        .and_then(|(_, _, action)| action)
                        .filter(|action| *action != QuorumAction::Sorry || sorry_server.is_some()),
                    vip_group: None,
                    servers,
                }
            },
        )
}

fn services(max: usize) -> impl Strategy<Value = Vec<VirtualService>> {
    (1..=max)
        .prop_flat_map(|n| (0..n).map(virtual_service).collect::<Vec<_>>())
        .prop_map(|mut list| {
            // At least one active service, as pulse requires.
            list[0].active = true;
            list
        })
}

/// Valid models.
pub fn config() -> impl Strategy<Value = Config> {
    (base_config().boxed(), option::of(routing().boxed()))
        .prop_map(|(c, routing)| match routing {
            Some(routing) => with_routing(c, routing),
            None => c,
        })
        .boxed()
}

/// VIP groups, routers beside the pair, tracks and heartbeat keys.
#[derive(Clone, Debug)]
struct Routing {
    routers: Vec<RouterBlock>,
    groups: Vec<VipGroup>,
    tracks: Vec<TrackBlock>,
    keys: Vec<(u8, String)>,
    announce: (Option<Seconds>, Option<Seconds>),
    catch_up_bound: Option<Seconds>,
}

fn routing() -> impl Strategy<Value = Routing> {
    let router = (specified_host(), option::of(specified_host())).prop_map(|(address, private)| {
        let mut router = RouterBlock::new("");
        router.address = Some(address);
        router.private = private;
        router
    });
    let group = (
        proptest::collection::vec(1u8..=254, 1..4),
        any::<bool>(),
        option::of(seconds()),
        option::of(plain_string()),
    )
        .prop_map(|(priorities, preempt, preempt_delay, notify)| {
            let mut group = VipGroup::new("");
            // Router names are given in `with_routing`; here only the priorities.
            group.priorities = priorities.into_iter().map(|p| (String::new(), p)).collect();
            group.preempt = preempt;
            group.preempt_delay = preempt_delay;
            group.notify = notify;
            group
        });
    let target = prop_oneof![
        plain_string().prop_map(TrackTarget::Program),
        word().prop_map(TrackTarget::Process),
        device().prop_map(TrackTarget::Interface),
        word().prop_map(TrackTarget::File),
    ];
    let track = (
        target,
        option::of(seconds()),
        1u32..10,
        1u32..10,
        -253i16..=253,
        any::<bool>(),
    )
        .prop_map(|(target, interval, rise, fall, weight, every_group)| {
            let mut track = TrackBlock::new("");
            track.target = Some(target);
            track.interval = interval;
            track.rise = rise;
            track.fall = fall;
            track.weight = weight;
            // Filled in `with_routing`: the first group, or every group.
            track.groups = if every_group {
                Vec::new()
            } else {
                vec![String::new()]
            };
            track
        });
    (
        proptest::collection::vec(router, 0..3),
        proptest::collection::vec(group, 1..4),
        proptest::collection::vec(track, 0..3),
        proptest::collection::btree_map(any::<u8>(), word(), 0..3),
        (option::of(seconds()), option::of(seconds())),
        option::of(seconds()),
    )
        .prop_map(
            |(routers, groups, tracks, keys, announce, catch_up_bound)| Routing {
                routers,
                groups,
                tracks,
                keys: keys.into_iter().collect(),
                announce,
                catch_up_bound,
            },
        )
}

/// `c` with VIP groups: named routers and groups, every virtual service in
/// a group, and what groups need (an authenticated heartbeat, `service = lvs`).
fn with_routing(mut c: Config, routing: Routing) -> Config {
    c.service = ServiceType::Lvs;
    let mut names: Vec<String> = Vec::new();
    if c.primary.is_some() {
        names.push("primary".to_owned());
    }
    if c.backup_address().is_some() && c.backup_active {
        names.push("backup".to_owned());
    }
    for (i, mut router) in routing.routers.into_iter().enumerate() {
        router.name = format!("router{i}");
        names.push(router.name.clone());
        c.routers.push(router);
    }
    if names.is_empty() {
        return c;
    }
    for (g, mut group) in routing.groups.into_iter().enumerate() {
        group.name = format!("group{g}");
        let mut priorities = Vec::new();
        for (r, (_, priority)) in group.priorities.iter().enumerate() {
            let name = &names[(g + r) % names.len()];
            if !priorities.iter().any(|(known, _)| known == name) {
                priorities.push((name.clone(), *priority));
            }
        }
        group.priorities = priorities;
        c.vip_groups.push(group);
    }
    for (t, mut track) in routing.tracks.into_iter().enumerate() {
        track.name = format!("track{t}");
        if !track.groups.is_empty() {
            track.groups = vec!["group0".to_owned()];
        }
        c.tracks.push(track);
    }
    let groups = c.vip_groups.len();
    for (i, vs) in c.virtual_services.iter_mut().enumerate() {
        vs.vip_group = Some(format!("group{}", i % groups));
    }
    if routing.keys.is_empty() {
        if c.heartbeat_key.is_none() {
            c.heartbeat_key = Some("/etc/sysconfig/ha/heartbeat.key".to_owned());
        }
    } else {
        c.heartbeat_key = None;
        c.heartbeat_send_key = routing.keys.last().map(|(id, _)| *id);
        c.heartbeat_keys = routing.keys;
    }
    (c.announce_again, c.announce_refresh) = routing.announce;
    c.catch_up_bound = routing.catch_up_bound;
    c
}

/// Models without VIP groups.
fn base_config() -> impl Strategy<Value = Config> {
    let heartbeat = (
        any::<i32>(),
        prop_oneof![4 => Just(ServiceType::Lvs), 1 => Just(ServiceType::Fos)],
        option::of(specified_host()),
        option::of(specified_host()),
        option::of(host()),
        option::of(specified_host()),
        any::<bool>(),
        any::<bool>(),
        any::<u16>(),
        seconds(),
        seconds(),
        keyword(Network::ALL),
    );
    let rest = (
        option::of((ipv4().prop_map(|a| Host::Ip(a.into())), device())),
        option::of(netmask_for(false)),
        option::of(keyword(ConflictAction::ALL)),
        prop_oneof![3 => Just("NONE".to_owned()), 1 => word()],
        prop_oneof![3 => Just("rsh".to_owned()), 1 => Just("ssh".to_owned())],
        option::of(plain_string()),
        option::of(plain_string()),
        any::<[bool; 5]>(),
        prop_oneof![Just("eth0".to_owned()), device()],
        any::<u8>(),
        any::<[u16; 3]>(),
        (
            option::of(word()),
            option::of(word()),
            prop_oneof![Just("/sbin/ipvsadm".to_owned()), word()],
        ),
    );
    let extensions = (
        option::of(prop_oneof![
            Just("/etc/sysconfig/ha/heartbeat.key".to_owned()),
            word()
        ]),
        prop_oneof![3 => Just(5u32), 1 => 0u32..=100],
        seconds(),
        (
            option::of(any::<bool>()),
            option::of(any::<bool>()),
            option::of(0..=IpvsSysctls::MAX_CONN_REUSE_MODE),
            option::of(any::<bool>()),
        ),
        (option::of(word()), option::of(seconds())),
    );
    (heartbeat, rest, extensions, services(4), services(2)).prop_map(
        |(
            heartbeat,
            rest,
            (heartbeat_key, arp_count, arp_interval, sysctls, (maintenance_dir, drain_timeout)),
            virtuals,
            failovers,
        )| {
            let (
                serial_no,
                service,
                primary,
                primary_private,
                backup,
                backup_private,
                backup_active,
                hb,
                hb_port,
                keepalive,
                deadtime,
                network,
            ) = heartbeat;
            let (
                nat_router,
                nat_nmask,
                rca,
                debug_level,
                rsh_command,
                active_cmd,
                inactive_cmd,
                flags,
                syncd_iface,
                syncd_id,
                timeouts,
                misc,
            ) = rest;
            let (primary_shared, backup_shared, ipvsadm) = misc;
            let backup = match (&primary, backup) {
                (Some(p), Some(b)) if *p == b => None,
                (_, b) => b,
            };
            Config {
                serial_no,
                service,
                primary,
                primary_private,
                primary_shared,
                backup,
                backup_private,
                backup_shared,
                backup_active,
                heartbeat: hb,
                heartbeat_port: hb_port,
                keepalive,
                deadtime,
                network,
                nat_router: nat_router.map(|(host, device)| AddressOnDevice { host, device }),
                nat_nmask,
                reservation_conflict_action: rca,
                debug_level,
                rsh_command,
                ipvsadm,
                sync: flags[0],
                active_cmd,
                inactive_cmd,
                monitor_links: flags[1],
                hard_shutdown: flags[2],
                syncdaemon: flags[3],
                syncd_iface,
                syncd_id,
                tcp_timeout: u32::from(timeouts[0]),
                tcpfin_timeout: u32::from(timeouts[1]),
                udp_timeout: u32::from(timeouts[2]) * u32::from(flags[4]),
                heartbeat_key,
                arp_count,
                arp_interval,
                ipvs_sysctls: IpvsSysctls {
                    expire_nodest_conn: sysctls.0,
                    expire_quiescent_template: sysctls.1,
                    conn_reuse_mode: sysctls.2,
                    sloppy_tcp: sysctls.3,
                },
                maintenance_dir,
                drain_timeout,
                virtual_services: virtuals,
                failover_services: failovers,
                // VIP groups come from `with_routing`.
                ..Config::default()
            }
        },
    )
}

/// Valid models that use no lvs-rs extension, so Piranha 0.8.6 reads their
/// canonical text (for differential tests against Piranha's own parser).
pub fn piranha_config() -> impl Strategy<Value = Config> {
    config().prop_map(without_extensions)
}

/// The nearest model in Piranha's language: whole seconds (rounded up), IPv4
/// addresses (an IPv6 address becomes one from its last four bytes), dotted
/// masks, TCP for SCTP, `wlc` for newer schedulers, names without blanks.
fn without_extensions(mut c: Config) -> Config {
    fn whole(s: Seconds) -> Seconds {
        Seconds::whole(s.0.as_secs() + u64::from(s.0.subsec_nanos() > 0))
    }
    fn v4(ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(_) => ip,
            IpAddr::V6(v6) => {
                let [.., a, b, c, d] = v6.octets();
                let mapped = Ipv4Addr::new(a, b, c, d);
                IpAddr::V4(if mapped.is_unspecified() {
                    Ipv4Addr::new(10, 255, 255, 254)
                } else {
                    mapped
                })
            }
        }
    }
    fn host(h: &mut Option<Host>) {
        if let Some(Host::Ip(ip)) = h {
            *ip = v4(*ip);
        }
    }
    fn mask(m: &mut Option<Netmask>) {
        if let Some(Netmask::Prefix(len)) = *m {
            let len = u32::from(len.min(32));
            *m = Some(Netmask::Dotted(Ipv4Addr::from(
                u32::MAX.checked_shl(32 - len).unwrap_or(0),
            )));
        }
    }
    fn bare_name(name: &mut String) {
        *name = name.replace([' ', '\t'], "_");
    }
    c.keepalive = whole(c.keepalive);
    c.deadtime = whole(c.deadtime);
    let piranha = Config::default();
    c.heartbeat_key = piranha.heartbeat_key;
    c.arp_count = piranha.arp_count;
    c.arp_interval = piranha.arp_interval;
    c.ipvs_sysctls = piranha.ipvs_sysctls;
    c.maintenance_dir = piranha.maintenance_dir;
    c.drain_timeout = piranha.drain_timeout;
    c.heartbeat_keys = piranha.heartbeat_keys;
    c.heartbeat_send_key = piranha.heartbeat_send_key;
    c.announce_again = piranha.announce_again;
    c.announce_refresh = piranha.announce_refresh;
    c.catch_up_bound = piranha.catch_up_bound;
    c.routers = piranha.routers;
    c.vip_groups = piranha.vip_groups;
    c.tracks = piranha.tracks;
    for h in [
        &mut c.primary,
        &mut c.primary_private,
        &mut c.backup,
        &mut c.backup_private,
    ] {
        host(h);
    }
    if c.primary.is_some() && c.primary == c.backup {
        c.backup = None;
    }
    if let Some(router) = &mut c.nat_router {
        let mut h = Some(router.host.clone());
        host(&mut h);
        router.host = h.unwrap_or_else(|| router.host.clone());
    }
    mask(&mut c.nat_nmask);
    for vs in c
        .virtual_services
        .iter_mut()
        .chain(c.failover_services.iter_mut())
    {
        vs.timeout = whole(vs.timeout);
        vs.failure_count = 1;
        vs.check_interval = None;
        if vs.protocol.is_extension() {
            vs.protocol = Protocol::Tcp;
        }
        if vs.scheduler.is_extension() {
            vs.scheduler = Scheduler::Wlc;
        }
        if let Some(address) = &mut vs.address {
            let mut h = Some(address.host.clone());
            host(&mut h);
            address.host = h.unwrap_or_else(|| address.host.clone());
        }
        vs.sorry_server = vs.sorry_server.map(v4);
        host(&mut vs.master);
        mask(&mut vs.vip_nmask);
        mask(&mut vs.pmask);
        bare_name(&mut vs.name);
        // Check blocks and IPVS settings beyond Piranha's are lvs-rs's own.
        vs.checks.clear();
        let piranha = VirtualService::new("");
        vs.server_options = piranha.server_options;
        vs.scheduler_flags = piranha.scheduler_flags;
        vs.one_packet = piranha.one_packet;
        vs.persistence_engine = piranha.persistence_engine;
        vs.sorry_port = piranha.sorry_port;
        vs.sorry_network = piranha.sorry_network;
        vs.sorry_weight = piranha.sorry_weight;
        vs.notify = piranha.notify;
        vs.quorum = piranha.quorum;
        vs.hysteresis = piranha.hysteresis;
        vs.quorum_action = piranha.quorum_action;
        vs.vip_group = piranha.vip_group;
        for server in &mut vs.servers {
            host(&mut server.address);
            bare_name(&mut server.name);
            server.checks.clear();
            server.options = ServerOptions::default();
            server.notify = None;
        }
    }
    c
}

/// A valid model with its canonical text.
pub fn canonical_text() -> impl Strategy<Value = (Config, String)> {
    config().prop_map(|c| {
        let text = crate::write(&c);
        (c, text)
    })
}

/// A valid model with a valid-but-ugly text that means it.
pub fn ugly_text() -> impl Strategy<Value = (Config, String)> {
    (config(), any::<u64>()).prop_map(|(c, seed)| {
        let text = render_ugly(&c, seed);
        (c, text)
    })
}

/// Ugly texts with a few bytes inserted, deleted or replaced; often invalid.
pub fn mutated_text() -> impl Strategy<Value = Vec<u8>> {
    (
        ugly_text(),
        vec((any::<prop::sample::Index>(), 0u8..3, any::<u8>()), 1..8),
    )
        .prop_map(|((_, text), edits)| {
            let mut bytes = text.into_bytes();
            for (at, op, byte) in edits {
                let i = at.index(bytes.len() + 1);
                match op {
                    0 => bytes.insert(i, byte),
                    1 if i < bytes.len() => {
                        bytes.remove(i);
                    }
                    _ if i < bytes.len() => bytes[i] = byte,
                    _ => bytes.push(byte),
                }
            }
            bytes
        })
}

/// A small deterministic generator for the renderer's choices.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % sides.max(1)
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.roll(one_in) == 0
    }
}

/// Renders `config` as an ugly text; the same seed gives the same text.
pub fn render_ugly(config: &Config, seed: u64) -> String {
    let mut r = Ugly {
        dice: Dice(seed | 1),
        out: String::new(),
        crlf: false,
    };
    r.crlf = r.dice.chance(3);
    r.config(config);
    r.out
}

struct Ugly {
    dice: Dice,
    out: String,
    crlf: bool,
}

impl Ugly {
    fn blanks(&mut self, at_least_one: bool) -> &'static str {
        const CHOICES: [&str; 5] = [" ", "\t", "  ", " \t ", "\t\t"];
        if !at_least_one && self.dice.chance(4) {
            return "";
        }
        CHOICES[self.dice.roll(CHOICES.len() as u64) as usize]
    }

    fn end_line(&mut self) {
        if self.dice.chance(8) {
            let b = self.blanks(true);
            self.out.push_str(b);
            self.out.push_str("# trailing note = 1");
        } else if self.dice.chance(8) {
            let b = self.blanks(false);
            self.out.push_str(b);
        }
        self.out.push_str(if self.crlf || self.dice.chance(20) {
            "\r\n"
        } else {
            "\n"
        });
        while self.dice.chance(6) {
            let b = self.blanks(false);
            self.out.push_str(b);
            if self.dice.chance(2) {
                self.out.push_str("# a comment, with \"quotes\" and = signs");
            }
            self.out.push('\n');
        }
    }

    /// `key = value` with any of the spellings the dialect accepts.
    fn line(&mut self, key: &str, value: &str) {
        let indent = self.blanks(false);
        self.out.push_str(indent);
        let equals = match self.dice.roll(6) {
            0 => "=".to_owned(),
            1 => format!("{}=", self.blanks(true)),
            2 => format!("={}", self.blanks(true)),
            _ => format!("{}={}", self.blanks(true), self.blanks(true)),
        };
        // A quoted key must be followed by a blank.
        if !equals.starts_with('=') && self.dice.chance(10) {
            self.out.push_str(&format!("\"{key}\""));
        } else {
            self.out.push_str(key);
        }
        self.out.push_str(&equals);
        self.out.push_str(value);
        self.end_line();
    }

    fn int(&mut self, n: i64) -> String {
        if n < 0 {
            return if self.dice.chance(2) {
                format!("-0x{:x}", n.unsigned_abs())
            } else {
                n.to_string()
            };
        }
        match self.dice.roll(5) {
            0 if n > 0 => format!("0{n:o}"),
            1 => format!("0x{n:x}"),
            2 if n >= 0 => format!("0X{n:X}"),
            _ => n.to_string(),
        }
    }

    fn boolean(&mut self, b: bool) -> String {
        self.int(i64::from(b))
    }

    fn seconds(&mut self, s: Seconds) -> String {
        if s.is_whole() {
            self.int(s.0.as_secs() as i64)
        } else {
            s.to_string()
        }
    }

    fn port(&mut self, port: u16) -> String {
        if self.dice.chance(2) {
            if let Some((name, _)) = Services::builtin_names().find(|&(_, p)| p == port) {
                return name.to_owned();
            }
        }
        self.int(port.into())
    }

    fn ip(&mut self, ip: IpAddr) -> String {
        match ip {
            IpAddr::V4(v4) => {
                let [a, b, c, d] = v4.octets();
                match self.dice.roll(4) {
                    0 if b == 0 && c == 0 => format!("{a}.{d}"),
                    1 => format!("0x{a:x}.{b}.0{c:o}.{d}"),
                    2 => u32::from(v4).to_string(),
                    _ => v4.to_string(),
                }
            }
            IpAddr::V6(v6) => {
                if self.dice.chance(3) {
                    format!("[{v6}]")
                } else {
                    v6.to_string()
                }
            }
        }
    }

    fn host(&mut self, host: &Host) -> String {
        match host {
            Host::Ip(ip) => self.ip(*ip),
            Host::Name(name) => name.clone(),
        }
    }

    fn plain(&mut self, s: &str) -> String {
        let bare = is_bare_token(s) && !s.starts_with('=');
        if bare && !self.dice.chance(4) {
            return s.to_owned();
        }
        if !s.contains('\'') && (s.contains('"') || self.dice.chance(2)) {
            format!("'{s}'")
        } else {
            format!("\"{s}\"")
        }
    }

    fn text(&self, t: &Text) -> String {
        t.piranha_value()
    }

    fn netmask(&mut self, mask: Netmask) -> String {
        match mask {
            Netmask::Dotted(m) => self.ip(IpAddr::V4(m)),
            Netmask::Prefix(len) => format!("/{len}"),
        }
    }

    /// Sometimes writes another value first, which the later line overrides.
    fn shadow(&mut self, key: &str, wrong: &str) {
        // Keys for which `1` is a valid value.
        const SHADOWABLE: &[&str] = &[
            "serial_no",
            "backup_active",
            "heartbeat",
            "sync",
            "hard_shutdown",
            "syncdaemon",
            "monitor_links",
            "syncd_id",
            "tcp_timeout",
            "tcpfin_timeout",
            "udp_timeout",
            "keepalive",
            "deadtime",
            "active",
            "fwmark",
            "persistent",
            "use_regex",
            "quiesce_server",
            "timeout",
            "reentry",
            "weight",
            "port",
            "debug_level",
            "rsh_command",
            "send",
            "expect",
        ];
        if SHADOWABLE.contains(&key) && self.dice.chance(12) {
            self.line(key, wrong);
        }
    }

    fn emit(&mut self, entries: &mut [(String, String)]) {
        // Shuffle: order does not matter among these keys.
        for i in (1..entries.len()).rev() {
            let j = self.dice.roll(i as u64 + 1) as usize;
            entries.swap(i, j);
        }
        for (key, value) in entries.iter() {
            self.shadow(key, "1");
            self.line(key, value);
        }
    }

    fn config(&mut self, c: &Config) {
        let d = Config::default();
        let mut e: Vec<(String, String)> = Vec::new();
        macro_rules! put {
            ($key:expr, $value:expr) => {{
                let value = $value;
                e.push(($key.to_owned(), value));
            }};
        }
        put!("serial_no", self.int(c.serial_no.into()));
        if c.service != d.service || self.dice.chance(2) {
            put!("service", c.service.to_string());
        }
        for (key, host) in [
            ("primary", &c.primary),
            ("primary_private", &c.primary_private),
            ("backup", &c.backup),
            ("backup_private", &c.backup_private),
        ] {
            if let Some(host) = host {
                put!(key, self.host(host));
            }
        }
        for (key, value) in [
            ("primary_shared", &c.primary_shared),
            ("backup_shared", &c.backup_shared),
        ] {
            if let Some(value) = value {
                put!(key, self.plain(value));
            }
        }
        for (key, value, default) in [
            ("backup_active", c.backup_active, d.backup_active),
            ("heartbeat", c.heartbeat, d.heartbeat),
            ("sync", c.sync, d.sync),
            ("hard_shutdown", c.hard_shutdown, d.hard_shutdown),
            ("syncdaemon", c.syncdaemon, d.syncdaemon),
        ] {
            if value != default || self.dice.chance(3) {
                put!(key, self.boolean(value));
            }
        }
        if c.monitor_links || self.dice.chance(3) {
            let on = if c.monitor_links {
                1 + self.dice.roll(3) as i64
            } else {
                0
            };
            put!("monitor_links", self.int(on));
        }
        put!("heartbeat_port", self.port(c.heartbeat_port));
        put!("keepalive", self.seconds(c.keepalive));
        put!("deadtime", self.seconds(c.deadtime));
        put!("network", c.network.to_string());
        if let Some(router) = &c.nat_router {
            let host = self.host(&router.host);
            let blanks = self.blanks(true);
            put!(
                "nat_router",
                format!("{host}{blanks}{}", self.plain(&router.device))
            );
        }
        if let Some(mask) = c.nat_nmask {
            put!("nat_nmask", self.netmask(mask));
        }
        if let Some(action) = c.reservation_conflict_action {
            put!("reservation_conflict_action", action.to_string());
        }
        for (key, value, default) in [
            ("debug_level", &c.debug_level, &d.debug_level),
            ("rsh_command", &c.rsh_command, &d.rsh_command),
            ("ipvsadm", &c.ipvsadm, &d.ipvsadm),
            ("syncd_iface", &c.syncd_iface, &d.syncd_iface),
        ] {
            if value != default || self.dice.chance(4) {
                put!(key, self.plain(value));
            }
        }
        for (key, value) in [("active_cmd", &c.active_cmd), ("inactive_cmd", &c.inactive_cmd)] {
            if let Some(value) = value {
                put!(key, self.plain(value));
            }
        }
        put!("syncd_id", self.int(c.syncd_id.into()));
        if let Some(path) = &c.heartbeat_key {
            put!("heartbeat_key", self.plain(path));
        }
        if c.arp_count != d.arp_count || self.dice.chance(4) {
            put!("arp_count", self.int(c.arp_count.into()));
        }
        if c.arp_interval != d.arp_interval || self.dice.chance(4) {
            put!("arp_interval", self.seconds(c.arp_interval));
        }
        for (key, value) in c.ipvs_sysctls.entries() {
            put!(key, value);
        }
        if let Some(path) = &c.maintenance_dir {
            put!("maintenance_dir", self.plain(path));
        }
        if let Some(timeout) = c.drain_timeout {
            put!("drain_timeout", self.seconds(timeout));
        }
        for (key, value) in [
            ("tcp_timeout", c.tcp_timeout),
            ("tcpfin_timeout", c.tcpfin_timeout),
            ("udp_timeout", c.udp_timeout),
        ] {
            if value != 0 || self.dice.chance(3) {
                put!(key, self.int(value.into()));
            }
        }
        e.extend(canonical_entries(|w| crate::writer::write_routing_globals(w, c)));
        self.emit(&mut e);
        for router in &c.routers {
            self.block_open("router", &router.name);
            let mut e = canonical_entries(|w| crate::writer::write_router(w, "", router));
            self.emit(&mut e);
            self.block_close();
        }
        for group in &c.vip_groups {
            self.block_open("vip_group", &group.name);
            let mut e = canonical_entries(|w| crate::writer::write_group(w, "", group));
            self.emit(&mut e);
            self.block_close();
        }
        for track in &c.tracks {
            self.block_open("track", &track.name);
            let mut e = canonical_entries(|w| crate::writer::write_track(w, "", track));
            self.emit(&mut e);
            self.block_close();
        }
        // Blocks of both kinds may interleave; each kind keeps its order.
        let (mut v, mut f) = (
            c.virtual_services.iter().peekable(),
            c.failover_services.iter().peekable(),
        );
        loop {
            let failover = match (v.peek(), f.peek()) {
                (None, None) => break,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                _ => self.dice.chance(3),
            };
            let next = if failover { f.next() } else { v.next() };
            if let Some(vs) = next {
                self.service(if failover { "failover" } else { "virtual" }, vs);
            }
        }
    }

    fn block_open(&mut self, kind: &str, name: &str) {
        let indent = self.blanks(false);
        let name = if name.starts_with('=') || self.dice.chance(8) {
            format!("\"{name}\"")
        } else {
            self.plain(name)
        };
        let (a, b) = (self.blanks(true), self.blanks(true));
        self.out.push_str(&format!("{indent}{kind}{a}{name}{b}{{"));
        self.end_line();
    }

    fn block_close(&mut self) {
        let indent = self.blanks(false);
        self.out.push_str(indent);
        self.out.push('}');
        self.end_line();
    }

    fn service(&mut self, kind: &str, vs: &VirtualService) {
        let d = VirtualService::new("");
        self.block_open(kind, &vs.name);
        let mut e: Vec<(String, String)> = Vec::new();
        macro_rules! put {
            ($key:expr, $value:expr) => {{
                let value = $value;
                e.push(($key.to_owned(), value));
            }};
        }
        put!("active", self.boolean(vs.active));
        if let Some(address) = &vs.address {
            let host = self.host(&address.host);
            let blanks = self.blanks(true);
            put!(
                "address",
                format!("{host}{blanks}{}", self.plain(&address.device))
            );
        }
        if let Some(ip) = vs.sorry_server {
            put!("sorry_server", self.ip(ip));
        }
        if let Some(mask) = vs.vip_nmask {
            put!("vip_nmask", self.netmask(mask));
        }
        if vs.fwmark != 0 || self.dice.chance(4) {
            put!("fwmark", self.int(vs.fwmark.into()));
        }
        if vs.protocol != d.protocol || self.dice.chance(2) {
            put!("protocol", vs.protocol.to_string());
        }
        if vs.scheduler != d.scheduler || self.dice.chance(2) {
            put!("scheduler", vs.scheduler.to_string());
        }
        if vs.persistent != 0 || self.dice.chance(4) {
            put!("persistent", self.int(vs.persistent.into()));
        }
        if let Some(mask) = vs.pmask {
            put!("pmask", self.netmask(mask));
        }
        for (key, text) in [
            ("send", &vs.send),
            ("expect", &vs.expect),
            ("send_program", &vs.send_program),
            ("start_cmd", &vs.start_cmd),
            ("stop_cmd", &vs.stop_cmd),
        ] {
            if let Some(text) = text {
                put!(key, self.text(text));
            }
        }
        if vs.use_regex || self.dice.chance(4) {
            put!("use_regex", self.boolean(vs.use_regex));
        }
        if vs.quiesce_server || self.dice.chance(4) {
            put!("quiesce_server", self.boolean(vs.quiesce_server));
        }
        put!("timeout", self.seconds(vs.timeout));
        if vs.failure_count != 1 || self.dice.chance(4) {
            put!("failure_count", self.int(vs.failure_count.into()));
        }
        if let Some(interval) = vs.check_interval {
            put!("check_interval", self.seconds(interval));
        }
        put!("reentry", self.int(vs.reentry.into()));
        if let Some(monitor) = &vs.load_monitor {
            put!("load_monitor", self.plain(monitor));
        }
        if vs.client_monitor != d.client_monitor || self.dice.chance(4) {
            put!("client_monitor", self.plain(&vs.client_monitor));
        }
        if let Some(master) = &vs.master {
            put!("master", self.host(master));
        }
        if let Some(dirs) = &vs.dirs {
            let mut list = String::from("[");
            for dir in dirs {
                list.push_str(self.blanks(true));
                list.push_str(dir);
            }
            list.push_str(self.blanks(true));
            list.push(']');
            put!("dirs", list);
        }
        e.extend(canonical_entries(|w| {
            crate::writer::write_service_extensions(w, "", vs)
        }));
        // `port` first, so every server inherits the final port.
        let port = self.port(vs.port);
        self.shadow("port", "1");
        self.line("port", &port);
        self.emit(&mut e);
        for check in &vs.checks {
            self.check(check);
        }
        for server in &vs.servers {
            self.server(server);
        }
        self.block_close();
    }

    fn server(&mut self, s: &RealServer) {
        self.block_open("server", &s.name);
        let mut e: Vec<(String, String)> = Vec::new();
        if let Some(address) = &s.address {
            e.push(("address".to_owned(), self.host(address)));
        }
        if s.active || self.dice.chance(2) {
            e.push(("active".to_owned(), self.boolean(s.active)));
        }
        if s.weight != 1 || self.dice.chance(2) {
            e.push(("weight".to_owned(), self.int(s.weight.into())));
        }
        if let Some(port) = s.port {
            e.push(("port".to_owned(), self.int(port.into())));
        }
        e.extend(canonical_entries(|w| {
            crate::writer::write_server_extensions(w, "", s)
        }));
        self.emit(&mut e);
        for check in &s.checks {
            self.check(check);
        }
        self.block_close();
    }

    /// A check block: the canonical lines, in any order, spelled uglily.
    fn check(&mut self, check: &CheckBlock) {
        self.block_open("check", &check.name);
        let mut e = canonical_entries(|w| crate::writer::write_check(w, "", "", check));
        self.emit(&mut e);
        self.block_close();
    }
}

/// The `key = value` lines `write` writes, as pairs (their order and
/// spelling for [`Ugly::emit`] to vary).
fn canonical_entries(write: impl FnOnce(&mut String)) -> Vec<(String, String)> {
    let mut canonical = String::new();
    write(&mut canonical);
    canonical
        .lines()
        .filter_map(|line| line.split_once(" = "))
        .map(|(key, value)| (key.trim().to_owned(), value.to_owned()))
        .collect()
}
