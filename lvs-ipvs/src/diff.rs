//! Table snapshots, operations on the table, and the minimal operations that
//! turn one table into another.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::model::*;
#[cfg(feature = "netlink")]
use crate::wire::Request;

/// One change to the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    /// Add a service (`-A`).
    AddService(Service),
    /// Change a service's settings (`-E`).
    EditService(Service),
    /// Delete a service and its destinations (`-D`).
    DeleteService(ServiceKey),
    /// Add a destination to a service (`-a`).
    AddDest(ServiceKey, Destination),
    /// Change a destination's settings (`-e`).
    EditDest(ServiceKey, Destination),
    /// Delete a destination by address and port (`-d`).
    DeleteDest(ServiceKey, IpAddr, u16),
    /// Set the connection timeouts (`--set`).
    SetTimeouts(Timeouts),
    /// Zero one service's counters, or all (`-Z`).
    Zero(Option<ServiceKey>),
    /// Delete every service (`-C`).
    Flush,
    /// Start a connection-sync daemon (`--start-daemon`).
    StartDaemon(Daemon),
    /// Stop the sync daemon of this state (`--stop-daemon`).
    StopDaemon(DaemonState),
}

#[cfg(feature = "netlink")]
impl Operation {
    /// The request that carries it out.
    pub fn request(&self) -> Request {
        match self {
            Operation::AddService(s) => Request::NewService(s.clone()),
            Operation::EditService(s) => Request::SetService(s.clone()),
            Operation::DeleteService(k) => Request::DelService(*k),
            Operation::AddDest(k, d) => Request::NewDest(*k, d.clone()),
            Operation::EditDest(k, d) => Request::SetDest(*k, d.clone()),
            Operation::DeleteDest(k, addr, port) => Request::DelDest(*k, *addr, *port),
            Operation::SetTimeouts(t) => Request::SetConfig(*t),
            Operation::Zero(k) => Request::Zero(*k),
            Operation::Flush => Request::Flush,
            Operation::StartDaemon(d) => Request::NewDaemon(d.clone()),
            Operation::StopDaemon(s) => Request::DelDaemon(*s),
        }
    }
}

impl Operation {
    /// The service the operation changes, if it changes one.
    pub fn service_key(&self) -> Option<ServiceKey> {
        match self {
            Operation::AddService(s) | Operation::EditService(s) => Some(s.key),
            Operation::DeleteService(k)
            | Operation::AddDest(k, _)
            | Operation::EditDest(k, _)
            | Operation::DeleteDest(k, _, _) => Some(*k),
            Operation::Zero(k) => *k,
            Operation::SetTimeouts(_)
            | Operation::Flush
            | Operation::StartDaemon(_)
            | Operation::StopDaemon(_) => None,
        }
    }

    /// Whether the kernel's `errno` means the operation's end state already
    /// holds: an add of what exists, a delete of what is gone.
    pub fn is_already_done(&self, errno: i32) -> bool {
        match self {
            Operation::AddService(_) | Operation::AddDest(..) | Operation::StartDaemon(_) => {
                errno == crate::linux::EEXIST
            }
            Operation::DeleteService(_) | Operation::StopDaemon(_) => errno == crate::linux::ESRCH,
            Operation::DeleteDest(..) => errno == crate::linux::ENOENT || errno == crate::linux::ESRCH,
            _ => false,
        }
    }
}

/// The destinations of a service, by address and port.
pub type Destinations = BTreeMap<(IpAddr, u16), Destination>;

/// A table: services with their destinations, ordered by key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    /// The services by key, each with its destinations.
    pub services: BTreeMap<ServiceKey, (Service, Destinations)>,
}

impl Table {
    /// Adds (or replaces) `service` with `destinations`.
    pub fn insert(&mut self, service: Service, destinations: Vec<Destination>) {
        let destinations = destinations.into_iter().map(|d| ((d.addr, d.port), d)).collect();
        self.services.insert(service.key, (service, destinations));
    }

