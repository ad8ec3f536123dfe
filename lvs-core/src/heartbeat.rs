//! Heartbeat datagrams: Piranha's 4-byte format, and an authenticated format.
//! Encoding and checking only; the daemon owns the sockets.
//!
//! Piranha's heartbeat is one `unsigned int` magic number in the sender's
//! byte order (no `htonl`), so on x86 RUNNING travels as `da db ad bd`. A
//! router running this pulse on a little-endian machine can pair with one
//! running Piranha's during a migration. Nothing authenticates it: anyone who
//! can send from the partner's address can make a router stand down.
//!
//! The authenticated format (an lvs-rs extension) carries the sender's role,
//! its state, the sender's session and sequence number, and an echo of the
//! receiver's session and sequence number as the sender last heard them,
//! sealed with HMAC-SHA-256 under a key both routers share. A session is a
//! random number a router draws when it starts, so freshness depends on no
//! clock: a heartbeat is acted on only when it echoes the receiver's current
//! session and one of the receiver's last few sequence numbers (the window,
//! about one `deadtime` of the receiver's own heartbeats), and its sequence
//! is above the last accepted from that sender's session. A capture is
//! therefore stale once the receiver has sent a window's worth of heartbeats
//! since it was made, whatever either clock says. The first heartbeat after
//! either side starts is only a handshake; the next one counts. The threat
//! model is in `docs/pulse.md`.
//!
//! A receiver drops forged and altered datagrams, its own reflected back at
//! it, stale ones (made for an earlier run of the receiver: captured and
//! replayed, or sent before the partner heard this run), replays within a
//! session, and heartbeats of a session the partner has since left. The same
//! datagram arriving again over the second heartbeat channel is a
//! [`HeartbeatError::Duplicate`], which the daemon drops without a word.

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::election::{GroupAdvert, GroupKey, GroupState, RouterId};
use crate::failover::{PeerState, Role};

/// LVS mode, the sender is active.
pub const RUNNING_MAGIC: u32 = 0xbdad_dbda;
/// LVS mode, the sender is not active.
pub const STOPPED_MAGIC: u32 = 0xadbd_dabd;
/// FOS mode magics: accepted as Piranha's, but they are not LVS heartbeats.
pub const FOS_RUNNING_MAGIC: u32 = 0xbeef_babe;
/// The failover-services heartbeat `STOPPED` (recognised, not spoken).
pub const FOS_STOPPED_MAGIC: u32 = 0xdead_beef;
/// The failover-services heartbeat `STOPME`.
pub const FOS_STOPME_MAGIC: u32 = 0xdead_dada;
/// The shared-disk `HOLD` heartbeat.
pub const HOLD_MAGIC: u32 = 0xdeaf_babe;
/// The shared-disk `HELD` heartbeat.
pub const HELD_MAGIC: u32 = 0xdeaf_dada;

/// Why a datagram is not a heartbeat to act on, with Piranha's log line
/// where Piranha has one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeartbeatError {
    #[error("Unexpected heartbeat from {0}")]
    /// From an address that is not the partner's.
    UnexpectedSource(IpAddr),
    #[error("bad heartbeat packet")]
    /// Neither Piranha's length nor the authenticated one.
    BadLength(usize),
    #[error("Incompatible heartbeat received -- other system not using identical services")]
    /// A magic number of another mode (failover services, shared disk).
    Incompatible(u32),
    /// A Piranha magic that is valid but not an LVS state (FOS, HOLD).
    #[error("heartbeat {0:#010x} is not an LVS heartbeat")]
    NotLvs(u32),
    #[error("forged or altered heartbeat (its HMAC does not verify)")]
    /// The MAC does not match the key.
    BadMac,
    #[error("replayed heartbeat (sequence {seq}, already accepted {last})")]
    /// Older than the last one accepted from the same session.
    Replayed {
        /// Its sequence number.
        seq: u64,
        /// The last one accepted.
        last: u64,
    },
    #[error("our own heartbeat came back (reflected)")]
    /// Our own heartbeat, sent back.
    Reflected,
    /// Authentic, but it does not echo this run of the receiver, or echoes
    /// it from too long ago: captured earlier and replayed, or sent before
    /// the partner heard this run (the handshake after a start, which the
    /// daemon does not log).
    #[error("stale heartbeat (made before the partner heard this run of pulse)")]
    Stale,
    /// The heartbeat last accepted, again: its copy over the other channel.
    #[error("duplicate heartbeat")]
    Duplicate,
    /// From a session the partner has since replaced by restarting.
    #[error("replayed heartbeat (from a run of the partner that has ended)")]
    LeftSession,
    /// Sealed under a key id this router does not hold.
    #[error("heartbeat sealed with key id {0}, which is not in heartbeat_keys")]
    UnknownKey(u8),
    /// A group heartbeat meant for another router, or claiming to come
    /// from a router other than the one at its address.
    #[error("group heartbeat from router {from} to router {to} arrived at the wrong router")]
    Misdirected {
        /// The sender it names.
        from: u8,
        /// The receiver it names.
        to: u8,
    },
}

/// What became of the datagrams from the partner's side, by kind: the
/// part of pulse's status that shows an attack or a misconfiguration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct HeartbeatCounters {
    /// Heartbeats acted on.
    pub accepted: u64,
    /// Copies of an accepted heartbeat over the other channel.
    pub duplicate: u64,
    /// Authentic but made before the partner heard this run (the handshake, or a replay).
    pub stale: u64,
    /// Replays within a session, or of a session that has ended.
    pub replayed: u64,
    /// Whose HMAC does not verify.
    pub forged: u64,
    /// Of the wrong length, magic or version.
    pub malformed: u64,
    /// From an address that is not the partner's.
    pub unexpected_source: u64,
    /// Our own, sent back.
    pub reflected: u64,
    /// Sealed with a key id not in the keyring (a rotation half done).
    pub unknown_key: u64,
}

