//! What a reload would do, worked out before it is done (`lvsd --plan`), and
//! what the director found changed behind its back (`lvsd --resync` and its
//! periodic check): typed answers that the daemon serves as JSON and that
//! `lvsd` and the web tool print.
//!
//! [`ReloadPreview::new`] is pure: the running director hands in the plan it
//! would switch to, the health that plan's servers would start with, the
//! operations its reconciler gives and the active connections the kernel
//! reports for the entries those operations remove. [`drift`] compares the
//! director's model of its entries with the kernel's.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use lvs_ipvs::{Destinations, Operation, Service, ServiceKey, Table};
use serde::{Deserialize, Serialize};

use crate::director::{Health, Plan, PlannedServer, ServerRef};

/// The operations a director starting on `plan` makes to the kernel's
/// `table` before any check has run: what taking over a table another
/// director built costs (`lvsd import --against-kernel`). As at a real start,
/// the entries of the services `plan` names are adopted at their weights,
/// servers the table lacks wait for their first check, and services and
/// entries the file does not name are removed from the services it owns;
/// services it does not name are left alone. A cut-over from a table built
/// from the same configuration makes none.
pub fn cut_over(plan: &Plan, table: &Table) -> Vec<Operation> {
    let owned = table.filtered(|key| plan.named.contains(key));
    let carried = crate::director::carry_over(plan, &owned, None, |_| true);
    let holds = crate::admin::Holds::default();
    let quorums = crate::quorum::Quorums::default();
    let standing = crate::director::WithHolds {
        health: &carried.health,
        holds: &holds,
        quorums: &quorums,
    };
    crate::director::reconcile(plan, None, &standing, &owned)
}

/// How an operation reads in the log and in a preview: one wording, so that
/// what `--plan` prints is what a reload then logs with `-v`.
pub fn describe(operation: &Operation) -> String {
    match operation {
        Operation::AddService(s) => format!("add virtual service {} ({})", s.key, s.scheduler),
        Operation::EditService(s) => format!("edit virtual service {} ({})", s.key, s.scheduler),
        Operation::DeleteService(key) => format!("delete virtual service {key}"),
        Operation::AddDest(key, d) => {
            format!(
                "add {} to {key} (weight {}{})",
                d.address(),
                d.weight,
                entry_extras(d)
            )
        }
        Operation::EditDest(key, d) => {
            format!(
                "set {} in {key} to weight {}{}",
                d.address(),
                d.weight,
                entry_extras(d)
            )
        }
        Operation::DeleteDest(key, addr, port) => {
            format!("remove {} from {key}", SocketAddr::new(*addr, *port))
        }
        other => format!("{other:?}"),
    }
}

/// A destination's settings beyond its weight, where lvs.cf set them: its
/// tunnel and thresholds (`, gue tunnel to port 6080, upper threshold 50`).
fn entry_extras(d: &lvs_ipvs::Destination) -> String {
    let mut extras = String::new();
    if let (lvs_ipvs::ForwardMethod::Tunnel, Some(tunnel)) = (d.forward, d.tunnel) {
        extras.push_str(&format!(", {} tunnel", tunnel.kind.name()));
        if tunnel.port != 0 {
            extras.push_str(&format!(" to port {}", tunnel.port));
        }
    }
    if d.upper_threshold != 0 {
        extras.push_str(&format!(", upper threshold {}", d.upper_threshold));
    }
    if d.lower_threshold != 0 {
        extras.push_str(&format!(", lower threshold {}", d.lower_threshold));
    }
    extras
}

/// A real server whose check a reload starts afresh.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CheckRestart {
    /// Its virtual service's name in lvs.cf.
    pub service: String,
    /// Its name in lvs.cf.
    pub server: String,
    /// Where it is checked.
    pub address: SocketAddr,
}