    /// The number of destinations in the table.
    pub fn destination_count(&self) -> usize {
        self.services.values().map(|(_, d)| d.len()).sum()
    }

    /// Whether two tables hold the same services and destinations with the
    /// same settings (counters aside).
    pub fn same_settings(&self, other: &Table) -> bool {
        self.services.len() == other.services.len()
            && self
                .services
                .iter()
                .zip(&other.services)
                .all(|((ka, (sa, da)), (kb, (sb, db)))| {
                    ka == kb
                        && sa.same_settings(sb)
                        && da.len() == db.len()
                        && da
                            .iter()
                            .zip(db)
                            .all(|((a, x), (b, y))| a == b && x.same_settings(y))
                })
    }

    /// Records in this model what `operation` did to the kernel's table, so
    /// that a program can keep its view of the table without reading it
    /// back. Operations that do not change services or destinations (timeouts,
    /// counters, sync daemons) change nothing here.
    pub fn apply(&mut self, operation: &Operation) {
        match operation {
            Operation::AddService(service) => {
                self.services
                    .entry(service.key)
                    .or_insert_with(|| (service.clone(), Destinations::new()));
            }
            Operation::EditService(service) => {
                if let Some((old, _)) = self.services.get_mut(&service.key) {
                    *old = service.clone();
                }
            }
            Operation::DeleteService(key) => {
                self.services.remove(key);
            }
            Operation::AddDest(key, dest) | Operation::EditDest(key, dest) => {
                if let Some((_, destinations)) = self.services.get_mut(key) {
                    destinations.insert((dest.addr, dest.port), dest.clone());
                }
            }
            Operation::DeleteDest(key, addr, port) => {
                if let Some((_, destinations)) = self.services.get_mut(key) {
                    destinations.remove(&(*addr, *port));
                }
            }
            Operation::Flush => self.services.clear(),
            Operation::SetTimeouts(_)
            | Operation::Zero(_)
            | Operation::StartDaemon(_)
            | Operation::StopDaemon(_) => {}
        }
    }

    /// The part of this table whose services `keep` accepts.
    pub fn filtered(&self, mut keep: impl FnMut(&ServiceKey) -> bool) -> Table {
        Table {
            services: self
                .services
                .iter()
                .filter(|(key, _)| keep(key))
                .map(|(key, entry)| (*key, entry.clone()))
                .collect(),
        }
    }

    /// The operations that build this table from an empty one.
    pub fn build_operations(&self) -> Vec<Operation> {
        diff(&Table::default(), self)
    }
}

/// The operations that turn `current` into `desired`: services and
/// destinations that are gone are deleted, new ones added, and changed ones
/// edited in place (never deleted and re-added, so their connections survive).
/// Deletions come first, so an address may move between services.
pub fn diff(current: &Table, desired: &Table) -> Vec<Operation> {
    let mut deletes = Vec::new();
    let mut edits = Vec::new();
    let mut adds = Vec::new();
    for key in current.services.keys() {
        if !desired.services.contains_key(key) {
            deletes.push(Operation::DeleteService(*key));
        }
    }
    for (key, (service, destinations)) in &desired.services {
        match current.services.get(key) {
            None => {
                adds.push(Operation::AddService(service.clone()));
                adds.extend(destinations.values().map(|d| Operation::AddDest(*key, d.clone())));
            }
            Some((old_service, old_destinations)) => {
                if !old_service.same_settings(service) {
                    edits.push(Operation::EditService(service.clone()));
                }
                for (id, old) in old_destinations {
                    match destinations.get(id) {
                        None => deletes.push(Operation::DeleteDest(*key, old.addr, old.port)),
                        Some(new) if !old.same_settings(new) => {
                            edits.push(Operation::EditDest(*key, new.clone()))
                        }
                        Some(_) => {}
                    }
                }
                for (id, new) in destinations {
                    if !old_destinations.contains_key(id) {
                        adds.push(Operation::AddDest(*key, new.clone()));
                    }
                }
            }
        }
    }
    deletes.into_iter().chain(edits).chain(adds).collect()
}
