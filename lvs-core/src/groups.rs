//! A router's part when lvs.cf has VIP groups (`vip_group` blocks): the
//! routers and their heartbeat channels, which one this host is, each
//! group's VIPs and priorities, the tracked checks, and the
//! [`ElectionConfig`] pulse runs. The pair of Piranha's files is read by
//! [`crate::router`] instead.
//!
//! Pure: the machine's addresses and a resolver are passed in; key files
//! are named here and read by the daemon.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use lvs_cf::{Config, Host, TrackTarget};

use crate::director::Resolve;
use crate::election::{ElectionConfig, GroupConfig, RouterId, TrackConfig, TrackEffect};
use crate::router::{Announcing, SettingsError, Vip};

/// The heartbeat key files by id, and the id heartbeats are sealed with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyFiles {
    /// Each key's id and file.
    pub files: Vec<(u8, String)>,
    /// The id that seals.
    pub sealing: u8,
}

impl KeyFiles {
    /// `heartbeat_keys` (with `heartbeat_send_key`), or `heartbeat_key` as
    /// key id 0; `None` without either.
    pub fn of(config: &Config) -> Option<KeyFiles> {
        if let Some(path) = &config.heartbeat_key {
            return Some(KeyFiles {
                files: vec![(0, path.clone())],
                sealing: 0,
            });
        }
        let first = config.heartbeat_keys.first()?;
        Some(KeyFiles {
            files: config.heartbeat_keys.clone(),
            sealing: config.heartbeat_send_key.unwrap_or(first.0),
        })
    }
}

/// One router of the groups.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupRouter {
    /// Its name: `primary`, `backup` or a `router` block's.
    pub name: String,
    /// Its heartbeat addresses: public, then private when it has one.
    pub addresses: Vec<SocketAddr>,
}

/// One VIP group as this router runs it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct VipGroupSettings {
    /// Its name.
    pub name: String,
    /// The VIPs of its active virtual services.
    pub vips: Vec<Vip>,
    /// The program run on each of its state changes.
    pub notify: Option<String>,
}

/// One tracked check: what to look at and how often.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrackSettings {
    /// Its name.
    pub name: String,
    /// What it watches.
    pub target: TrackTarget,
    /// How often.
    pub interval: Duration,
}

/// What pulse takes from an lvs.cf with VIP groups.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupSettings {
    /// This router.
    pub me: RouterId,
    /// Every router, by [`RouterId`].
    pub routers: Vec<GroupRouter>,
    /// Every group, in the order of the election's groups.
    pub groups: Vec<VipGroupSettings>,
    /// Every tracked check, in the order of the election's tracks.
    pub tracks: Vec<TrackSettings>,
    /// The heartbeat keys.
    pub keys: KeyFiles,
    /// The election's settings.
    pub election: ElectionConfig,
    /// How VIPs are announced when taken.
    pub announcing: Announcing,
    /// The connection-sync daemon, when `syncdaemon = 1`: on every router
    /// both a master and a backup, so that connections follow a group both
    /// ways.
    pub sync_daemon: Option<crate::router::SyncDaemon>,
}

