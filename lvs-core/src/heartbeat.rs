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
}

/// What became of the datagrams from the partner's side, by kind: the
/// part of pulse's status that shows an attack or a misconfiguration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
}

impl HeartbeatCounters {
    /// Counts one datagram's outcome.
    pub fn count(&mut self, outcome: &Result<PeerState, HeartbeatError>) {
        let counter = match outcome {
            Ok(_) => &mut self.accepted,
            Err(HeartbeatError::Duplicate) => &mut self.duplicate,
            Err(HeartbeatError::Stale) => &mut self.stale,
            Err(HeartbeatError::Replayed { .. } | HeartbeatError::LeftSession) => &mut self.replayed,
            Err(HeartbeatError::BadMac) => &mut self.forged,
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
            "accepted {}, forged {}, replayed {}, malformed {}, reflected {}, stale {}, duplicate {}, from strangers {}",
            self.accepted,
            self.forged,
            self.replayed,
            self.malformed,
            self.reflected,
            self.stale,
            self.duplicate,
            self.unexpected_source
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
const MAC_LEN: usize = 32;
/// magic, version, role, state, reserved, sender's session and sequence,
/// the echo of the receiver's session and sequence, MAC.
pub const AUTH_LEN: usize = 4 + 1 + 1 + 1 + 1 + 8 + 8 + 8 + 8 + MAC_LEN;
/// How many sessions a partner has left are remembered, so that their
/// heartbeats stay refused after it restarted.
const RETIRED_SESSIONS: usize = 64;

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

/// Seals and opens authenticated heartbeats for one router.
///
/// Create one per run of the router with a session drawn from a random
/// source (the daemon reads the operating system's); never reuse one.
pub struct Authenticator {
    mac: Hmac<Sha256>,
    role: Role,
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

impl Authenticator {
    /// `session`: this run's random session number. `window`: how many of
    /// our own heartbeats may have been sent since the one a partner's
    /// heartbeat echoes (see [`Authenticator::window_for`]).
    pub fn new(key: &[u8], role: Role, session: u64, window: u64) -> Authenticator {
        // HMAC takes keys of any length; this cannot fail.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        Authenticator {
            mac,
            role,
            session,
            next_seq: 0,
            window: window.max(1),
            echo: Echo::default(),
            partner: None,
            candidate: None,
            retired: std::collections::VecDeque::new(),
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
        self.window = window.max(1);
    }

    /// Whether a heartbeat of the partner has proved fresh in this run.
    pub fn partner_verified(&self) -> bool {
        self.partner.is_some()
    }

    /// The next heartbeat for `state`. Seal once per round and send the same
    /// datagram over every channel: the copies are duplicates, not replays.
    pub fn seal(&mut self, state: PeerState) -> [u8; AUTH_LEN] {
        self.next_seq += 1;
        let mut datagram = [0u8; AUTH_LEN];
        datagram[..4].copy_from_slice(&AUTH_MAGIC);
        datagram[4] = AUTH_VERSION;
        datagram[5] = Authenticator::role_byte(self.role);
        datagram[6] = match state {
            PeerState::Running => 1,
            PeerState::Stopped => 2,
        };
        datagram[8..16].copy_from_slice(&self.session.to_be_bytes());
        datagram[16..24].copy_from_slice(&self.next_seq.to_be_bytes());
        datagram[24..32].copy_from_slice(&self.echo.session.to_be_bytes());
        datagram[32..40].copy_from_slice(&self.echo.seq.to_be_bytes());
        let mut mac = self.mac.clone();
        mac.update(&datagram[..AUTH_LEN - MAC_LEN]);
        datagram[AUTH_LEN - MAC_LEN..].copy_from_slice(&mac.finalize().into_bytes());
        datagram
    }

    /// Checks a heartbeat from the partner and returns its state.
    pub fn open(&mut self, datagram: &[u8]) -> Result<PeerState, HeartbeatError> {
        if datagram.len() != AUTH_LEN {
            return Err(HeartbeatError::BadLength(datagram.len()));
        }
        let (body, tag) = datagram.split_at(AUTH_LEN - MAC_LEN);
        let mut mac = self.mac.clone();
        mac.update(body);
        mac.verify_slice(tag).map_err(|_| HeartbeatError::BadMac)?;
        if body[..4] != AUTH_MAGIC || body[4] != AUTH_VERSION {
            return Err(HeartbeatError::Incompatible(u32::from_be_bytes([
                body[0], body[1], body[2], body[3],
            ])));
        }
        let word = |at: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&body[at..at + 8]);
            u64::from_be_bytes(bytes)
        };
        let (session, seq) = (word(8), word(16));
        let echo = Echo {
            session: word(24),
            seq: word(32),
        };
        if body[5] == Authenticator::role_byte(self.role) || session == self.session {
            return Err(HeartbeatError::Reflected);
        }
        let state = match body[6] {
            1 => PeerState::Running,
            2 => PeerState::Stopped,
            other => return Err(HeartbeatError::Incompatible(u32::from(other))),
        };
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
        Ok(state)
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
            assert_eq!(backup.open(&altered), Err(HeartbeatError::BadMac), "byte {i}");
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
}
