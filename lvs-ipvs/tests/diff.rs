//! The diff, without a kernel: what it changes in place, against a model of
//! what the kernel does with each operation. The kernel tests apply the same
//! generated tables to the real table.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)] // a test: a failure is the report

use std::net::{IpAddr, Ipv4Addr};

use lvs_ipvs::*;
use proptest::prelude::*;

mod common;
use common::arb_table;

/// What the kernel does with each operation a diff can hold: the kernel
/// refuses an add of what exists and an edit or delete of what does not, so
/// each operation is checked against that before `Table::apply` records it.
fn apply_to_model(table: &mut Table, operations: &[Operation]) {
    for operation in operations {
        let has_service = |key: &ServiceKey| table.services.contains_key(key);
        let has_dest = |key: &ServiceKey, addr: IpAddr, port: u16| {
            table
                .services
                .get(key)
                .is_some_and(|(_, dests)| dests.contains_key(&(addr, port)))
        };
        match operation {
            Operation::AddService(service) => {
                assert!(!has_service(&service.key), "add of an existing {:?}", service.key)
            }
            Operation::EditService(service) => {
                assert!(has_service(&service.key), "edit of a missing service")
            }
            Operation::DeleteService(key) => assert!(has_service(key), "delete of a missing service"),
            Operation::AddDest(key, dest) => {
                assert!(has_service(key), "service of an added destination");
                assert!(
                    !has_dest(key, dest.addr, dest.port),
                    "add of an existing destination"
                );
            }
            Operation::EditDest(key, dest) => assert!(
                has_dest(key, dest.addr, dest.port),
                "edit of a missing destination"
            ),
            Operation::DeleteDest(key, addr, port) => {
                assert!(has_dest(key, *addr, *port), "delete of a missing destination")
            }
            other => panic!("a diff holds no {other:?}"),
        }
        table.apply(operation);
    }
}

fn v4(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

#[test]
fn changed_settings_are_edited_in_place() {
    let key = ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: "192.0.2.1".parse().expect("literal"),
        port: 80,
    };
    let mut a = Table::default();
    a.insert(
        Service::new(key, "wlc"),
        vec![
            Destination::at(std::net::SocketAddr::new(v4(1), 80), ForwardMethod::Masquerade).weight(1),
            Destination::at(std::net::SocketAddr::new(v4(2), 80), ForwardMethod::Masquerade).weight(1),
        ],
    );
    let mut b = Table::default();
    let mut persistent = Service::new(key, "rr").persistent(300);
    persistent.netmask = Netmask::V4(Ipv4Addr::new(255, 255, 255, 0));
    let mut heavier =
        Destination::at(std::net::SocketAddr::new(v4(1), 80), ForwardMethod::Masquerade).weight(5);
    heavier.upper_threshold = 100;
    b.insert(
        persistent.clone(),
        vec![
            heavier.clone(),
            Destination::at(std::net::SocketAddr::new(v4(2), 80), ForwardMethod::Masquerade).weight(1),
        ],
    );
    assert_eq!(
        diff(&a, &b),
        vec![
            Operation::EditService(persistent),
            Operation::EditDest(key, heavier)
        ]
    );
    // A forwarding method is a destination setting too: edited, not re-added.
    let mut routed = b.clone();
    let (_, dests) = routed.services.get_mut(&key).expect("service");
    let dest = dests.get_mut(&(v4(2), 80)).expect("destination");
    dest.forward = ForwardMethod::DirectRoute;
    let moved = dest.clone();
    assert_eq!(diff(&b, &routed), vec![Operation::EditDest(key, moved)]);
    assert!(diff(&b, &b).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_diff_turns_a_into_b_and_never_re_adds(a in arb_table(), b in arb_table()) {
        let operations = diff(&a, &b);
        let mut model = a.clone();
        apply_to_model(&mut model, &operations);
        prop_assert!(model.same_settings(&b), "{:?}\n{:?}", model, b);
        // Nothing that stays is deleted and added again.
        for operation in &operations {
            match operation {
                Operation::DeleteService(key) => prop_assert!(!b.services.contains_key(key)),
                Operation::DeleteDest(key, addr, port) => prop_assert!(
                    b.services.get(key).is_none_or(|(_, dests)| !dests.contains_key(&(*addr, *port)))
                ),
                Operation::AddService(service) => prop_assert!(!a.services.contains_key(&service.key)),
                Operation::AddDest(key, dest) => prop_assert!(
                    a.services.get(key).is_none_or(|(_, dests)| !dests.contains_key(&(dest.addr, dest.port)))
                ),
                _ => {}
            }
        }
        // Minimal: one edit per changed entry, none for an unchanged one.
        let edits = operations.iter().filter(|o| matches!(o, Operation::EditService(_) | Operation::EditDest(..))).count();
        let changed = b.services.iter().filter_map(|(key, (service, dests))| a.services.get(key).map(|(old, old_dests)| {
            usize::from(!old.same_settings(service))
                + dests.iter().filter(|(id, d)| old_dests.get(id).is_some_and(|o| !o.same_settings(d))).count()
        })).sum::<usize>();
        prop_assert_eq!(edits, changed);
        prop_assert!(diff(&b, &b).is_empty());
    }
}