impl HeartbeatCounters {
    /// Counts one datagram's outcome.
    pub fn count<T>(&mut self, outcome: &Result<T, HeartbeatError>) {
        let counter = match outcome {
            Ok(_) => &mut self.accepted,
            Err(HeartbeatError::Duplicate) => &mut self.duplicate,
            Err(HeartbeatError::Stale) => &mut self.stale,
            Err(HeartbeatError::Replayed { .. } | HeartbeatError::LeftSession) => &mut self.replayed,
            Err(HeartbeatError::BadMac | HeartbeatError::Misdirected { .. }) => &mut self.forged,
            Err(HeartbeatError::UnknownKey(_)) => &mut self.unknown_key,
            Err(
                HeartbeatError::BadLength(_) | HeartbeatError::Incompatible(_) | HeartbeatError::NotLvs(_),
            ) => &mut self.malformed,
            Err(HeartbeatError::UnexpectedSource(_)) => &mut self.unexpected_source,
            Err(HeartbeatError::Reflected) => &mut self.reflected,
        };
        *counter += 1;
    }
}

impl std::fmt::Display for HeartbeatCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "accepted {}, forged {}, replayed {}, malformed {}, reflected {}, stale {}, duplicate {}, from strangers {}, unknown key {}",
            self.accepted,
            self.forged,
            self.replayed,
            self.malformed,
            self.reflected,
            self.stale,
            self.duplicate,
            self.unexpected_source,
            self.unknown_key
        )
    }
}

/// Piranha's first check: the datagram must come from the partner's public
/// or private address (the source port is not checked).
pub fn check_source(source: IpAddr, partner_addresses: &[IpAddr]) -> Result<(), HeartbeatError> {
    if partner_addresses.contains(&source) {
        Ok(())
    } else {
        Err(HeartbeatError::UnexpectedSource(source))
    }
}

/// A Piranha heartbeat for `state`.
pub fn encode_piranha(state: PeerState) -> [u8; 4] {
    let magic = match state {
        PeerState::Running => RUNNING_MAGIC,
        PeerState::Stopped => STOPPED_MAGIC,
    };
    magic.to_ne_bytes()
}

/// Reads a Piranha heartbeat: exactly four bytes, a known magic.
pub fn decode_piranha(datagram: &[u8]) -> Result<PeerState, HeartbeatError> {
    let bytes: [u8; 4] = datagram
        .try_into()
        .map_err(|_| HeartbeatError::BadLength(datagram.len()))?;
    match u32::from_ne_bytes(bytes) {
        RUNNING_MAGIC => Ok(PeerState::Running),
        STOPPED_MAGIC => Ok(PeerState::Stopped),
        magic @ (FOS_RUNNING_MAGIC | FOS_STOPPED_MAGIC | FOS_STOPME_MAGIC | HOLD_MAGIC | HELD_MAGIC) => {
            Err(HeartbeatError::NotLvs(magic))
        }
        magic => Err(HeartbeatError::Incompatible(magic)),
    }
}

/// `LVSA`: the first bytes of an authenticated heartbeat.
const AUTH_MAGIC: [u8; 4] = *b"LVSA";
/// Version 3 carries sessions and echoes; older versions are refused.
const AUTH_VERSION: u8 = 3;
/// Version 4: between routers of VIP groups, every group's state.
const GROUP_VERSION: u8 = 4;
const MAC_LEN: usize = 32;
/// magic, version, role, state, key id, sender's session and sequence,
/// the echo of the receiver's session and sequence, MAC. The key id's byte
/// was reserved (zero) before key ids, which is key id 0: routers of
/// either age agree while they use key id 0.
pub const AUTH_LEN: usize = 4 + 1 + 1 + 1 + 1 + 8 + 8 + 8 + 8 + MAC_LEN;
/// The most groups a group heartbeat carries.
pub const MAX_GROUPS: usize = 64;
/// A group heartbeat's head: magic, version, key id, sender, receiver,
/// session, sequence, echo, group count, flags (bit 0: the table was
/// counted), two reserved bytes and the number of active connections in
/// the sender's table.
const GROUP_HEAD: usize = 4 + 1 + 1 + 1 + 1 + 8 + 8 + 8 + 8 + 4 + 4;
/// The flag of a group heartbeat whose connection count is real; without
/// it the sender could not count its table (no IPVS, a test start).
const COUNTED: u8 = 0x01;
/// Each group: its key, state and priority.
const GROUP_ENTRY: usize = 4 + 1 + 1;
/// How many sessions a partner has left are remembered, so that their
/// heartbeats stay refused after it restarted.
const RETIRED_SESSIONS: usize = 64;

/// Why a keyring cannot be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// No key at all.
    #[error("no heartbeat key")]
    Empty,
    /// Two keys under one id.
    #[error("heartbeat key id {0} is given twice")]
    DuplicateId(u8),
    /// The id to seal with names no key.
    #[error("heartbeat_send_key {0} names no key of heartbeat_keys")]
    SealingKeyMissing(u8),
}

/// The keys heartbeats are sealed and opened with, each under a one-byte
/// id that travels in the datagram, so that a key is replaced without a
/// flag day: every router first accepts the new key while sealing with the
/// old, then seals with the new while still accepting the old, and at last
/// drops the old (see `docs/pulse.md`).
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<(u8, Hmac<Sha256>)>,
    sealing: u8,
}

impl Keyring {
    /// One key, id 0 (`heartbeat_key`).
    pub fn single(key: &[u8]) -> Keyring {
        Keyring {
            keys: vec![(0, hmac_of(key))],
            sealing: 0,
        }
    }