impl GroupSettings {
    /// pulse's reading of `config` (which has `vip_group` blocks) on a host
    /// whose addresses are `local`. `config` has passed validation.
    pub fn from_config(
        config: &Config,
        local: &[IpAddr],
        resolver: &Resolve<'_>,
    ) -> Result<GroupSettings, SettingsError> {
        if config.vip_groups.is_empty() {
            return Err(SettingsError::ModeChanged { groups: false });
        }
        let port = config.heartbeat_port;
        let resolve = |what: &'static str, host: &Host| {
            resolver(host).map_err(|_| SettingsError::Resolve {
                what,
                host: host.to_string(),
            })
        };
        let mut routers = Vec::new();
        let mut add =
            |name: &str, public: &Option<Host>, private: &Option<Host>| -> Result<(), SettingsError> {
                let Some(public) = public else { return Ok(()) };
                let mut addresses = vec![SocketAddr::new(resolve("router address", public)?, port)];
                if let Some(private) = private {
                    addresses.push(SocketAddr::new(resolve("router private address", private)?, port));
                }
                routers.push(GroupRouter {
                    name: name.to_owned(),
                    addresses,
                });
                Ok(())
            };
        add("primary", &config.primary, &config.primary_private)?;
        if config.backup_active {
            add(
                "backup",
                &config.backup_address().cloned(),
                &config.backup_private,
            )?;
        }
        for router in &config.routers {
            add(&router.name, &router.address, &router.private)?;
        }
        let me = routers
            .iter()
            .position(|r| r.addresses.iter().any(|a| local.contains(&a.ip())))
            .ok_or_else(|| SettingsError::NotOneOfTheRouters {
                routers: routers.iter().map(|r| r.name.clone()).collect(),
            })?;
        let count = u8::try_from(routers.len()).map_err(|_| SettingsError::TooManyRouters)?;
        let mut election = ElectionConfig::new(
            RouterId(me as u8),
            count,
            config.keepalive.as_duration(),
            config.deadtime.as_duration(),
        )
        .announcements(
            config.announce_again.map(|s| s.as_duration()),
            config.announce_refresh.map(|s| s.as_duration()),
        )
        .catch_up_bound(catch_up_bound(config));
        let mut groups = Vec::new();
        for group in &config.vip_groups {
            let priorities = routers
                .iter()
                .map(|router| {
                    group
                        .priorities
                        .iter()
                        .find(|(name, _)| *name == router.name)
                        .map_or(0, |(_, priority)| *priority)
                })
                .collect();
            election = election.group(GroupConfig::new(&group.name, priorities).preempt(
                group.preempt,
                group.preempt_delay.map_or(Duration::ZERO, |s| s.as_duration()),
            ));
            let mut vips: Vec<Vip> = Vec::new();
            let members = config
                .virtual_services
                .iter()
                .filter(|vs| vs.active && vs.vip_group.as_deref() == Some(group.name.as_str()));
            for vs in members {
                if let Some(address) = &vs.address {
                    let ip = resolve("virtual address", &address.host)?;
                    if !vips.iter().any(|v| v.ip == ip) {
                        vips.push(Vip::new(&address.device, ip, vs.vip_nmask));
                    }
                }
            }
            groups.push(VipGroupSettings {
                name: group.name.clone(),
                vips,
                notify: group.notify.clone(),
            });
        }
        let mut tracks = Vec::new();
        for track in &config.tracks {
            let Some(target) = &track.target else { continue };
            let effect = match track.weight {
                0 => TrackEffect::Fault,
                weight => TrackEffect::Weight(weight),
            };
            let mut tracked = TrackConfig::new(&track.name, effect).counts(track.rise, track.fall);
            if !track.groups.is_empty() {
                let indices = track
                    .groups
                    .iter()
                    .filter_map(|name| config.vip_groups.iter().position(|g| g.name == *name))
                    .collect();
                tracked = tracked.groups(indices);
            }
            election = election.track(tracked);
            tracks.push(TrackSettings {
                name: track.name.clone(),
                target: target.clone(),
                interval: track
                    .interval
                    .unwrap_or(lvs_cf::TrackBlock::DEFAULT_INTERVAL)
                    .as_duration(),
            });
        }
        Ok(GroupSettings {
            me: RouterId(me as u8),
            routers,
            groups,
            tracks,
            keys: KeyFiles::of(config).ok_or(SettingsError::NoHeartbeatKey)?,
            election,
            announcing: Announcing {
                count: config.arp_count,
                interval: config.arp_interval.as_duration(),
            },
            sync_daemon: config.syncdaemon.then(|| crate::router::SyncDaemon {
                interface: config.syncd_iface.clone(),
                sync_id: u32::from(config.syncd_id),
            }),
        })
    }

    /// The other router whose address `ip` is.
    pub fn router_at(&self, ip: IpAddr) -> Option<RouterId> {
        self.routers
            .iter()
            .position(|r| r.addresses.iter().any(|a| a.ip() == ip))
            .filter(|&id| id != usize::from(self.me.0))
            .map(|id| RouterId(id as u8))
    }

    /// This router's heartbeat addresses.
    pub fn own(&self) -> &[SocketAddr] {
        &self.routers[usize::from(self.me.0)].addresses
    }
}

/// The readiness gate's bound: lvs.cf's `catch_up_bound` (0: no gate), or
/// the default while the sync daemon runs, since without it no table fills.
fn catch_up_bound(config: &Config) -> Option<Duration> {
    match config.catch_up_bound {
        Some(bound) => Some(bound.as_duration()).filter(|bound| !bound.is_zero()),
        None => config
            .syncdaemon
            .then(|| Config::DEFAULT_CATCH_UP_BOUND.as_duration()),
    }
}

