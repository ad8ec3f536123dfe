//! A router's part, read from lvs.cf: which router this is, its heartbeat
//! channels and timers, the virtual IPs it brings up when active, and the
//! commands it runs. pulse runs on [`RouterSettings`]; the web tool shows
//! the same [`router_of`] and [`vips`], so both always agree on which router
//! this is and which addresses make it the active one.
//!
//! Pure: the machine's addresses and a resolver are passed in; the
//! heartbeat key is named here and read by the daemon.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use lvs_cf::{Config, Host, Netmask, Network, ServiceType};

use crate::director::Resolve;
use crate::failover::{FailoverConfig, Role};

/// Why lvs.cf gives this host no router settings.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// `service = fos`.
    #[error("service = fos (failover services) is not supported by lvs-rs")]
    FailoverServices,
    /// No `primary`.
    #[error("no primary address in the configuration")]
    NoPrimary,
    /// This host holds neither router address: it is not one of the pair.
    /// (Piranha took such a host for the backup, whose heartbeat socket
    /// then could not be bound.)
    #[error(
        "this host holds neither the primary address {primary}{}: it is not one of the routers",
        match backup { Some(backup) => format!(" nor the backup address {backup}"), None => " (and no backup is set)".to_owned() }
    )]
    NotARouter {
        /// The primary's address.
        primary: IpAddr,
        /// The backup's, if one is set.
        backup: Option<IpAddr>,
    },
    /// No `virtual` block is active.
    #[error("no active virtual services are defined")]
    NoActiveServices,
    /// With VIP groups: this host holds no router's address.
    #[error("this host holds the address of none of the routers ({})", routers.join(", "))]
    NotOneOfTheRouters {
        /// The routers' names.
        routers: Vec<String>,
    },
    /// The file has VIP groups and the reader wants a pair, or the other
    /// way round: pulse switches between the two only when it starts.
    #[error("{}", if *groups {
        "lvs.cf now has VIP groups (vip_group blocks): restart pulse to run them"
    } else {
        "lvs.cf no longer has VIP groups: restart pulse to run the pair"
    })]
    ModeChanged {
        /// Whether the file has groups.
        groups: bool,
    },
    /// With VIP groups: more routers than heartbeats can name.
    #[error("more than 255 routers")]
    TooManyRouters,
    /// With VIP groups: no heartbeat key (they need authenticated heartbeats).
    #[error("VIP groups need authenticated heartbeats: set heartbeat_key (or heartbeat_keys)")]
    NoHeartbeatKey,
    /// A host name did not resolve.
    #[error("cannot resolve {what} `{host}`")]
    Resolve {
        /// Which setting.
        what: &'static str,
        /// The name.
        host: String,
    },
}

/// A virtual IP: where it goes and with what prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vip {
    /// Piranha's device name (`eth0:1`: interface `eth0`, label `eth0:1`).
    pub device: String,
    /// The address.
    pub ip: IpAddr,
    /// Its prefix length.
    pub prefix_len: u8,
}

impl Vip {
    /// `ip` on `device`, its prefix from `mask` (a host route without one).
    pub fn new(device: &str, ip: IpAddr, mask: Option<Netmask>) -> Vip {
        Vip {
            device: device.to_owned(),
            ip,
            prefix_len: mask
                .and_then(|m| m.prefix_len())
                .unwrap_or_else(|| default_prefix(ip)),
        }
    }
}

/// How the active router announces its VIPs: `arp_count` frames,
/// `arp_interval` apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Announcing {
    /// Frames per VIP.
    pub count: u32,
    /// Time between them.
    pub interval: Duration,
}

/// The connection-sync daemon pulse runs (`syncdaemon = 1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncDaemon {
    /// The multicast interface.
    pub interface: String,
    /// The sync id.
    pub sync_id: u32,
}