    /// Several keys by id, sealing with `sealing`'s.
    pub fn new<'k>(
        keys: impl IntoIterator<Item = (u8, &'k [u8])>,
        sealing: u8,
    ) -> Result<Keyring, KeyringError> {
        let mut ring: Vec<(u8, Hmac<Sha256>)> = Vec::new();
        for (id, key) in keys {
            if ring.iter().any(|(known, _)| *known == id) {
                return Err(KeyringError::DuplicateId(id));
            }
            ring.push((id, hmac_of(key)));
        }
        if ring.is_empty() {
            return Err(KeyringError::Empty);
        }
        if !ring.iter().any(|(id, _)| *id == sealing) {
            return Err(KeyringError::SealingKeyMissing(sealing));
        }
        Ok(Keyring { keys: ring, sealing })
    }

    /// The id heartbeats are sealed with.
    pub fn sealing_id(&self) -> u8 {
        self.sealing
    }

    /// The ids heartbeats are accepted with.
    pub fn ids(&self) -> impl Iterator<Item = u8> + '_ {
        self.keys.iter().map(|(id, _)| *id)
    }

    fn key(&self, id: u8) -> Option<&Hmac<Sha256>> {
        self.keys
            .iter()
            .find(|(known, _)| *known == id)
            .map(|(_, mac)| mac)
    }

    /// The MAC of `body` under the sealing key.
    fn seal(&self, body: &[u8]) -> [u8; MAC_LEN] {
        let mut mac = self
            .key(self.sealing)
            .cloned()
            .unwrap_or_else(|| unreachable!("checked in new"));
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    /// Checks `tag` over `body` under the key `id`.
    fn verify(&self, id: u8, body: &[u8], tag: &[u8]) -> Result<(), HeartbeatError> {
        let mut mac = self.key(id).cloned().ok_or(HeartbeatError::UnknownKey(id))?;
        mac.update(body);
        mac.verify_slice(tag).map_err(|_| HeartbeatError::BadMac)
    }
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keys.
        f.debug_struct("Keyring")
            .field("ids", &self.ids().collect::<Vec<_>>())
            .field("sealing", &self.sealing)
            .finish()
    }
}

fn hmac_of(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length; this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
}

/// The partner's session once one of its heartbeats proved fresh.
#[derive(Clone, Copy, Debug)]
struct Verified {
    session: u64,
    /// The last sequence acted on.
    last_seq: u64,
}

/// What our heartbeats echo: a partner session and the highest sequence
/// heard from it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Echo {
    session: u64,
    seq: u64,
}

/// The freshness of heartbeats between this router and one other: our
/// sequence, the echo we send, and the other's verified session. Both
/// heartbeat formats use it; see the module's documentation.
#[derive(Clone, Debug)]
struct Freshness {
    session: u64,
    next_seq: u64,
    /// How far behind our last sequence an echo may be and still be fresh.
    window: u64,
    /// What our heartbeats echo: the verified partner session, or, until one
    /// is verified, the session of the last authentic heartbeat heard.
    echo: Echo,
    partner: Option<Verified>,
    /// A new session seen fresh while another is verified, and our sequence
    /// then: it replaces the verified one only when a second heartbeat of
    /// it echoes one of ours sent since, which a replayed capture cannot.
    candidate: Option<(u64, u64)>,
    retired: std::collections::VecDeque<u64>,
}

impl Freshness {
    fn new(session: u64, window: u64) -> Freshness {
        Freshness {
            session,
            next_seq: 0,
            window: window.max(1),
            echo: Echo::default(),
            partner: None,
            candidate: None,
            retired: std::collections::VecDeque::new(),
        }
    }

    /// Our next sequence and the echo to send with it.
    fn next(&mut self) -> (u64, Echo) {
        self.next_seq += 1;
        (self.next_seq, self.echo)
    }

    /// Whether an authentic heartbeat of `session`/`seq` echoing `echo` is
    /// to be acted on, updating what we echo.
    fn accept(&mut self, session: u64, seq: u64, echo: Echo) -> Result<(), HeartbeatError> {
        if session == self.session {
            return Err(HeartbeatError::Reflected);
        }
        if self.retired.contains(&session) {
            return Err(HeartbeatError::LeftSession);
        }
        let fresh = echo.session == self.session
            && echo.seq <= self.next_seq
            && self.next_seq - echo.seq <= self.window;
        if !fresh {
            // Authentic but not made for this run of ours, or made before our
            // last `window` heartbeats. Until a partner session is verified,
            // answer it, so that its next heartbeat can be; once one is, only
            // a newer heartbeat of that session moves the echo, so old
            // captures replayed at us cannot.
            match self.partner {
                None => self.echo = Echo { session, seq },
                Some(partner) if partner.session == session && seq > self.echo.seq => {
                    self.echo.seq = seq;
                }
                Some(_) => {}
            }
            return Err(HeartbeatError::Stale);
        }
        match self.partner {
            Some(partner) if partner.session == session => {
                if seq == partner.last_seq {
                    return Err(HeartbeatError::Duplicate);
                }
                if seq < partner.last_seq {
                    return Err(HeartbeatError::Replayed {
                        seq,
                        last: partner.last_seq,
                    });
                }
            }
            Some(partner) => {
                // Another session: the partner restarted, or a capture of a
                // run we never heard is replayed. Only a live sender can
                // answer a heartbeat of ours sent after we first saw it.
                let confirmed =
                    matches!(self.candidate, Some((s, since)) if s == session && echo.seq > since);
                if !confirmed {
                    self.candidate = Some((session, self.next_seq));
                    return Err(HeartbeatError::Stale);
                }
                self.candidate = None;
                // The partner restarted: its old session is over for good.
                if self.retired.len() == RETIRED_SESSIONS {
                    self.retired.pop_front();
                }
                self.retired.push_back(partner.session);
            }
            None => {}
        }
        self.partner = Some(Verified {
            session,
            last_seq: seq,
        });
        self.echo = Echo { session, seq };
        Ok(())
    }
}

fn word_at(body: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&body[at..at + 8]);
    u64::from_be_bytes(bytes)
}

