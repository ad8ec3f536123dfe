//! Ethernet (MAC) addresses.

use std::fmt;
use std::str::FromStr;

/// A 48-bit Ethernet address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// The Ethernet address of the IPv6 all-nodes group ff02::1.
    pub const IPV6_ALL_NODES: MacAddr = MacAddr([0x33, 0x33, 0, 0, 0, 1]);

    /// Its six bytes.
    pub fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Twelve uppercase hex digits without separators, as Piranha's pulse
    /// passes MACs to send_arp.
    pub fn to_piranha_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02X}")).collect()
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// Why a MAC address did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid hardware address `{0}`: expected 12 hex digits, optionally separated by colons (00:11:22:aa:bb:cc)")]
pub struct MacParseError(pub String);

impl FromStr for MacAddr {
    type Err = MacParseError;

    /// Six two-digit hex bytes, each optionally followed by `:`, as send_arp
    /// reads them: `0011223344aa`, `00:11:22:33:44:AA`. Unlike send_arp,
    /// nothing may follow the sixth byte.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || MacParseError(text.to_owned());
        let mut bytes = [0u8; 6];
        let mut rest = text.as_bytes();
        for (i, byte) in bytes.iter_mut().enumerate() {
            let [high, low, tail @ ..] = rest else {
                return Err(error());
            };
            let digit = |c: u8| (c as char).to_digit(16).ok_or_else(error);
            *byte = (digit(*high)? << 4 | digit(*low)?) as u8;
            rest = tail;
            if i < 5 {
                if let [b':', tail @ ..] = rest {
                    rest = tail;
                }
            }
        }
        if rest.is_empty() {
            Ok(MacAddr(bytes))
        } else {
            Err(error())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_with_and_without_colons() {
        let mac = MacAddr([0x00, 0x11, 0x22, 0xaa, 0xbb, 0xcc]);
        assert_eq!("001122aabbcc".parse(), Ok(mac));
        assert_eq!("00:11:22:AA:BB:CC".parse(), Ok(mac));
        assert_eq!("0011:22aa:bbcc".parse(), Ok(mac));
        assert_eq!(mac.to_string(), "00:11:22:aa:bb:cc");
        assert_eq!(mac.to_piranha_hex(), "001122AABBCC");
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "",
            "00112233445",
            "0011223344gg",
            "00:11:22:33:44",
            "00112233445566",
            "00-11-22-33-44-55",
            "00:11:22:33:44:55:",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
    }
}