/// What pulse with VIP groups says of itself (`pulse --status`, its
/// metrics): the one typed status both are made from. Times are seconds
/// since the Unix epoch, so that a client shows ages at its own moment.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct GroupsStatus {
    /// This router's name.
    pub router: String,
    /// When this was taken.
    pub at: f64,
    /// Every group, in lvs.cf's order.
    pub groups: Vec<GroupStatus>,
    /// The other routers.
    pub peers: Vec<PeerStatus>,
    /// The tracked checks.
    pub tracks: Vec<TrackStatus>,
    /// What became of the datagrams heard, by kind.
    pub heartbeats: crate::heartbeat::HeartbeatCounters,
    /// How many active connections this router's IPVS table holds, once
    /// counted.
    #[serde(default)]
    pub connections: Option<u32>,
    /// Whether the readiness gate is open: this router may take groups
    /// from their holders (always, without a gate).
    #[serde(default)]
    pub ready: bool,
}

/// One group in [`GroupsStatus`].
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct GroupStatus {
    /// Its name.
    pub name: String,
    /// This router's state in it (`backup`, `master`, `fault`).
    pub state: String,
    /// This router's effective priority in it (0 in FAULT).
    pub priority: u8,
    /// The router that holds it, as far as this one knows.
    pub holder: Option<String>,
    /// Its VIPs.
    pub vips: Vec<IpAddr>,
    /// When its state last changed here, and why (a reason's word).
    pub changed: Option<(f64, String)>,
    /// When its VIPs were last announced from here.
    pub announced: Option<f64>,
    /// Transitions here by the state entered and the reason, with counts.
    pub transitions: Vec<(String, String, u64)>,
}

/// Another router in [`GroupsStatus`].
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct PeerStatus {
    /// Its name.
    pub name: String,
    /// Its heartbeat addresses.
    pub addresses: Vec<SocketAddr>,
    /// When its last accepted heartbeat came, while it is alive.
    pub heard: Option<f64>,
    /// How many connections its table holds, as it last said.
    #[serde(default)]
    pub connections: Option<u32>,
}

/// A tracked check in [`GroupsStatus`].
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct TrackStatus {
    /// Its name.
    pub name: String,
    /// Whether it passes (after its rise and fall counts).
    pub passing: bool,
}

