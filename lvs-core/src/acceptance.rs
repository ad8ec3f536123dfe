//! Whether the daemons would take a configuration: the one check behind
//! `lvs --check`, the web tool's saves and the daemons' own starts and
//! reloads. Each daemon's refusal is found by running the daemon's own
//! reading of the file (the director's [`Plan::new`], pulse's
//! [`RouterSettings::from_config`]), never a copy of its rules, so that what
//! the tools accept, the daemons accept, and the reverse.

use std::net::IpAddr;

use lvs_cf::Config;

use crate::director::{Plan, Resolve};
use crate::router::RouterSettings;

/// A daemon that reads lvs.cf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Daemon {
    /// The director (`lvs`, Piranha's lvsd).
    Lvs,
    /// The failover daemon.
    Pulse,
}

/// Why a daemon would refuse a configuration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} would refuse it: {reason}", match .daemon {
    Daemon::Lvs => "the lvs daemon",
    Daemon::Pulse => "pulse",
})]
pub struct Refusal {
    /// Which daemon.
    pub daemon: Daemon,
    /// Its reason, as it would log it.
    pub reason: String,
}

/// Every refusal of a configuration that `lvs-cf` has found valid. pulse is
/// asked as the primary router would read the file: what depends on which
/// router reads it (the role) is not a reason to refuse.
pub fn refusals(config: &Config, resolver: &Resolve<'_>) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    if let Err(e) = Plan::new(config, resolver) {
        refusals.push(Refusal {
            daemon: Daemon::Lvs,
            reason: e.to_string(),
        });
    }
    let primary: Vec<IpAddr> = config.primary.iter().filter_map(|h| resolver(h).ok()).collect();
    if let Err(e) = RouterSettings::from_config(config, &primary, resolver) {
        refusals.push(Refusal {
            daemon: Daemon::Pulse,
            reason: e.to_string(),
        });
    }
    refusals
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::director::literal_addresses;

    fn config(text: &str) -> Config {
        lvs_cf::parse(text).expect("valid").config
    }

    #[test]
    fn what_the_daemons_refuse_is_found_and_a_good_file_passes() {
        let good = "serial_no = 1\nprimary = 192.0.2.1\nservice = lvs\n\
            virtual web {\n active = 1\n address = 192.0.2.100 eth0:1\n port = 80\n\
            server a {\n address = 10.0.0.1\n active = 1\n }\n}\n";
        assert_eq!(refusals(&config(good), &literal_addresses), vec![]);

        let bad_regex = good.replace(
            "port = 80\n",
            "port = 80\n use_regex = 1\n expect = \"HTTP/1.[01\"\n",
        );
        let found = refusals(&config(&bad_regex), &literal_addresses);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].daemon, Daemon::Lvs);
        assert!(found[0].to_string().contains("bad expect string"), "{}", found[0]);

        let no_primary = good.replace("primary = 192.0.2.1\n", "");
        let found = refusals(&config(&no_primary), &literal_addresses);
        assert_eq!(
            found,
            vec![Refusal {
                daemon: Daemon::Pulse,
                reason: "no primary address in the configuration".into()
            }]
        );
        assert_eq!(
            found[0].to_string(),
            "pulse would refuse it: no primary address in the configuration"
        );
    }
}