/// What pulse takes from lvs.cf.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RouterSettings {
    /// Master (holds `primary`) or backup.
    pub role: Role,
    /// Our heartbeat addresses: public, and private when it differs.
    pub own: Vec<SocketAddr>,
    /// The partner's, in the same order.
    pub partner: Vec<SocketAddr>,
    /// Time between heartbeats.
    pub keepalive: Duration,
    /// Silence after which the partner is dead.
    pub deadtime: Duration,
    /// Whether a backup takes part (`backup_active`).
    pub backup_active: bool,
    /// VIPs of the active virtual services, then `nat_router` (NAT only).
    pub vips: Vec<Vip>,
    /// Run on activation.
    pub active_cmd: Option<String>,
    /// Run on deactivation.
    pub inactive_cmd: Option<String>,
    /// Whether the heartbeat interfaces' links are watched.
    pub monitor_links: bool,
    /// The connection-sync daemon, when `syncdaemon = 1`.
    pub sync_daemon: Option<SyncDaemon>,
    /// The files of the shared keys of authenticated heartbeats.
    pub keys: Option<crate::groups::KeyFiles>,
    /// How VIPs are announced.
    pub announcing: Announcing,
    /// Lines to log once running (Piranha's notes about the file).
    pub notes: Vec<String>,
}

fn resolve(resolver: &Resolve<'_>, what: &'static str, host: &Host) -> Result<IpAddr, SettingsError> {
    resolver(host).map_err(|_| SettingsError::Resolve {
        what,
        host: host.to_string(),
    })
}

fn default_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() {
        32
    } else {
        128
    }
}

/// Which router of the pair this host is: the one whose addresses hold
/// `primary`, or `backup`, or neither (`None`). A name that does not
/// resolve holds nothing.
pub fn router_of(config: &Config, local: &[IpAddr], resolver: &Resolve<'_>) -> Option<Role> {
    let is_local = |host: &Option<Host>| {
        host.as_ref()
            .and_then(|h| resolver(h).ok())
            .is_some_and(|ip| local.contains(&ip))
    };
    if is_local(&config.primary) {
        Some(Role::Master)
    } else if is_local(&config.backup) {
        Some(Role::Backup)
    } else {
        None
    }
}

/// The VIPs the active router brings up: one per address of the active
/// virtual services (the first block's device and mask winning), then
/// `nat_router` with `network = nat`.
pub fn vips(config: &Config, resolver: &Resolve<'_>) -> Result<Vec<Vip>, SettingsError> {
    let mut vips: Vec<Vip> = Vec::new();
    let mut add = |device: &str, ip: IpAddr, mask: Option<Netmask>| {
        if !vips.iter().any(|v| v.ip == ip) {
            vips.push(Vip::new(device, ip, mask));
        }
    };
    for vs in config.virtual_services.iter().filter(|vs| vs.active) {
        if let Some(address) = &vs.address {
            add(
                &address.device,
                resolve(resolver, "virtual address", &address.host)?,
                vs.vip_nmask,
            );
        }
    }
    // Piranha's rule (`network = nat`), and a server reached by NAT under another.
    let nat = config.network == Network::Nat || config.uses_nat();
    if let (true, Some(router)) = (nat, &config.nat_router) {
        add(
            &router.device,
            resolve(resolver, "nat_router", &router.host)?,
            config.nat_nmask,
        );
    }
    Ok(vips)
}