/// Something a reload would do that an operator should know first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "risk", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Risk {
    /// After the reload no real server of the service takes new
    /// connections.
    Unserved {
        /// The service's name in lvs.cf.
        service: String,
        /// Servers that are not in the table until their first checks pass.
        awaiting_checks: usize,
        /// Whether the sorry server takes the traffic meanwhile.
        sorry_server: bool,
    },
    /// Removing an entry ends the connections it carries.
    CutsConnections {
        /// The virtual service (`TCP 192.0.2.1:80`).
        service: String,
        /// The real server removed; `None` when the whole service goes.
        server: Option<SocketAddr>,
        /// Its active connections, as the kernel counts them now.
        active: u32,
    },
}

impl std::fmt::Display for Risk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Risk::Unserved {
                service,
                awaiting_checks,
                sorry_server,
            } => {
                write!(
                    f,
                    "virtual {service}: no real server takes new connections after the reload"
                )?;
                if *awaiting_checks > 0 {
                    write!(
                        f,
                        " ({awaiting_checks} wait{} for a first passing check)",
                        if *awaiting_checks == 1 { "s" } else { "" }
                    )?;
                }
                if *sorry_server {
                    write!(f, "; the sorry server answers meanwhile")?;
                }
                Ok(())
            }
            Risk::CutsConnections {
                service,
                server: Some(server),
                active,
            } => write!(
                f,
                "{service}: removing {server} ends {active} active connection{}",
                plural(*active)
            ),
            Risk::CutsConnections {
                service,
                server: None,
                active,
            } => write!(
                f,
                "{service}: deleting the service ends {active} active connection{}",
                plural(*active)
            ),
        }
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// What a reload to a file would do, without doing it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReloadPreview {
    /// The file read.
    pub file: String,
    /// How many services the new file names.
    pub services: usize,
    /// The services that change (by name; by key for those the file drops).
    pub changed: Vec<String>,
    /// The IPVS operations, in the order they would be made, as the
    /// director logs them.
    pub operations: Vec<String>,
    /// The checks that start afresh.
    pub check_restarts: Vec<CheckRestart>,
    /// What to know first.
    pub risks: Vec<Risk>,
}

/// What a running director needs to hand [`ReloadPreview::new`].
#[derive(Clone, Copy, Debug)]
pub struct PreviewInputs<'a> {
    /// The file read.
    pub file: &'a str,
    /// The plan of the file the reload would switch to.
    pub plan: &'a Plan,
    /// The plan running now.
    pub running: &'a Plan,
    /// The services that change.
    pub changed: &'a BTreeSet<ServiceKey>,
    /// The health each server of the new plan would have after the switch.
    pub health: &'a HashMap<ServerRef, Health>,
    /// The director's model of the owned entries now.
    pub table: &'a Table,
    /// The operations the reload would make.
    pub operations: &'a [Operation],
    /// The servers whose checks the reload restarts.
    pub restarted: &'a [&'a PlannedServer],
    /// Active connections now, by service and destination (only those of
    /// the entries the operations remove need be there).
    pub active: &'a HashMap<ServiceKey, HashMap<(IpAddr, u16), u32>>,
}

