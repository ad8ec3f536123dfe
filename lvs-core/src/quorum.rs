//! Quorum per service: the least total weight of healthy servers a service
//! runs with, with hysteresis so that a server flapping at the threshold
//! does not flap the service (keepalived's `quorum` and `hysteresis`).
//!
//! A service loses its quorum when the configured weights of its servers in
//! the table with a weight above 0 (passing their checks, neither quiesced
//! nor drained) add up to less than `quorum - hysteresis`, and
//! regains it at `quorum + hysteresis` or more. The configured weight, not
//! the one in the table: a server in its slow start, or one a load monitor
//! weighs down, counts in full. Until every server's health
//! is known (a start, a reload that restarted checks), a service is only
//! ever judged to have its quorum: servers not checked yet never take it
//! away. What a lost quorum does is the service's [`QuorumAction`].
//!
//! Like the rest of this crate this is pure: [`Quorums::judge`] takes each
//! server's standing and returns the change, if any; the daemon logs it,
//! sends the event, and withdraws or restores the VIP.

use std::collections::BTreeSet;

use lvs_cf::QuorumAction;
use lvs_ipvs::ServiceKey;

use crate::director::{Health, PlannedService, ServerRef};
use crate::router::Vip;

/// A service's quorum, as lvs.cf sets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumRule {
    /// `quorum`: the total weight the service needs.
    pub minimum: u32,
    /// `hysteresis`.
    pub hysteresis: u32,
    /// What losing it does.
    pub action: QuorumAction,
    /// With [`QuorumAction::Withdraw`]: the VIP taken off.
    pub vip: Option<Vip>,
}

impl QuorumRule {
    /// Below this total the quorum is lost.
    pub fn lost_below(&self) -> u32 {
        self.minimum.saturating_sub(self.hysteresis)
    }

    /// At this total or more it is back.
    pub fn regained_at(&self) -> u32 {
        self.minimum.saturating_add(self.hysteresis)
    }
}

/// A service's quorum changing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuorumChange {
    /// The service.
    pub service: ServiceKey,
    /// Whether it is lost now (false: regained).
    pub lost: bool,
    /// The healthy servers' total weight.
    pub weight: u64,
}

/// Which services have lost their quorum.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Quorums {
    lost: BTreeSet<ServiceKey>,
}

impl Quorums {
    /// No quorum lost.
    pub fn new() -> Quorums {
        Quorums::default()
    }

    /// Whether `service` has lost its quorum.
    pub fn is_lost(&self, service: &ServiceKey) -> bool {
        self.lost.contains(service)
    }

    /// The services that have lost their quorum.
    pub fn lost(&self) -> impl Iterator<Item = &ServiceKey> {
        self.lost.iter()
    }

    /// Judges `service` by its servers' standing (`standing`, the health
    /// under the operators' holds); returns the change, if any. A service
    /// without a quorum rule has its quorum.
    pub fn judge(
        &mut self,
        service: &PlannedService,
        standing: impl Fn(&ServerRef) -> Health,
    ) -> Option<QuorumChange> {
        let key = service.service.key;
        let was_lost = self.lost.contains(&key);
        let Some(rule) = &service.quorum else {
            // A reload took the rule away: the quorum is back.
            return self.lost.remove(&key).then_some(QuorumChange {
                service: key,
                lost: false,
                weight: 0,
            });
        };
        let mut weight = 0u64;
        let mut unknown = false;
        for server in &service.servers {
            match standing(&server.at) {
                Health::In { weight: w } if w > 0 => weight += u64::from(server.weight),
                Health::Unknown => unknown = true,
                Health::In { .. } | Health::Out => {}
            }
        }
        let lost = if was_lost {
            weight < u64::from(rule.regained_at())
        } else {
            !unknown && weight < u64::from(rule.lost_below())
        };
        if lost == was_lost {
            return None;
        }
        if lost {
            self.lost.insert(key);
        } else {
            self.lost.remove(&key);
        }
        Some(QuorumChange {
            service: key,
            lost,
            weight,
        })
    }

    /// Forgets the services `keep` does not name (a reload dropped them).
    pub fn retain(&mut self, keep: impl Fn(&ServiceKey) -> bool) {
        self.lost.retain(|key| keep(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::director::{literal_addresses, Plan};
    use std::collections::HashMap;

    fn plan(extra: &str) -> Plan {
        let text = format!(
            "virtual web {{\n active = 1\n address = 192.0.2.1 eth0:1\n port = 80\n sorry_server = 10.0.0.9\n{extra}\
             server a {{\n  address = 10.0.0.1\n  active = 1\n  weight = 2\n }}\n\
             server b {{\n  address = 10.0.0.2\n  active = 1\n  weight = 2\n }}\n\
             server c {{\n  address = 10.0.0.3\n  active = 1\n  weight = 2\n }}\n}}\n"
        );
        Plan::new(&lvs_cf::parse(&text).expect("valid").config, &literal_addresses).expect("plan")
    }

    #[test]
    fn a_server_flapping_at_the_threshold_does_not_flap_the_service() {
        // Quorum 4, hysteresis 1: lost below 3, back at 5.
        let plan = plan(" quorum = 4\n hysteresis = 1\n");
        let service = &plan.services[0];
        let [a, b, c] = [0, 1, 2].map(|i| service.servers[i].at);
        let mut health: HashMap<ServerRef, Health> = HashMap::new();
        let mut quorums = Quorums::new();
        // Not all known yet: judged to have it whatever the total.
        health.insert(a, Health::In { weight: 2 });
        let standing = |h: &HashMap<ServerRef, Health>| {
            let h = h.clone();
            move |at: &ServerRef| h.get(at).copied().unwrap_or(Health::Unknown)
        };
        assert_eq!(quorums.judge(service, standing(&health)), None);
        health.insert(b, Health::Out);
        health.insert(c, Health::Out);
        let change = quorums.judge(service, standing(&health)).expect("lost below 3");
        assert!(change.lost);
        assert_eq!(change.weight, 2);
        assert!(quorums.is_lost(&service.service.key));
        // b comes and goes: 4 is not enough to regain it (5 needed), 2 does not lose it again.
        for _ in 0..5 {
            health.insert(b, Health::In { weight: 2 });
            assert_eq!(quorums.judge(service, standing(&health)), None);
            health.insert(b, Health::Out);
            assert_eq!(quorums.judge(service, standing(&health)), None);
        }
        health.insert(b, Health::In { weight: 2 });
        health.insert(c, Health::In { weight: 2 });
        let change = quorums.judge(service, standing(&health)).expect("back at 6");
        assert!(!change.lost);
        // Now c flaps: 4 is above the loss threshold (3): no change either way.
        for _ in 0..5 {
            health.insert(c, Health::Out);
            assert_eq!(quorums.judge(service, standing(&health)), None);
            health.insert(c, Health::In { weight: 2 });
            assert_eq!(quorums.judge(service, standing(&health)), None);
        }
        // A reload without the rule gives the quorum back.
        health.insert(b, Health::Out);
        health.insert(c, Health::Out);
        assert!(quorums.judge(service, standing(&health)).is_some_and(|c| c.lost));
        let without = super::tests::plan("");
        assert!(quorums
            .judge(&without.services[0], standing(&health))
            .is_some_and(|c| !c.lost));
    }
}