fn magic_of(body: &[u8]) -> u32 {
    u32::from_be_bytes([body[0], body[1], body[2], body[3]])
}

/// Seals and opens authenticated heartbeats for one router of a pair.
///
/// Create one per run of the router with a session drawn from a random
/// source (the daemon reads the operating system's); never reuse one.
pub struct Authenticator {
    keys: Keyring,
    role: Role,
    fresh: Freshness,
}

impl Authenticator {
    /// `session`: this run's random session number. `window`: how many of
    /// our own heartbeats may have been sent since the one a partner's
    /// heartbeat echoes (see [`Authenticator::window_for`]). One key, id 0.
    pub fn new(key: &[u8], role: Role, session: u64, window: u64) -> Authenticator {
        Authenticator::with_keys(Keyring::single(key), role, session, window)
    }

    /// The same, with a keyring.
    pub fn with_keys(keys: Keyring, role: Role, session: u64, window: u64) -> Authenticator {
        Authenticator {
            keys,
            role,
            fresh: Freshness::new(session, window),
        }
    }

    fn role_byte(role: Role) -> u8 {
        match role {
            Role::Master => 1,
            Role::Backup => 2,
        }
    }

    /// The window for heartbeats every `keepalive` and a partner declared
    /// dead after `deadtime`: the heartbeats we send in a `deadtime`, and
    /// two more for the round trip. A partner whose echoes fall further
    /// behind has not heard us for longer than that.
    pub fn window_for(keepalive: std::time::Duration, deadtime: std::time::Duration) -> u64 {
        let per = keepalive.as_secs_f64().max(0.001);
        (deadtime.as_secs_f64() / per).ceil() as u64 + 2
    }

    /// Changes the window (timers changed on a reload).
    pub fn set_window(&mut self, window: u64) {
        self.fresh.window = window.max(1);
    }

    /// Changes the keys (a reload during a rotation); the sessions and
    /// sequences go on, so no heartbeat becomes stale by it.
    pub fn set_keys(&mut self, keys: Keyring) {
        self.keys = keys;
    }

    /// Whether a heartbeat of the partner has proved fresh in this run.
    pub fn partner_verified(&self) -> bool {
        self.fresh.partner.is_some()
    }

    /// The next heartbeat for `state`. Seal once per round and send the same
    /// datagram over every channel: the copies are duplicates, not replays.
    pub fn seal(&mut self, state: PeerState) -> [u8; AUTH_LEN] {
        let (seq, echo) = self.fresh.next();
        let mut datagram = [0u8; AUTH_LEN];
        datagram[..4].copy_from_slice(&AUTH_MAGIC);
        datagram[4] = AUTH_VERSION;
        datagram[5] = Authenticator::role_byte(self.role);
        datagram[6] = match state {
            PeerState::Running => 1,
            PeerState::Stopped => 2,
        };
        datagram[7] = self.keys.sealing_id();
        datagram[8..16].copy_from_slice(&self.fresh.session.to_be_bytes());
        datagram[16..24].copy_from_slice(&seq.to_be_bytes());
        datagram[24..32].copy_from_slice(&echo.session.to_be_bytes());
        datagram[32..40].copy_from_slice(&echo.seq.to_be_bytes());
        let tag = self.keys.seal(&datagram[..AUTH_LEN - MAC_LEN]);
        datagram[AUTH_LEN - MAC_LEN..].copy_from_slice(&tag);
        datagram
    }

    /// Checks a heartbeat from the partner and returns its state.
    pub fn open(&mut self, datagram: &[u8]) -> Result<PeerState, HeartbeatError> {
        if datagram.len() != AUTH_LEN {
            return Err(HeartbeatError::BadLength(datagram.len()));
        }
        let (body, tag) = datagram.split_at(AUTH_LEN - MAC_LEN);
        self.keys.verify(body[7], body, tag)?;
        if body[..4] != AUTH_MAGIC || body[4] != AUTH_VERSION {
            return Err(HeartbeatError::Incompatible(magic_of(body)));
        }
        let (session, seq) = (word_at(body, 8), word_at(body, 16));
        let echo = Echo {
            session: word_at(body, 24),
            seq: word_at(body, 32),
        };
        if body[5] == Authenticator::role_byte(self.role) {
            return Err(HeartbeatError::Reflected);
        }
        let state = match body[6] {
            1 => PeerState::Running,
            2 => PeerState::Stopped,
            other => return Err(HeartbeatError::Incompatible(u32::from(other))),
        };
        self.fresh.accept(session, seq, echo)?;
        Ok(state)
    }
}

/// What a group heartbeat says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupHeartbeat {
    /// The sender's state and priority in every group.
    pub adverts: Vec<GroupAdvert>,
    /// How many active connections the sender's IPVS table holds, if it
    /// could count them: a router that returns compares its own table with
    /// the holders' (the readiness gate of [`crate::election`]).
    pub connections: Option<u32>,
}

/// Seals and opens group heartbeats between this router and one other
/// router of VIP groups (version 4 of the authenticated format): every
/// group's state and priority, the sender and receiver by their place in
/// the list of routers, and the same sessions, echoes and keys as
/// [`Authenticator`]. One per other router, per run.
pub struct PeerLink {
    keys: Keyring,
    me: RouterId,
    peer: RouterId,
    fresh: Freshness,
}

impl PeerLink {
    /// The link from `me` to `peer`, with this run's `session` (the same for
    /// every link of a run) and the window of [`Authenticator::window_for`].
    pub fn new(keys: Keyring, me: RouterId, peer: RouterId, session: u64, window: u64) -> PeerLink {
        PeerLink {
            keys,
            me,
            peer,
            fresh: Freshness::new(session, window),
        }
    }

    /// The other router.
    pub fn peer(&self) -> RouterId {
        self.peer
    }

    /// Changes the window (timers changed on a reload).
    pub fn set_window(&mut self, window: u64) {
        self.fresh.window = window.max(1);
    }