impl ReloadPreview {
    /// The preview of one reload.
    pub fn new(inputs: PreviewInputs<'_>) -> ReloadPreview {
        let PreviewInputs {
            file,
            plan,
            running,
            changed,
            health,
            table,
            operations,
            restarted,
            active,
        } = inputs;
        let name_of = |key: &ServiceKey| {
            plan.services
                .iter()
                .chain(&running.services)
                .find(|s| s.service.key == *key)
                .map_or_else(|| key.to_string(), |s| s.name.clone())
        };
        let check_restarts = restarted
            .iter()
            .map(|server| CheckRestart {
                service: name_of(&server.at.service),
                server: server.name.clone(),
                address: SocketAddr::new(server.at.addr, server.at.port),
            })
            .collect();
        // The changed services' entries as the operations leave them.
        let mut after = table.filtered(|key| changed.contains(key));
        for operation in operations {
            after.apply(operation);
        }
        let mut risks = Vec::new();
        for planned in plan.services.iter().filter(|s| changed.contains(&s.service.key)) {
            let dests = after.services.get(&planned.service.key).map(|(_, dests)| dests);
            let weight_of =
                |addr: IpAddr, port: u16| dests.and_then(|d| d.get(&(addr, port))).map(|d| d.weight);
            let serving = planned
                .servers
                .iter()
                .any(|s| weight_of(s.at.addr, s.at.port).is_some_and(|w| w > 0));
            if serving {
                continue;
            }
            let awaiting_checks = planned
                .servers
                .iter()
                .filter(|s| {
                    matches!(
                        health.get(&s.at).copied().unwrap_or(Health::Unknown),
                        Health::Unknown
                    )
                })
                .filter(|s| weight_of(s.at.addr, s.at.port).is_none())
                .count();
            let sorry_server = planned
                .sorry
                .is_some_and(|sorry| weight_of(sorry.addr, sorry.port).is_some_and(|w| w > 0));
            risks.push(Risk::Unserved {
                service: planned.name.clone(),
                awaiting_checks,
                sorry_server,
            });
        }
        let active_of = |key: &ServiceKey| active.get(key);
        for operation in operations {
            match operation {
                Operation::DeleteDest(key, addr, port) => {
                    let count = active_of(key)
                        .and_then(|d| d.get(&(*addr, *port)))
                        .copied()
                        .unwrap_or(0);
                    if count > 0 {
                        risks.push(Risk::CutsConnections {
                            service: key.to_string(),
                            server: Some(SocketAddr::new(*addr, *port)),
                            active: count,
                        });
                    }
                }
                Operation::DeleteService(key) => {
                    let count: u32 = active_of(key).map_or(0, |d| d.values().sum());
                    if count > 0 {
                        risks.push(Risk::CutsConnections {
                            service: key.to_string(),
                            server: None,
                            active: count,
                        });
                    }
                }
                _ => {}
            }
        }
        ReloadPreview {
            file: file.to_owned(),
            services: plan.named.len(),
            changed: changed.iter().map(name_of).collect(),
            operations: operations.iter().map(describe).collect(),
            check_restarts,
            risks,
        }
    }

    /// The services whose entries the operations remove (to be asked for
    /// their active connections).
    pub fn removing(operations: &[Operation]) -> BTreeSet<ServiceKey> {
        operations
            .iter()
            .filter_map(|operation| match operation {
                Operation::DeleteDest(key, _, _) | Operation::DeleteService(key) => Some(*key),
                _ => None,
            })
            .collect()
    }

    /// The preview for people, as `lvsd --plan` prints it.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "reload of {}: {} of {} virtual service{} change{}",
            self.file,
            self.changed.len(),
            self.services,
            if self.services == 1 { "" } else { "s" },
            if self.changed.len() == 1 { "s" } else { "" },
        );
        section(&mut out, "table operations", &self.operations);
        let restarts: Vec<String> = self
            .check_restarts
            .iter()
            .map(|r| format!("{}/{} ({})", r.service, r.server, r.address))
            .collect();
        section(&mut out, "checks started afresh", &restarts);
        let risks: Vec<String> = self.risks.iter().map(Risk::to_string).collect();
        section(&mut out, "risks", &risks);
        out
    }
}

fn section(out: &mut String, title: &str, lines: &[String]) {
    if lines.is_empty() {
        let _ = writeln!(out, "{title}: none");
        return;
    }
    let _ = writeln!(out, "{title} ({}):", lines.len());
    for line in lines {
        let _ = writeln!(out, "  {line}");
    }
}

/// The answer to a plan request: the preview, or why the file would be
/// refused (the reload would then change nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PlanAnswer {
    /// The file is valid: what reloading it would do.
    Preview(ReloadPreview),
    /// The file would be refused, for this reason (with its file and line).
    Refused(String),
}