impl RouterSettings {
    /// pulse's reading of `config` on a host whose addresses are `local`.
    pub fn from_config(
        config: &Config,
        local: &[IpAddr],
        resolver: &Resolve<'_>,
    ) -> Result<RouterSettings, SettingsError> {
        if config.service == ServiceType::Fos {
            return Err(SettingsError::FailoverServices);
        }
        if !config.vip_groups.is_empty() {
            return Err(SettingsError::ModeChanged { groups: true });
        }
        let primary = config
            .primary
            .as_ref()
            .ok_or(SettingsError::NoPrimary)
            .and_then(|h| resolve(resolver, "primary", h))?;
        let backup = config
            .backup
            .as_ref()
            .filter(|h| !h.is_unspecified())
            .map(|h| resolve(resolver, "backup", h))
            .transpose()?;
        let mut notes = Vec::new();
        let mut backup_active = config.backup_active;
        if backup_active && backup.is_none() {
            notes.push("Undefined backup node marked as active? -- clearing that!".to_owned());
            backup_active = false;
        }
        if !config.virtual_services.iter().any(|vs| vs.active) {
            return Err(SettingsError::NoActiveServices);
        }
        let role = router_of(config, local, resolver).ok_or(SettingsError::NotARouter { primary, backup })?;
        let primary_private = config
            .effective_primary_private()
            .map(|h| resolve(resolver, "primary_private", h))
            .transpose()?
            .unwrap_or(primary);
        let backup_private = config
            .effective_backup_private()
            .map(|h| resolve(resolver, "backup_private", h))
            .transpose()?;
        let port = config.heartbeat_port;
        let (own_public, own_private, partner_public, partner_private) = match role {
            Role::Master => (Some(primary), primary_private, backup, backup_private),
            Role::Backup => (
                backup,
                backup_private.unwrap_or(primary_private),
                Some(primary),
                Some(primary_private),
            ),
        };
        // A backup holds the backup address (router_of found it there).
        let own_public = own_public.ok_or(SettingsError::NotARouter { primary, backup })?;
        let partner_public = partner_public.unwrap_or(own_public);
        let mut own = vec![SocketAddr::new(own_public, port)];
        let mut partner = vec![SocketAddr::new(partner_public, port)];
        // A second channel only where Piranha opens one: primary_private differs from primary.
        if primary_private != primary {
            own.push(SocketAddr::new(own_private, port));
            partner.push(SocketAddr::new(partner_private.unwrap_or(partner_public), port));
        }
        Ok(RouterSettings {
            role,
            own,
            partner,
            keepalive: config.keepalive.as_duration(),
            deadtime: config.deadtime.as_duration(),
            backup_active,
            vips: vips(config, resolver)?,
            active_cmd: config.active_cmd.clone(),
            inactive_cmd: config.inactive_cmd.clone(),
            monitor_links: config.monitor_links && backup_active,
            sync_daemon: config.syncdaemon.then(|| SyncDaemon {
                interface: config.syncd_iface.clone(),
                sync_id: u32::from(config.syncd_id),
            }),
            keys: crate::groups::KeyFiles::of(config),
            announcing: Announcing {
                count: config.arp_count,
                interval: config.arp_interval.as_duration(),
            },
            notes,
        })
    }