    /// Changes the keys; sessions and sequences go on.
    pub fn set_keys(&mut self, keys: Keyring) {
        self.keys = keys;
    }

    /// The next heartbeat to the other router, with at most
    /// [`MAX_GROUPS`] groups (the daemon refuses more at configuration)
    /// and the size of this router's connection table.
    pub fn seal(&mut self, adverts: &[GroupAdvert], connections: Option<u32>) -> Vec<u8> {
        let adverts = &adverts[..adverts.len().min(MAX_GROUPS)];
        let (seq, echo) = self.fresh.next();
        let mut datagram = Vec::with_capacity(GROUP_HEAD + adverts.len() * GROUP_ENTRY + MAC_LEN);
        datagram.extend_from_slice(&AUTH_MAGIC);
        datagram.extend_from_slice(&[GROUP_VERSION, self.keys.sealing_id(), self.me.0, self.peer.0]);
        for word in [self.fresh.session, seq, echo.session, echo.seq] {
            datagram.extend_from_slice(&word.to_be_bytes());
        }
        datagram.extend_from_slice(&[adverts.len() as u8, u8::from(connections.is_some()), 0, 0]);
        datagram.extend_from_slice(&connections.unwrap_or(0).to_be_bytes());
        for advert in adverts {
            datagram.extend_from_slice(&advert.group.0.to_be_bytes());
            datagram.extend_from_slice(&[advert.state.byte(), advert.priority]);
        }
        let tag = self.keys.seal(&datagram);
        datagram.extend_from_slice(&tag);
        datagram
    }