/// One difference between the director's model of an owned service and the
/// kernel's table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "drift", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Drift {
    /// The service is gone from the kernel.
    ServiceMissing {
        /// The service (`TCP 192.0.2.1:80`).
        service: String,
    },
    /// The kernel holds a service the model says is not there.
    ServiceAdded {
        /// The service.
        service: String,
    },
    /// The service's scheduler, flags, persistence or netmask differ.
    ServiceChanged {
        /// The service.
        service: String,
    },
    /// A destination is gone.
    DestinationMissing {
        /// The service.
        service: String,
        /// The destination.
        server: SocketAddr,
    },
    /// A destination the model does not have.
    DestinationAdded {
        /// The service.
        service: String,
        /// The destination.
        server: SocketAddr,
    },
    /// A destination's weight, method or thresholds differ.
    DestinationChanged {
        /// The service.
        service: String,
        /// The destination.
        server: SocketAddr,
        /// Its weight in the model.
        expected_weight: u32,
        /// Its weight in the kernel.
        found_weight: u32,
    },
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Drift::ServiceMissing { service } => write!(f, "virtual service {service} is missing"),
            Drift::ServiceAdded { service } => write!(f, "virtual service {service} was added"),
            Drift::ServiceChanged { service } => write!(f, "virtual service {service} has other settings"),
            Drift::DestinationMissing { service, server } => write!(f, "{server} is missing from {service}"),
            Drift::DestinationAdded { service, server } => write!(f, "{server} was added to {service}"),
            Drift::DestinationChanged {
                service,
                server,
                expected_weight,
                found_weight,
            } => write!(
                f,
                "{server} in {service} has other settings (weight {found_weight}, expected {expected_weight})"
            ),
        }
    }
}

/// What a resync found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResyncReport {
    /// What differed.
    pub drift: Vec<Drift>,
    /// The operations made to restore the table, as the director logs them.
    pub operations: Vec<String>,
    /// The operations that failed, each with its reason.
    pub failed: Vec<String>,
}

impl ResyncReport {
    /// A report of what was found, the operations made for it and those
    /// that failed.
    pub fn new(drift: Vec<Drift>, operations: Vec<String>, failed: Vec<String>) -> ResyncReport {
        ResyncReport {
            drift,
            operations,
            failed,
        }
    }

    /// The report for people, as `lvsd --resync` prints it.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let drift: Vec<String> = self.drift.iter().map(Drift::to_string).collect();
        section(&mut out, "found", &drift);
        section(&mut out, "restored by", &self.operations);
        if !self.failed.is_empty() {
            section(&mut out, "failed", &self.failed);
        }
        out
    }
}

