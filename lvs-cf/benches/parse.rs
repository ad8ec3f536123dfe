//! Parsing and validating a large lvs.cf: 10,000 virtual services with 10
//! real servers each (target: under 200 ms on the project's 2-core machine).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lvs_cf::{AddressOnDevice, Config, Host, RealServer, Text, VirtualService};

/// A GUI-style file: every service active, with checks and persistence.
fn large_config(services: u32, servers: u32) -> Config {
    let mut config = Config::default();
    config.primary = Some(Host::Ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))));
    config.backup = Some(Host::Ip(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2))));
    config.backup_active = true;
    for i in 0..services {
        let mut vs = VirtualService::new(format!("service{i}"));
        vs.active = true;
        vs.address = Some(AddressOnDevice {
            host: Host::Ip(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i))),
            device: format!("eth0:{}", i % 100),
        });
        vs.port = 80 + (i % 2) as u16 * 363;
        vs.persistent = 300;
        vs.send = Some(Text::quoted(r"GET / HTTP/1.0\r\n\r\n"));
        vs.expect = Some(Text::quoted("HTTP"));
        for j in 0..servers {
            let mut server = RealServer::new(format!("real{j}"));
            server.address = Some(Host::Ip(IpAddr::V4(Ipv4Addr::from(
                0xac10_0000 + i * servers + j,
            ))));
            server.active = true;
            server.weight = 1 + j;
            vs.servers.push(server);
        }
        config.virtual_services.push(vs);
    }
    config
}

fn parse_and_validate(c: &mut Criterion) {
    let text = lvs_cf::write(&large_config(10_000, 10));
    let mut group = c.benchmark_group("lvs.cf");
    group.sample_size(20);
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("parse+validate 10000x10", |b| {
        b.iter(|| {
            let parsed = lvs_cf::parse(black_box(&text)).expect("the generated file parses");
            let diagnostics = parsed.diagnostics();
            assert!(diagnostics.iter().all(|d| !d.is_error()));
            black_box(diagnostics);
        })
    });
    group.finish();
}

criterion_group!(benches, parse_and_validate);
criterion_main!(benches);