impl GroupsStatus {
    /// The status as a table for people, ages counted to `now` (seconds
    /// since the epoch).
    pub fn text(&self, now: f64) -> String {
        use std::fmt::Write as _;
        let age = |at: f64| format!("{:.1}s ago", (now - at).max(0.0));
        let mut out = format!("pulse: router {}, VIP groups\n\n", self.router);
        let _ = writeln!(
            out,
            "{:<16} {:<7} {:>8}  {:<16} {:<28} VIPs",
            "GROUP", "STATE", "PRIORITY", "HOLDER", "LAST CHANGE"
        );
        for group in &self.groups {
            let changed = group
                .changed
                .as_ref()
                .map_or_else(|| "-".to_owned(), |(at, why)| format!("{} ({why})", age(*at)));
            let vips: Vec<String> = group.vips.iter().map(ToString::to_string).collect();
            let _ = writeln!(
                out,
                "{:<16} {:<7} {:>8}  {:<16} {:<28} {}",
                group.name,
                group.state,
                group.priority,
                group.holder.as_deref().unwrap_or("none"),
                changed,
                vips.join(" ")
            );
        }
        let _ = writeln!(
            out,
            "\n{:<16} {:<24} {:>11}  LAST HEARTBEAT",
            "ROUTER", "ADDRESSES", "CONNECTIONS"
        );
        let gate = if self.ready { "" } else { ", waiting to catch up" };
        let _ = writeln!(
            out,
            "{:<16} {:<24} {:>11}  (this router{gate})",
            self.router,
            "",
            self.connections.map_or_else(|| "-".to_owned(), |c| c.to_string())
        );
        for peer in &self.peers {
            let addresses: Vec<String> = peer.addresses.iter().map(|a| a.ip().to_string()).collect();
            let heard = peer.heard.map_or_else(|| "not alive".to_owned(), age);
            let connections = peer.connections.map_or_else(|| "-".to_owned(), |c| c.to_string());
            let _ = writeln!(
                out,
                "{:<16} {:<24} {connections:>11}  {heard}",
                peer.name,
                addresses.join(" ")
            );
        }
        if !self.tracks.is_empty() {
            let _ = writeln!(out, "\n{:<16} STATE", "TRACK");
            for track in &self.tracks {
                let _ = writeln!(
                    out,
                    "{:<16} {}",
                    track.name,
                    if track.passing { "passing" } else { "failing" }
                );
            }
        }
        let _ = writeln!(out, "\nheartbeats: {}", self.heartbeats);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::director::literal_addresses;
    use crate::election::GroupState;

    const GROUPS: &str = "primary = 10.0.0.1\nbackup = 10.0.0.2\nbackup_active = 1\nheartbeat_port = 600\n\
        keepalive = 0.5\ndeadtime = 2\nnetwork = direct\nheartbeat_key = /k\nsyncdaemon = 1\n\
        router third {\n address = 10.0.0.3\n private = 192.168.0.3\n}\n\
        vip_group web {\n priorities = [ primary:200 backup:100 third:50 ]\n preempt_delay = 3\n}\n\
        vip_group mail {\n priorities = [ backup:200 third:100 ]\n preempt = 0\n}\n\
        track haproxy {\n process = haproxy\n fall = 3\n groups = [ mail ]\n}\n\
        virtual www {\n active = 1\n address = 10.0.1.80 eth0:1\n vip_nmask = 255.255.255.0\n vip_group = web\n}\n\
        virtual www6 {\n active = 1\n address = 10.0.1.80 eth0:1\n port = 443\n vip_group = web\n}\n\
        virtual smtp {\n active = 1\n address = 10.0.1.25 eth0:2\n port = 25\n vip_group = mail\n}\n\
        virtual old {\n active = 0\n address = 10.0.1.99 eth0:3\n vip_group = mail\n}\n";

    fn settings(local: &str) -> Result<GroupSettings, SettingsError> {
        let parsed = lvs_cf::parse(GROUPS).expect("valid lvs.cf");
        assert_eq!(parsed.diagnostics(), []);
        GroupSettings::from_config(
            &parsed.config,
            &[local.parse().expect("literal")],
            &literal_addresses,
        )
    }

    #[test]
    fn routers_groups_and_tracks() {
        let third = settings("192.168.0.3").expect("the third router");
        assert_eq!(third.me, RouterId(2));
        let names: Vec<_> = third.routers.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["primary", "backup", "third"]);
        assert_eq!(third.own().len(), 2);
        assert_eq!(
            third.router_at("10.0.0.1".parse().expect("literal")),
            Some(RouterId(0))
        );
        assert_eq!(
            third.router_at("10.0.0.3".parse().expect("literal")),
            None,
            "itself"
        );
        assert_eq!(third.election.groups[0].priorities, [200, 100, 50]);
        assert_eq!(third.election.groups[1].priorities, [0, 200, 100]);
        assert_eq!(third.election.groups[0].preempt_delay, Duration::from_secs(3));
        assert!(!third.election.groups[1].preempt);
        assert_eq!(third.groups[0].vips.len(), 1, "one VIP for both services");
        assert_eq!(third.groups[0].vips[0].prefix_len, 24);
        assert_eq!(third.groups[1].vips.len(), 1, "inactive services bring no VIP");
        assert_eq!(third.election.tracks[0].effect, TrackEffect::Fault);
        assert_eq!(third.election.tracks[0].groups, Some(vec![1]));
        assert_eq!(third.tracks[0].interval, Duration::from_secs(2));
        assert_eq!(
            third.keys,
            KeyFiles {
                files: vec![(0, "/k".to_owned())],
                sealing: 0
            }
        );
        assert!(third.sync_daemon.is_some());
        assert_eq!(
            third.election.catch_up_bound,
            Some(Duration::from_secs(30)),
            "the default gate, with the sync daemon"
        );

        let primary = settings("10.0.0.1").expect("the primary");
        assert_eq!(primary.me, RouterId(0));
        // The primary cannot hold mail: its machine starts there in FAULT.
        let (machine, _) = crate::election::Election::new(primary.election, std::time::Instant::now());
        assert_eq!(machine.state(1), Some(GroupState::Fault));

        assert_eq!(
            settings("10.9.9.9"),
            Err(SettingsError::NotOneOfTheRouters {
                routers: vec!["primary".into(), "backup".into(), "third".into()]
            })
        );
    }
}