    /// Checks a heartbeat from the other router and returns what it says.
    pub fn open(&mut self, datagram: &[u8]) -> Result<GroupHeartbeat, HeartbeatError> {
        // A pair's heartbeat (another version) says so before its length
        // does: a router left in pair mode among routers of groups.
        if datagram.len() > 4 && datagram[..4] == AUTH_MAGIC && datagram[4] != GROUP_VERSION {
            return Err(HeartbeatError::Incompatible(magic_of(datagram)));
        }
        if datagram.len() < GROUP_HEAD + MAC_LEN {
            return Err(HeartbeatError::BadLength(datagram.len()));
        }
        let (body, tag) = datagram.split_at(datagram.len() - MAC_LEN);
        self.keys.verify(body[5], body, tag)?;
        if body[..4] != AUTH_MAGIC || body[4] != GROUP_VERSION {
            return Err(HeartbeatError::Incompatible(magic_of(body)));
        }
        let (from, to) = (body[6], body[7]);
        if from == self.me.0 {
            return Err(HeartbeatError::Reflected);
        }
        if from != self.peer.0 || to != self.me.0 {
            return Err(HeartbeatError::Misdirected { from, to });
        }
        let count = usize::from(body[40]);
        if body.len() != GROUP_HEAD + count * GROUP_ENTRY {
            return Err(HeartbeatError::BadLength(datagram.len()));
        }
        let adverts = body[GROUP_HEAD..]
            .chunks_exact(GROUP_ENTRY)
            .map(|entry| {
                let state = GroupState::from_byte(entry[4])
                    .ok_or(HeartbeatError::Incompatible(u32::from(entry[4])))?;
                Ok(GroupAdvert {
                    group: GroupKey(u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]])),
                    state,
                    priority: entry[5],
                })
            })
            .collect::<Result<Vec<_>, HeartbeatError>>()?;
        let echo = Echo {
            session: word_at(body, 24),
            seq: word_at(body, 32),
        };
        self.fresh.accept(word_at(body, 8), word_at(body, 16), echo)?;
        Ok(GroupHeartbeat {
            adverts,
            connections: (body[41] & COUNTED != 0)
                .then(|| u32::from_be_bytes([body[44], body[45], body[46], body[47]])),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piranha_heartbeats_are_native_endian_magics() {
        if cfg!(target_endian = "little") {
            assert_eq!(encode_piranha(PeerState::Running), [0xda, 0xdb, 0xad, 0xbd]);
            assert_eq!(encode_piranha(PeerState::Stopped), [0xbd, 0xda, 0xbd, 0xad]);
        }
        for state in [PeerState::Running, PeerState::Stopped] {
            assert_eq!(decode_piranha(&encode_piranha(state)), Ok(state));
        }
    }

    #[test]
    fn piranha_checks_in_piranhas_order() {
        let partner: IpAddr = "10.0.0.2".parse().expect("literal");
        assert_eq!(check_source(partner, &[partner]), Ok(()));
        let stranger: IpAddr = "10.0.0.9".parse().expect("literal");
        assert_eq!(
            check_source(stranger, &[partner]).map_err(|e| e.to_string()),
            Err("Unexpected heartbeat from 10.0.0.9".into())
        );
        assert_eq!(decode_piranha(&[1, 2, 3]), Err(HeartbeatError::BadLength(3)));
        assert_eq!(
            decode_piranha(&[0xda, 0xdb, 0xad, 0xbd, 0]),
            Err(HeartbeatError::BadLength(5))
        );
        let error = decode_piranha(&0x1234_5678u32.to_ne_bytes()).expect_err("unknown magic");
        assert_eq!(
            error.to_string(),
            "Incompatible heartbeat received -- other system not using identical services"
        );
        assert_eq!(
            decode_piranha(&FOS_STOPME_MAGIC.to_ne_bytes()),
            Err(HeartbeatError::NotLvs(FOS_STOPME_MAGIC))
        );
    }

    const WINDOW: u64 = 5;

    /// A master and a backup that have exchanged one round (the handshake).
    fn paired(master_session: u64, backup_session: u64) -> (Authenticator, Authenticator) {
        let mut master = Authenticator::new(b"shared secret", Role::Master, master_session, WINDOW);
        let mut backup = Authenticator::new(b"shared secret", Role::Backup, backup_session, WINDOW);
        assert_eq!(
            backup.open(&master.seal(PeerState::Running)),
            Err(HeartbeatError::Stale),
            "the first heartbeat is only a handshake"
        );
        assert_eq!(
            master.open(&backup.seal(PeerState::Stopped)),
            Ok(PeerState::Stopped),
            "the backup's answer echoes the master's session"
        );
        assert_eq!(
            backup.open(&master.seal(PeerState::Running)),
            Ok(PeerState::Running)
        );
        (master, backup)
    }

    #[test]
    fn authenticated_round_trip_and_duplicates_over_two_channels() {
        let (mut master, mut backup) = paired(11, 22);
        assert!(master.partner_verified() && backup.partner_verified());
        let heartbeat = master.seal(PeerState::Stopped);
        assert_eq!(backup.open(&heartbeat), Ok(PeerState::Stopped));
        assert_eq!(backup.open(&heartbeat), Err(HeartbeatError::Duplicate));
        assert_eq!(
            backup.open(&master.seal(PeerState::Running)),
            Ok(PeerState::Running)
        );
    }

    #[test]
    fn a_capture_replayed_after_the_receiver_restarts_is_stale() {
        let (mut master, mut backup) = paired(11, 22);
        let captured = master.seal(PeerState::Running);
        assert_eq!(backup.open(&captured), Ok(PeerState::Running));
        // The backup restarts (a new session); a week later the capture comes back.
        drop(backup);
        let mut restarted = Authenticator::new(b"shared secret", Role::Backup, 23, WINDOW);
        for _ in 0..3 {
            assert_eq!(restarted.open(&captured), Err(HeartbeatError::Stale));
        }
        assert!(!restarted.partner_verified());
        // The live master hears the new session, and takes it once a second
        // heartbeat of it answers one of the master's sent since.
        assert_eq!(
            master.open(&restarted.seal(PeerState::Stopped)),
            Err(HeartbeatError::Stale)
        );
        assert_eq!(
            restarted.open(&master.seal(PeerState::Running)),
            Err(HeartbeatError::Stale)
        );
        assert_eq!(
            master.open(&restarted.seal(PeerState::Stopped)),
            Ok(PeerState::Stopped)
        );
        assert_eq!(
            restarted.open(&master.seal(PeerState::Running)),
            Ok(PeerState::Running)
        );
        // Once verified, captures replayed at it cannot move what it echoes.
        assert_eq!(restarted.open(&captured), Err(HeartbeatError::Stale));
        assert_eq!(
            master.open(&restarted.seal(PeerState::Stopped)),
            Ok(PeerState::Stopped)
        );
    }

    #[test]
    fn a_restarted_sender_is_believed_and_its_old_session_is_not() {
        let (mut master, mut backup) = paired(11, 22);
        let old_session = master.seal(PeerState::Stopped);
        assert_eq!(backup.open(&old_session), Ok(PeerState::Stopped));
        // The master restarts; nothing about it depends on a clock.
        let mut restarted = Authenticator::new(b"shared secret", Role::Master, 12, WINDOW);
        assert_eq!(
            backup.open(&restarted.seal(PeerState::Running)),
            Err(HeartbeatError::Stale)
        );
        assert_eq!(
            restarted.open(&backup.seal(PeerState::Stopped)),
            Err(HeartbeatError::Stale),
            "the backup still echoes the old session until the new one proves fresh"
        );
        assert_eq!(
            restarted.open(&backup.seal(PeerState::Stopped)),
            Err(HeartbeatError::Stale)
        );
        let mut master = restarted;
        // The restarted master echoes the backup now; a second heartbeat,
        // answering one the backup sent since, makes the backup believe it.
        assert_eq!(
            backup.open(&master.seal(PeerState::Running)),
            Err(HeartbeatError::Stale)
        );
        assert_eq!(
            master.open(&backup.seal(PeerState::Stopped)),
            Err(HeartbeatError::Stale)
        );
        assert_eq!(
            backup.open(&master.seal(PeerState::Running)),
            Ok(PeerState::Running)
        );
        assert_eq!(backup.open(&old_session), Err(HeartbeatError::LeftSession));
        assert_eq!(
            master.open(&backup.seal(PeerState::Stopped)),
            Ok(PeerState::Stopped)
        );
    }

    #[test]
    fn a_capture_that_never_arrived_goes_stale_as_the_receiver_sends_on() {
        let (mut master, mut backup) = paired(11, 22);
        // A heartbeat of the master's that the backup never got (lost, and captured).
        let captured = master.seal(PeerState::Running);
        // The master dies; the backup goes on sending for longer than its window.
        for _ in 0..=WINDOW {
            let _ = backup.seal(PeerState::Running);
        }
        assert_eq!(backup.open(&captured), Err(HeartbeatError::Stale));
        // A run the backup never heard from: its capture, replayed once the
        // new run is verified, does not replace it.
        let mut backup = Authenticator::new(b"shared secret", Role::Backup, 22, WINDOW);
        let mut first_run = Authenticator::new(b"shared secret", Role::Master, 11, WINDOW);
        let _ = first_run.open(&backup.seal(PeerState::Stopped));
        let never_arrived = first_run.seal(PeerState::Stopped);
        let mut second_run = Authenticator::new(b"shared secret", Role::Master, 12, WINDOW);
        let _ = backup.open(&second_run.seal(PeerState::Running));
        let _ = second_run.open(&backup.seal(PeerState::Stopped));
        assert_eq!(
            backup.open(&second_run.seal(PeerState::Running)),
            Ok(PeerState::Running)
        );
        assert_eq!(backup.open(&never_arrived), Err(HeartbeatError::Stale));
        assert_eq!(backup.open(&never_arrived), Err(HeartbeatError::Stale));
        let _ = second_run.open(&backup.seal(PeerState::Stopped));
        assert_eq!(
            backup.open(&second_run.seal(PeerState::Running)),
            Ok(PeerState::Running),
            "the live run is still the one believed"
        );
        // Or the master restarts and is verified: the old run's capture
        // cannot come back and retire the new one either.
        let (mut master, mut backup) = paired(11, 22);
        let captured = master.seal(PeerState::Running);
        let mut restarted = Authenticator::new(b"shared secret", Role::Master, 12, WINDOW);
        let _ = backup.open(&restarted.seal(PeerState::Running));
        let _ = restarted.open(&backup.seal(PeerState::Stopped));
        let _ = backup.open(&restarted.seal(PeerState::Running));
        let _ = restarted.open(&backup.seal(PeerState::Stopped));
        assert_eq!(
            backup.open(&restarted.seal(PeerState::Running)),
            Ok(PeerState::Running)
        );
        for _ in 0..WINDOW {
            let _ = restarted.open(&backup.seal(PeerState::Stopped));
            assert_eq!(
                backup.open(&restarted.seal(PeerState::Running)),
                Ok(PeerState::Running)
            );
        }
        assert!(backup.open(&captured).is_err());
        assert_eq!(
            backup.open(&restarted.seal(PeerState::Running)),
            Ok(PeerState::Running),
            "the live session is still the one believed"
        );
    }

    #[test]
    fn the_window_follows_the_timers() {
        use std::time::Duration;
        assert_eq!(
            Authenticator::window_for(Duration::from_secs(6), Duration::from_secs(18)),
            5
        );
        assert_eq!(
            Authenticator::window_for(Duration::from_millis(100), Duration::from_millis(500)),
            7
        );
    }

    #[test]
    fn forged_altered_replayed_and_reflected_heartbeats_are_dropped() {
        let (mut master, mut backup) = paired(11, 22);
        let mut forger = Authenticator::new(b"guessed key", Role::Master, 11, WINDOW);
        assert_eq!(
            backup.open(&forger.seal(PeerState::Running)),
            Err(HeartbeatError::BadMac)
        );

        let genuine = master.seal(PeerState::Stopped);
        for i in 0..AUTH_LEN {
            let mut altered = genuine;
            altered[i] ^= 0x01;
            // Byte 7 is the key id: another id names no key of the ring.
            let expected = if i == 7 {
                HeartbeatError::UnknownKey(1)
            } else {
                HeartbeatError::BadMac
            };
            assert_eq!(backup.open(&altered), Err(expected), "byte {i}");
        }
        assert_eq!(backup.open(&genuine), Ok(PeerState::Stopped));
        let older = master.seal(PeerState::Running);
        let newer = master.seal(PeerState::Running);
        assert_eq!(backup.open(&newer), Ok(PeerState::Running));
        assert!(
            matches!(backup.open(&older), Err(HeartbeatError::Replayed { .. })),
            "an older sequence is a replay"
        );
        assert!(matches!(
            backup.open(&genuine),
            Err(HeartbeatError::Replayed { .. })
        ));
        let own = backup.seal(PeerState::Running);
        assert_eq!(backup.open(&own), Err(HeartbeatError::Reflected));
        assert_eq!(backup.open(&genuine[..10]), Err(HeartbeatError::BadLength(10)));
        assert_eq!(
            backup.open(&encode_piranha(PeerState::Running)),
            Err(HeartbeatError::BadLength(4))
        );
    }
    fn adverts() -> Vec<GroupAdvert> {
        vec![
            GroupAdvert {
                group: GroupKey::of("web"),
                state: GroupState::Master,
                priority: 150,
            },
            GroupAdvert {
                group: GroupKey::of("mail"),
                state: GroupState::Fault,
                priority: 0,
            },
        ]
    }

    fn beat(adverts: Vec<GroupAdvert>, connections: Option<u32>) -> GroupHeartbeat {
        GroupHeartbeat { adverts, connections }
    }

    /// Links `a`→`b` and `b`→`a` after the handshake.
    fn linked(keys: &Keyring, a: u8, b: u8) -> (PeerLink, PeerLink) {
        let mut ab = PeerLink::new(keys.clone(), RouterId(a), RouterId(b), 100 + u64::from(a), WINDOW);
        let mut ba = PeerLink::new(keys.clone(), RouterId(b), RouterId(a), 100 + u64::from(b), WINDOW);
        assert_eq!(
            ba.open(&ab.seal(&[], None)),
            Err(HeartbeatError::Stale),
            "the handshake"
        );
        assert_eq!(ab.open(&ba.seal(&[], None)), Ok(beat(vec![], None)));
        assert_eq!(ba.open(&ab.seal(&[], None)), Ok(beat(vec![], None)));
        (ab, ba)
    }

    #[test]
    fn group_heartbeats_carry_every_group_and_name_both_routers() {
        let keys = Keyring::single(b"shared secret");
        let (mut ab, mut ba) = linked(&keys, 0, 2);
        let datagram = ab.seal(&adverts(), Some(1234));
        assert_eq!(datagram.len(), GROUP_HEAD + 2 * GROUP_ENTRY + MAC_LEN);
        assert_eq!(ba.open(&datagram), Ok(beat(adverts(), Some(1234))));
        assert_eq!(ba.open(&datagram), Err(HeartbeatError::Duplicate));
        for i in 0..datagram.len() {
            let mut altered = datagram.clone();
            altered[i] ^= 0x01;
            let expected = match i {
                4 => HeartbeatError::Incompatible(u32::from_be_bytes(*b"LVSA")),
                5 => HeartbeatError::UnknownKey(1),
                _ => HeartbeatError::BadMac,
            };
            assert_eq!(ba.open(&altered), Err(expected), "byte {i}");
        }
        // A third router's link to router 2 arriving at router 0's link.
        let (mut cb, _) = linked(&keys, 1, 2);
        assert_eq!(
            ba.open(&cb.seal(&adverts(), Some(1234))),
            Err(HeartbeatError::Misdirected { from: 1, to: 2 })
        );
        // Router 2's own heartbeat, sent back.
        let mut own = PeerLink::new(keys.clone(), RouterId(2), RouterId(0), 102, WINDOW);
        assert_eq!(ba.open(&own.seal(&[], None)), Err(HeartbeatError::Reflected));
        assert_eq!(ba.open(&datagram[..20]), Err(HeartbeatError::BadLength(20)));
        // A group count that does not match the length.
        let mut short = ab.seal(&adverts(), Some(1234));
        short.truncate(short.len() - MAC_LEN - GROUP_ENTRY);
        let tag = keys.seal(&short);
        short.extend_from_slice(&tag);
        assert!(matches!(ba.open(&short), Err(HeartbeatError::BadLength(_))));
        // A pair's heartbeat is not a group heartbeat.
        let pair = Authenticator::new(b"shared secret", Role::Master, 5, WINDOW).seal(PeerState::Running);
        assert_eq!(
            ba.open(&pair),
            Err(HeartbeatError::Incompatible(u32::from_be_bytes(*b"LVSA")))
        );
    }

    #[test]
    fn keyrings_refuse_what_cannot_work_and_never_show_a_key() {
        assert_eq!(Keyring::new([], 0).err(), Some(KeyringError::Empty));
        assert_eq!(
            Keyring::new([(1, &b"a"[..]), (1, &b"b"[..])], 1).err(),
            Some(KeyringError::DuplicateId(1))
        );
        assert_eq!(
            Keyring::new([(1, &b"a"[..])], 2).err(),
            Some(KeyringError::SealingKeyMissing(2))
        );
        let ring = Keyring::new([(1, &b"secret one"[..]), (2, &b"secret two"[..])], 2).expect("two keys");
        assert_eq!(format!("{ring:?}"), "Keyring { ids: [1, 2], sealing: 2 }");
    }

    /// The steps of a rotation from key 1 to key 2 (`docs/pulse.md`).
    fn rotation_step(phase: usize) -> Keyring {
        let (old, new) = (&b"the old key"[..], &b"the new key"[..]);
        match phase {
            0 => Keyring::new([(1, old)], 1),
            1 => Keyring::new([(1, old), (2, new)], 1),
            2 => Keyring::new([(1, old), (2, new)], 2),
            _ => Keyring::new([(2, new)], 2),
        }
        .expect("a valid ring")
    }

    #[test]
    fn a_rotation_out_of_order_drops_heartbeats() {
        let (mut ab, mut ba) = linked(&rotation_step(0), 0, 1);
        // Sealing with the new key before the other router accepts it.
        ab.set_keys(rotation_step(2));
        assert_eq!(ba.open(&ab.seal(&[], None)), Err(HeartbeatError::UnknownKey(2)));
        // Dropping the old key while the other still seals with it.
        ab.set_keys(rotation_step(3));
        assert_eq!(ab.open(&ba.seal(&[], None)), Err(HeartbeatError::UnknownKey(1)));
    }

    #[test]
    fn a_pair_rotates_its_key_too() {
        let mut master = Authenticator::with_keys(rotation_step(0), Role::Master, 1, WINDOW);
        let mut backup = Authenticator::with_keys(rotation_step(0), Role::Backup, 2, WINDOW);
        let _ = backup.open(&master.seal(PeerState::Running));
        let _ = master.open(&backup.seal(PeerState::Stopped));
        for phase in 1..=3 {
            master.set_keys(rotation_step(phase));
            assert_eq!(
                backup.open(&master.seal(PeerState::Running)),
                Ok(PeerState::Running)
            );
            assert_eq!(
                master.open(&backup.seal(PeerState::Stopped)),
                Ok(PeerState::Stopped)
            );
            backup.set_keys(rotation_step(phase));
            assert_eq!(
                backup.open(&master.seal(PeerState::Running)),
                Ok(PeerState::Running)
            );
            assert_eq!(
                master.open(&backup.seal(PeerState::Stopped)),
                Ok(PeerState::Stopped)
            );
        }
    }

    proptest::proptest! {
        /// Routers that take each step of the rotation in any order, one
        /// step on every router before the next, never drop an authentic
        /// heartbeat, whichever datagrams cross while they do.
        #[test]
        fn rotation_never_drops_a_valid_heartbeat(
            routers in 2u8..=4,
            moves in proptest::collection::vec((0u8..4, 0u8..4, proptest::bool::ANY), 1..200),
        ) {
            let n = usize::from(routers);
            let mut phase = vec![0usize; n];
            // links[a][b]: router a's link to router b.
            let mut links: Vec<Vec<Option<PeerLink>>> = (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
            for a in 0..routers {
                for b in a + 1..routers {
                    let (ab, ba) = linked(&rotation_step(0), a, b);
                    links[usize::from(a)][usize::from(b)] = Some(ab);
                    links[usize::from(b)][usize::from(a)] = Some(ba);
                }
            }
            for (a, b, advance) in moves {
                let (a, b) = (usize::from(a) % n, usize::from(b) % n);
                if advance {
                    // The operator's rule: the next step only once every
                    // router has taken this one.
                    let lowest = phase.iter().copied().min().unwrap_or(0);
                    if phase[a] == lowest && phase[a] < 3 {
                        phase[a] += 1;
                        for link in links[a].iter_mut().flatten() {
                            link.set_keys(rotation_step(phase[a]));
                        }
                    }
                } else if a != b {
                    let datagram = links[a][b].as_mut().map(|link| link.seal(&adverts(), Some(1234))).unwrap_or_default();
                    let opened = links[b][a].as_mut().map(|link| link.open(&datagram));
                    proptest::prop_assert_eq!(opened, Some(Ok(beat(adverts(), Some(1234)))), "{} to {} in phases {:?}", a, b, &phase);
                }
            }
        }
    }
}