    /// The failover machine's configuration for these settings.
    pub fn failover(&self, force_active: bool) -> FailoverConfig {
        FailoverConfig {
            role: self.role,
            keepalive: self.keepalive,
            deadtime: self.deadtime,
            backup_active: self.backup_active,
            force_active,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::director::literal_addresses;

    fn config(text: &str) -> Config {
        lvs_cf::parse(text).expect("valid lvs.cf").config
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("literal")
    }

    fn settings(text: &str, local: &[IpAddr]) -> Result<RouterSettings, SettingsError> {
        RouterSettings::from_config(&config(text), local, &literal_addresses)
    }

    const PAIR: &str = "primary = 10.0.0.1\nprimary_private = 192.168.0.1\nbackup_active = 1\n\
                        backup = 10.0.0.2\nbackup_private = 192.168.0.2\nheartbeat_port = 600\n\
                        keepalive = 0.5\ndeadtime = 2\nnetwork = direct\nnat_router = 10.0.0.254 eth0:9\n\
                        virtual a {\n active = 1\n address = 10.0.0.100 eth0:1\n vip_nmask = 255.255.255.0\n}\n\
                        virtual b {\n active = 1\n address = 10.0.0.100 eth0:1\n port = 443\n}\n\
                        virtual c {\n active = 0\n address = 10.0.0.101 eth0:2\n}\n";

    #[test]
    fn roles_channels_and_vips() {
        let sock = |s: &str| s.parse::<SocketAddr>().expect("literal");
        let master = settings(PAIR, &[ip("10.0.0.1")]).expect("settings");
        assert_eq!(master.role, Role::Master);
        assert_eq!(master.own, [sock("10.0.0.1:600"), sock("192.168.0.1:600")]);
        assert_eq!(master.partner, [sock("10.0.0.2:600"), sock("192.168.0.2:600")]);
        assert_eq!(master.keepalive, Duration::from_millis(500));
        // One VIP per address, from active services only; nat_router only with network = nat.
        assert_eq!(
            master.vips,
            [Vip {
                device: "eth0:1".into(),
                ip: ip("10.0.0.100"),
                prefix_len: 24
            }]
        );
        assert_eq!(
            master.announcing,
            Announcing {
                count: 5,
                interval: Duration::from_secs(1)
            }
        );

        let backup = settings(PAIR, &[ip("10.0.0.2")]).expect("settings");
        assert_eq!(backup.role, Role::Backup);
        assert_eq!(backup.own, [sock("10.0.0.2:600"), sock("192.168.0.2:600")]);
        assert_eq!(backup.partner, [sock("10.0.0.1:600"), sock("192.168.0.1:600")]);

        let nat = settings(
            &PAIR.replace("network = direct", "network = nat"),
            &[ip("10.0.0.1")],
        )
        .expect("settings");
        assert_eq!(nat.vips.len(), 2);
        assert_eq!(nat.vips[1].ip, ip("10.0.0.254"));
        assert_eq!(nat.vips[1].prefix_len, 32, "no nat_nmask: a host address");
    }

    #[test]
    fn piranhas_start_up_rules() {
        // Without primary_private there is one channel.
        let single = PAIR
            .replace("primary_private = 192.168.0.1\n", "")
            .replace("backup_private = 192.168.0.2\n", "");
        assert_eq!(
            settings(&single, &[ip("10.0.0.2")]).expect("settings").own.len(),
            1
        );
        // backup_active without a backup is cleared, with Piranha's note.
        let lone = single.replace("backup = 10.0.0.2\n", "");
        let lone = settings(&lone, &[ip("10.0.0.1")]).expect("settings");
        assert!(!lone.backup_active);
        assert_eq!(
            lone.notes,
            ["Undefined backup node marked as active? -- clearing that!"]
        );
        let fos = PAIR.replace("primary = 10.0.0.1\n", "service = fos\nprimary = 10.0.0.1\n");
        assert_eq!(settings(&fos, &[]), Err(SettingsError::FailoverServices));
        let no_active = PAIR.replace(" active = 1\n", " active = 0\n");
        assert_eq!(settings(&no_active, &[]), Err(SettingsError::NoActiveServices));
        // A name is resolved by the resolver passed in, never behind the caller's back.
        let named = PAIR.replace("backup = 10.0.0.2", "backup = partner.example");
        assert_eq!(
            settings(&named, &[ip("10.0.0.1")]),
            Err(SettingsError::Resolve {
                what: "backup",
                host: "partner.example".into()
            })
        );
        let resolver = |host: &Host| match host {
            Host::Name(name) if name == "partner.example" => Ok(ip("10.0.0.2")),
            other => literal_addresses(other),
        };
        let resolved =
            RouterSettings::from_config(&config(&named), &[ip("10.0.0.2")], &resolver).expect("settings");
        assert_eq!(resolved.role, Role::Backup);
    }

    #[test]
    fn the_web_tool_and_pulse_agree_on_the_router_and_its_vips() {
        let cf = config(&PAIR.replace("network = direct", "network = nat"));
        // The VIPs: one per address of the active services, then nat_router.
        let expected = [("eth0:1", ip("10.0.0.100"), 24), ("eth0:9", ip("10.0.0.254"), 32)];
        let all = vips(&cf, &literal_addresses).expect("vips");
        let listed: Vec<(&str, IpAddr, u8)> = all
            .iter()
            .map(|v| (v.device.as_str(), v.ip, v.prefix_len))
            .collect();
        assert_eq!(listed, expected);
        for (local, router, pulse_role) in [
            (vec![ip("10.0.0.1")], Some(Role::Master), Role::Master),
            (vec![ip("10.0.0.2")], Some(Role::Backup), Role::Backup),
        ] {
            assert_eq!(router_of(&cf, &local, &literal_addresses), router);
            let pulse = RouterSettings::from_config(&cf, &local, &literal_addresses).expect("settings");
            assert_eq!(pulse.role, pulse_role);
            assert_eq!(pulse.vips, vips(&cf, &literal_addresses).expect("vips"));
        }
    }

    #[test]
    fn a_host_with_neither_router_address_is_refused() {
        let elsewhere = [ip("10.9.9.9")];
        assert_eq!(router_of(&config(PAIR), &elsewhere, &literal_addresses), None);
        let refused = settings(PAIR, &elsewhere).expect_err("not a router");
        assert_eq!(
            refused,
            SettingsError::NotARouter {
                primary: ip("10.0.0.1"),
                backup: Some(ip("10.0.0.2"))
            }
        );
        assert_eq!(
            refused.to_string(),
            "this host holds neither the primary address 10.0.0.1 nor the backup address 10.0.0.2: \
             it is not one of the routers"
        );
        let lone = PAIR.replace("backup = 10.0.0.2\n", "");
        assert_eq!(
            settings(&lone, &elsewhere).expect_err("not a router").to_string(),
            "this host holds neither the primary address 10.0.0.1 (and no backup is set): it is not one of the routers"
        );
    }
}
