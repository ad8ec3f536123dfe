//! How Piranha reads values: `strtol(tok, &end, 0)`, `inet_aton`, and the rest.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// `strtol(tok, &end, 0)` with a check that nothing follows the number:
/// an optional sign, then `0x` hex, `0` octal or decimal. `None` where Piranha
/// says "integer expected"; `Some(Err(()))` where the number does not fit an `i64`.
pub(crate) fn strtol(token: &str) -> Option<Result<i64, ()>> {
    let (negative, rest) = match token.as_bytes().first() {
        Some(b'-') => (true, &token[1..]),
        Some(b'+') => (false, &token[1..]),
        _ => (false, token),
    };
    let (radix, digits) = if let Some(hex) = rest.strip_prefix("0x").or_else(|| rest.strip_prefix("0X")) {
        (16, hex)
    } else if rest.len() > 1 && rest.starts_with('0') {
        (8, &rest[1..])
    } else {
        (10, rest)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = match i128::from_str_radix(digits, radix) {
        Ok(m) => m,
        Err(_) => return Some(Err(())),
    };
    let value = if negative { -magnitude } else { magnitude };
    Some(i64::try_from(value).map_err(|_| ()))
}

/// `inet_aton`: one to four parts, each decimal, octal (`0` prefix) or hex
/// (`0x`); the last part fills the remaining bytes (`10.1` is `10.0.0.1`).
pub fn inet_aton(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(4);
    for part in &parts {
        if part.is_empty() || part.starts_with(['+', '-']) {
            return None;
        }
        values.push(u32::try_from(strtol(part)?.ok()?).ok()?);
    }
    let (last, leading) = values.split_last()?;
    let mut addr: u32 = 0;
    for (i, &v) in leading.iter().enumerate() {
        if v > 0xff {
            return None;
        }
        addr |= v << (24 - 8 * i);
    }
    let room = 32 - 8 * leading.len() as u32;
    if room < 32 && u64::from(*last) >= (1u64 << room) {
        return None;
    }
    Some(Ipv4Addr::from(addr | last))
}

/// An IPv6 literal, optionally in brackets (an lvs-rs extension).
pub(crate) fn ipv6(text: &str) -> Option<Ipv6Addr> {
    let inner = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    inner.parse().ok()
}

/// A plausible DNS host name: what `gethostbyname` could look up. Names made
/// only of digits and dots are malformed addresses, not names.
pub(crate) fn is_host_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        && !text.chars().all(|c| c.is_ascii_digit() || c == '.')
        && !text.starts_with(['-', '.'])
}

/// Either an IPv4 address as `inet_aton` reads it, or an IPv6 literal.
pub(crate) fn ip_literal(text: &str, allow_ipv6: bool) -> Option<IpAddr> {
    if let Some(v4) = inet_aton(text) {
        return Some(IpAddr::V4(v4));
    }
    if allow_ipv6 {
        return ipv6(text).map(IpAddr::V6);
    }
    None
}

/// Whole or fractional seconds: `2`, `010` (octal, as strtol), `0.25`.
/// Fractions are read as decimal and are an lvs-rs extension.
pub(crate) enum SecondsValue {
    Whole(i64),
    Fraction(Duration),
}

pub(crate) fn seconds(text: &str) -> Option<Result<SecondsValue, ()>> {
    if let Some((whole, fraction)) = text.split_once('.') {
        let digits_only = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty()) || !digits_only(whole) || !digits_only(fraction) {
            return None;
        }
        if fraction.len() > 9 {
            return Some(Err(()));
        }
        let secs: u64 = if whole.is_empty() {
            0
        } else {
            match whole.parse() {
                Ok(s) => s,
                Err(_) => return Some(Err(())),
            }
        };
        let nanos: u32 = format!("{fraction:0<9}").parse().unwrap_or(0);
        return Some(Ok(SecondsValue::Fraction(Duration::new(secs, nanos))));
    }
    strtol(text).map(|r| r.map(SecondsValue::Whole))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_reads_like_base_0() {
        assert_eq!(strtol("10"), Some(Ok(10)));
        assert_eq!(strtol("010"), Some(Ok(8)));
        assert_eq!(strtol("0x10"), Some(Ok(16)));
        assert_eq!(strtol("0X1f"), Some(Ok(31)));
        assert_eq!(strtol("0"), Some(Ok(0)));
        assert_eq!(strtol("-5"), Some(Ok(-5)));
        assert_eq!(strtol("+5"), Some(Ok(5)));
        assert_eq!(strtol("08"), None);
        assert_eq!(strtol("0x"), None);
        assert_eq!(strtol("12abc"), None);
        assert_eq!(strtol(""), None);
        assert_eq!(strtol("-"), None);
        assert_eq!(strtol("1.5"), None);
        assert_eq!(strtol("99999999999999999999999"), Some(Err(())));
    }

    #[test]
    fn inet_aton_forms() {
        assert_eq!(inet_aton("192.168.1.2"), Some(Ipv4Addr::new(192, 168, 1, 2)));
        assert_eq!(inet_aton("10.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(inet_aton("10.1.2"), Some(Ipv4Addr::new(10, 1, 0, 2)));
        assert_eq!(inet_aton("0x7f.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(inet_aton("010.0.0.1"), Some(Ipv4Addr::new(8, 0, 0, 1)));
        assert_eq!(inet_aton("16909060"), Some(Ipv4Addr::new(1, 2, 3, 4)));
        assert_eq!(inet_aton("256.1.1.1"), None);
        assert_eq!(inet_aton("1.2.3.256"), None);
        assert_eq!(inet_aton("1.2.3.4.5"), None);
        assert_eq!(inet_aton("1..2"), None);
        assert_eq!(inet_aton("host"), None);
        assert_eq!(inet_aton(""), None);
        assert_eq!(inet_aton("1.2.65536"), None);
        assert_eq!(inet_aton("1.2.65535"), Some(Ipv4Addr::new(1, 2, 255, 255)));
    }

    #[test]
    fn host_names() {
        assert!(is_host_name("lvs1.example.com"));
        assert!(is_host_name("router_a"));
        assert!(!is_host_name("1.2.3.4.5"));
        assert!(!is_host_name("a b"));
        assert!(!is_host_name(""));
        assert!(!is_host_name("-x"));
    }

    #[test]
    fn seconds_values() {
        assert!(matches!(seconds("2"), Some(Ok(SecondsValue::Whole(2)))));
        assert!(matches!(seconds("010"), Some(Ok(SecondsValue::Whole(8)))));
        match seconds("0.25") {
            Some(Ok(SecondsValue::Fraction(d))) => assert_eq!(d, Duration::from_millis(250)),
            _ => panic!("0.25 is a fraction"),
        }
        match seconds(".5") {
            Some(Ok(SecondsValue::Fraction(d))) => assert_eq!(d, Duration::from_millis(500)),
            _ => panic!(".5 is a fraction"),
        }
        assert!(seconds(".").is_none());
        assert!(seconds("1.2.3").is_none());
        assert!(seconds("1.x").is_none());
        assert!(matches!(seconds("0.0000000001"), Some(Err(()))));
    }
}