/// The differences between `model` (what the director last made the kernel
/// hold) and `kernel`, for the services `keys` names. Services in neither
/// are not compared; nor are the destinations of a service whose
/// destinations were not read (`None`: a periodic check reads them a few
/// services at a time).
pub fn drift(
    model: &Table,
    kernel: &BTreeMap<ServiceKey, (Service, Option<Destinations>)>,
    keys: &BTreeSet<ServiceKey>,
) -> Vec<(ServiceKey, Drift)> {
    let mut found = Vec::new();
    let mut add = |key: &ServiceKey, drift: Drift| found.push((*key, drift));
    for key in keys {
        let service = key.to_string();
        match (model.services.get(key), kernel.get(key)) {
            (None, None) => {}
            (Some(_), None) => add(key, Drift::ServiceMissing { service }),
            (None, Some(_)) => add(key, Drift::ServiceAdded { service }),
            (Some((wanted, wanted_dests)), Some((there, there_dests))) => {
                if !wanted.same_settings(there) {
                    add(
                        key,
                        Drift::ServiceChanged {
                            service: service.clone(),
                        },
                    );
                }
                // Destinations not read this time are not compared.
                let Some(there_dests) = there_dests else { continue };
                for (at, dest) in wanted_dests {
                    let server = SocketAddr::new(at.0, at.1);
                    match there_dests.get(at) {
                        None => add(
                            key,
                            Drift::DestinationMissing {
                                service: service.clone(),
                                server,
                            },
                        ),
                        Some(other) if !dest.same_settings(other) => add(
                            key,
                            Drift::DestinationChanged {
                                service: service.clone(),
                                server,
                                expected_weight: dest.weight,
                                found_weight: other.weight,
                            },
                        ),
                        Some(_) => {}
                    }
                }
                for at in there_dests.keys().filter(|at| !wanted_dests.contains_key(at)) {
                    add(
                        key,
                        Drift::DestinationAdded {
                            service: service.clone(),
                            server: SocketAddr::new(at.0, at.1),
                        },
                    );
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::director::{carry_over, literal_addresses, reconcile_services, Before};

    fn config(servers: &[(&str, &str)], scheduler: &str) -> String {
        let servers: String = servers
            .iter()
            .map(|(name, address)| format!(" server {name} {{\n address = {address}\n active = 1\n }}\n"))
            .collect();
        format!(
            "network = direct\nvirtual web {{\n active = 1\n address = 10.0.0.100 eth0:1\n port = 80\n\
             scheduler = {scheduler}\n sorry_server = 10.0.0.99\n{servers}}}\n"
        )
    }

    fn plan(text: &str) -> Plan {
        Plan::new(&lvs_cf::parse(text).expect("valid").config, &literal_addresses).expect("plan")
    }

    #[test]
    fn a_cut_over_to_the_table_a_file_built_makes_no_operation() {
        let two = plan(&config(&[("a", "10.0.1.1"), ("b", "10.0.1.2")], "rr"));
        let mut table = table_of(&two);
        // A service another tool runs beside it is not the director's.
        let other = plan(&config(&[("a", "10.0.1.1")], "rr").replace("10.0.0.100", "10.0.0.200"));
        for operation in table_of(&other).build_operations() {
            table.apply(&operation);
        }
        assert_eq!(cut_over(&two, &table), []);

        // A server the table lacks waits for its check; one the file lacks goes;
        // a changed scheduler is edited in place.
        let three = plan(&config(&[("a", "10.0.1.1"), ("c", "10.0.1.3")], "wlc"));
        let words: Vec<String> = cut_over(&three, &table).iter().map(describe).collect();
        assert_eq!(words.len(), 2, "{words:?}");
        assert!(
            words
                .iter()
                .any(|w| w.starts_with("edit virtual service") && w.contains("wlc")),
            "{words:?}"
        );
        assert!(words.iter().any(|w| w.contains("10.0.1.2")), "{words:?}");
        assert!(!words.iter().any(|w| w.contains("10.0.0.200")), "{words:?}");
    }

    /// The preview of a reload from `before` (every server in at weight 1,
    /// each carrying `active` connections) to `after`, as the director
    /// works it out.
    fn preview(before: &Plan, after: &Plan, active: u32) -> ReloadPreview {
        let health: HashMap<ServerRef, Health> = before
            .servers()
            .map(|s| (s.at, Health::In { weight: 1 }))
            .collect();
        let mut table = Table::default();
        let no_table = Table::default();
        for operation in reconcile_services(before, &health, &no_table, &before.named) {
            table.apply(&operation);
        }
        let changed = after.changed_since(before);
        let carried = carry_over(
            after,
            &table,
            Some(Before {
                plan: before,
                health: &health,
            }),
            |key| changed.contains(key),
        );
        let mut next = health.clone();
        next.retain(|at, _| !changed.contains(&at.service));
        next.extend(carried.health.clone());
        let operations = reconcile_services(after, &next, &table, &changed);
        let restarted: Vec<&PlannedServer> = carried.servers.iter().map(|(s, _)| *s).collect();
        let counts: HashMap<ServiceKey, HashMap<(IpAddr, u16), u32>> = table
            .services
            .iter()
            .map(|(key, (_, dests))| (*key, dests.keys().map(|at| (*at, active)).collect()))
            .collect();
        ReloadPreview::new(PreviewInputs {
            file: "/etc/sysconfig/ha/lvs.cf",
            plan: after,
            running: before,
            changed: &changed,
            health: &next,
            table: &table,
            operations: &operations,
            restarted: &restarted,
            active: &counts,
        })
    }

    #[test]
    fn an_unchanged_file_previews_nothing() {
        let text = config(&[("a", "10.0.1.1"), ("b", "10.0.1.2")], "rr");
        let preview = preview(&plan(&text), &plan(&text), 3);
        assert!(preview.changed.is_empty());
        assert!(preview.operations.is_empty());
        assert!(preview.check_restarts.is_empty());
        assert!(preview.risks.is_empty());
        assert!(
            preview.render_text().contains("table operations: none"),
            "{}",
            preview.render_text()
        );
    }

    #[test]
    fn a_removed_server_with_connections_is_a_risk_and_a_new_one_waits_for_its_check() {
        let before = plan(&config(&[("a", "10.0.1.1"), ("b", "10.0.1.2")], "rr"));
        let after = plan(&config(&[("a", "10.0.1.1"), ("c", "10.0.1.3")], "wlc"));
        let preview = preview(&before, &after, 4);
        assert_eq!(preview.changed, ["web"]);
        assert_eq!(
            preview.operations,
            [
                "remove 10.0.1.2:80 from TCP 10.0.0.100:80",
                "edit virtual service TCP 10.0.0.100:80 (wlc)",
            ]
        );
        let restarted: Vec<&str> = preview.check_restarts.iter().map(|r| r.server.as_str()).collect();
        assert_eq!(restarted, ["a", "c"]);
        assert_eq!(
            preview.risks,
            [Risk::CutsConnections {
                service: "TCP 10.0.0.100:80".to_owned(),
                server: Some("10.0.1.2:80".parse().expect("literal")),
                active: 4,
            }]
        );
        let text = preview.render_text();
        assert!(
            text.starts_with("reload of /etc/sysconfig/ha/lvs.cf: 1 of 1 virtual service changes\n"),
            "{text}"
        );
        assert!(
            text.contains("removing 10.0.1.2:80 ends 4 active connections"),
            "{text}"
        );
        // No connections, no risk.
        assert!(preview_without_connections(&before, &after).risks.is_empty());
    }

    fn preview_without_connections(before: &Plan, after: &Plan) -> ReloadPreview {
        preview(before, after, 0)
    }

    #[test]
    fn a_pool_of_new_servers_leaves_the_service_to_the_sorry_server_until_checked() {
        let before = plan(&config(&[("a", "10.0.1.1")], "rr"));
        let after = plan(&config(&[("b", "10.0.1.2"), ("c", "10.0.1.3")], "rr"));
        let preview = preview(&before, &after, 0);
        assert_eq!(
            preview.risks,
            [Risk::Unserved {
                service: "web".to_owned(),
                awaiting_checks: 2,
                sorry_server: true,
            }]
        );
        assert!(preview
            .operations
            .contains(&"add 10.0.0.99:80 to TCP 10.0.0.100:80 (weight 1)".to_owned()));
        let text = preview.render_text();
        assert!(text.contains("no real server takes new connections after the reload (2 wait for a first passing check); the sorry server answers meanwhile"), "{text}");
    }

    #[test]
    fn a_dropped_service_with_connections_is_named_by_its_key() {
        let before = plan(&config(&[("a", "10.0.1.1"), ("b", "10.0.1.2")], "rr"));
        let after = plan("network = direct\n");
        let preview = preview(&before, &after, 2);
        assert_eq!(preview.changed, ["web"]);
        assert_eq!(preview.operations, ["delete virtual service TCP 10.0.0.100:80"]);
        assert_eq!(
            preview.risks,
            [Risk::CutsConnections {
                service: "TCP 10.0.0.100:80".to_owned(),
                server: None,
                active: 4,
            }]
        );
    }

    #[test]
    fn the_answers_keep_their_shape_in_json() {
        let before = plan(&config(&[("a", "10.0.1.1"), ("b", "10.0.1.2")], "rr"));
        let after = plan(&config(&[("a", "10.0.1.1")], "rr"));
        let answer = PlanAnswer::Preview(preview(&before, &after, 1));
        let json = serde_json::to_value(&answer).expect("json");
        assert_eq!(json["preview"]["risks"][0]["risk"], "cuts_connections");
        assert_eq!(json["preview"]["risks"][0]["server"], "10.0.1.2:80");
        let back: PlanAnswer = serde_json::from_value(json).expect("read back");
        assert_eq!(back, answer);
        let refused =
            serde_json::to_value(PlanAnswer::Refused("lvs.cf: line 3: bad".to_owned())).expect("json");
        assert_eq!(refused["refused"], "lvs.cf: line 3: bad");
    }

    /// The table `plan` makes with every server in at weight 1.
    fn table_of(plan: &Plan) -> Table {
        let health: HashMap<ServerRef, Health> =
            plan.servers().map(|s| (s.at, Health::In { weight: 1 })).collect();
        let mut table = Table::default();
        for operation in reconcile_services(plan, &health, &Table::default(), &plan.named) {
            table.apply(&operation);
        }
        table
    }

    fn read(table: &Table, with_destinations: bool) -> BTreeMap<ServiceKey, (Service, Option<Destinations>)> {
        table
            .services
            .iter()
            .map(|(key, (service, dests))| {
                (*key, (service.clone(), with_destinations.then(|| dests.clone())))
            })
            .collect()
    }

    #[test]
    fn drift_names_each_difference_and_only_what_was_read() {
        let plan = plan(&config(
            &[("a", "10.0.1.1"), ("b", "10.0.1.2"), ("c", "10.0.1.3")],
            "rr",
        ));
        let model = table_of(&plan);
        let keys = plan.named.clone();
        let key = *keys.first().expect("a service");
        assert!(drift(&model, &read(&model, true), &keys).is_empty());

        let mut kernel = model.clone();
        let (service, dests) = kernel.services.get_mut(&key).expect("the service");
        service.scheduler = "wlc".to_owned();
        dests.remove(&("10.0.1.2".parse().expect("literal"), 80));
        if let Some(c) = dests.get_mut(&("10.0.1.3".parse().expect("literal"), 80)) {
            c.weight = 5;
        }
        let extra = lvs_ipvs::Destination::at(
            "10.0.1.9:80".parse().expect("literal"),
            lvs_ipvs::ForwardMethod::DirectRoute,
        );
        dests.insert((extra.addr, extra.port), extra);
        let found: Vec<String> = drift(&model, &read(&kernel, true), &keys)
            .into_iter()
            .map(|(k, d)| {
                assert_eq!(k, key);
                d.to_string()
            })
            .collect();
        assert_eq!(
            found,
            [
                "virtual service TCP 10.0.0.100:80 has other settings",
                "10.0.1.2:80 is missing from TCP 10.0.0.100:80",
                "10.0.1.3:80 in TCP 10.0.0.100:80 has other settings (weight 5, expected 1)",
                "10.0.1.9:80 was added to TCP 10.0.0.100:80",
            ]
        );
        // Destinations not read are not compared.
        let found = drift(&model, &read(&kernel, false), &keys);
        assert_eq!(found.len(), 1, "{found:?}");

        // A flushed table: the service is missing; one added by hand is named too.
        assert_eq!(
            drift(&model, &BTreeMap::new(), &keys),
            [(
                key,
                Drift::ServiceMissing {
                    service: "TCP 10.0.0.100:80".to_owned()
                }
            )]
        );
        assert_eq!(
            drift(&Table::default(), &read(&model, true), &keys)[0].1,
            Drift::ServiceAdded {
                service: "TCP 10.0.0.100:80".to_owned()
            }
        );
        let report = ResyncReport::new(
            vec![Drift::ServiceMissing {
                service: "TCP 10.0.0.100:80".to_owned(),
            }],
            vec!["add virtual service TCP 10.0.0.100:80 (rr)".to_owned()],
            Vec::new(),
        );
        assert_eq!(
            report.render_text(),
            "found (1):\n  virtual service TCP 10.0.0.100:80 is missing\nrestored by (1):\n  add virtual service TCP 10.0.0.100:80 (rr)\n"
        );
    }
}
