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
//! its state and a sequence number, sealed with HMAC-SHA-256 under a key both
//! routers share. A receiver drops forged and altered datagrams, its own
//! datagrams reflected back at it, and replays: a sequence number not above
//! the last one accepted. Sequence numbers start from the sender's start time
//! (seconds since the epoch, shifted left 32 bits), so a restarted router
//! goes on above where it stopped.

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
    /// Not newer than the last one accepted.
    Replayed {
        /// Its sequence number.
        seq: u64,
        /// The last one accepted.
        last: u64,
    },
    #[error("our own heartbeat came back (reflected)")]
    /// Our own heartbeat, sent back.
    Reflected,
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
const AUTH_VERSION: u8 = 1;
const MAC_LEN: usize = 32;
/// magic, version, role, state, reserved, sequence, MAC.
pub const AUTH_LEN: usize = 4 + 1 + 1 + 1 + 1 + 8 + MAC_LEN;

/// Seals and opens authenticated heartbeats for one router.
pub struct Authenticator {
    mac: Hmac<Sha256>,
    role: Role,
    next_seq: u64,
    last_accepted: Option<u64>,
}

impl Authenticator {
    /// `start_unix_secs`: when this router started, which seeds its sequence numbers.
    pub fn new(key: &[u8], role: Role, start_unix_secs: u64) -> Authenticator {
        // HMAC takes keys of any length; this cannot fail.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        Authenticator {
            mac,
            role,
            next_seq: start_unix_secs << 32,
            last_accepted: None,
        }
    }

    fn role_byte(role: Role) -> u8 {
        match role {
            Role::Master => 1,
            Role::Backup => 2,
        }
    }

    /// The next heartbeat for `state`.
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
        datagram[8..16].copy_from_slice(&self.next_seq.to_be_bytes());
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
        if body[5] == Authenticator::role_byte(self.role) {
            return Err(HeartbeatError::Reflected);
        }
        let state = match body[6] {
            1 => PeerState::Running,
            2 => PeerState::Stopped,
            other => return Err(HeartbeatError::Incompatible(u32::from(other))),
        };
        let mut seq_bytes = [0u8; 8];
        seq_bytes.copy_from_slice(&body[8..16]);
        let seq = u64::from_be_bytes(seq_bytes);
        if let Some(last) = self.last_accepted {
            if seq <= last {
                return Err(HeartbeatError::Replayed { seq, last });
            }
        }
        self.last_accepted = Some(seq);
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

    #[test]
    fn authenticated_round_trip_and_restart() {
        let mut master = Authenticator::new(b"shared secret", Role::Master, 1_700_000_000);
        let mut backup = Authenticator::new(b"shared secret", Role::Backup, 1_700_000_100);
        assert_eq!(
            backup.open(&master.seal(PeerState::Running)),
            Ok(PeerState::Running)
        );
        assert_eq!(
            backup.open(&master.seal(PeerState::Stopped)),
            Ok(PeerState::Stopped)
        );
        assert_eq!(
            master.open(&backup.seal(PeerState::Stopped)),
            Ok(PeerState::Stopped)
        );
        // The master restarts later: its sequence numbers go on above the old ones.
        let mut restarted = Authenticator::new(b"shared secret", Role::Master, 1_700_000_500);
        assert_eq!(
            backup.open(&restarted.seal(PeerState::Running)),
            Ok(PeerState::Running)
        );
    }

    #[test]
    fn forged_altered_replayed_and_reflected_heartbeats_are_dropped() {
        let mut master = Authenticator::new(b"shared secret", Role::Master, 1_700_000_000);
        let mut backup = Authenticator::new(b"shared secret", Role::Backup, 1_700_000_000);
        let mut forger = Authenticator::new(b"guessed key", Role::Master, 1_800_000_000);
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
        assert!(matches!(
            backup.open(&genuine),
            Err(HeartbeatError::Replayed { .. })
        ));
        let older = master.seal(PeerState::Running);
        let newer = master.seal(PeerState::Running);
        assert_eq!(backup.open(&newer), Ok(PeerState::Running));
        assert!(
            matches!(backup.open(&older), Err(HeartbeatError::Replayed { .. })),
            "an older sequence is a replay"
        );
        let own = backup.seal(PeerState::Running);
        assert_eq!(backup.open(&own), Err(HeartbeatError::Reflected));
        assert_eq!(backup.open(&genuine[..10]), Err(HeartbeatError::BadLength(10)));
        assert_eq!(
            backup.open(&encode_piranha(PeerState::Running)),
            Err(HeartbeatError::BadLength(4))
        );
    }
}
