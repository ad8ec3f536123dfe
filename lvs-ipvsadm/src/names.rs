//! Numbers, addresses, host names and service names as ipvsadm reads and
//! prints them, through the C library's resolver so that `/etc/hosts`,
//! `/etc/services` and NSS answer as they do for ipvsadm.

use std::ffi::{CStr, CString};
use std::net::{IpAddr, Ipv4Addr};

use lvs_ipvs::Protocol;

/// C's `strtol` of a whole word: leading blanks, a sign, digits in `base`,
/// nothing after them; `None` for an empty number, trailing text or overflow.
pub fn strtol(text: &str, base: u32) -> Option<i64> {
    let trimmed = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let (negative, digits) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(base)) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, base).ok()?;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).ok()
}

/// C's `atoi`: the leading number of a word, 0 where there is none.
pub fn atoi(text: &str) -> i64 {
    let trimmed = text.trim_start_matches([' ', '\t', '\n', '\x0b', '\x0c', '\r']);
    let sign_len = usize::from(trimmed.starts_with(['-', '+']));
    let digits_len = trimmed[sign_len..].bytes().take_while(u8::is_ascii_digit).count();
    let number = &trimmed[..sign_len + digits_len];
    number
        .parse::<i64>()
        .map(|n| n.clamp(i32::MIN.into(), i32::MAX.into()))
        .unwrap_or(0)
}

/// `inet_aton`: an IPv4 address in any of its C forms (`10.1`, `0x7f.1`),
/// as lvs.cf reads addresses too.
pub use lvs_cf::inet_aton;

/// `inet_pton(AF_INET, ...)`: dotted quad only.
pub fn inet_pton4(text: &str) -> Option<Ipv4Addr> {
    text.parse().ok()
}

/// `gethostbyname` for IPv4: the first address of a host name.
pub fn host_to_addr(name: &str) -> Option<Ipv4Addr> {
    let host = CString::new(name).ok()?;
    // SAFETY: zeroed addrinfo is a valid hints value.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = libc::AF_INET;
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut found: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: valid strings and hints; found is freed below.
    let rc = unsafe { libc::getaddrinfo(host.as_ptr(), std::ptr::null(), &hints, &mut found) };
    if rc != 0 || found.is_null() {
        return None;
    }
    // SAFETY: getaddrinfo returned a list whose first entry is an AF_INET sockaddr_in.
    unsafe {
        let entry = &*found;
        let result = if entry.ai_family == libc::AF_INET && !entry.ai_addr.is_null() {
            let sin = &*(entry.ai_addr as *const libc::sockaddr_in);
            Some(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
        } else {
            None
        };
        libc::freeaddrinfo(found);
        result
    }
}

fn protocol_name(protocol: u16) -> Option<&'static CStr> {
    match Protocol::from_raw(protocol)? {
        Protocol::Tcp => Some(c"tcp"),
        Protocol::Udp => Some(c"udp"),
        Protocol::Sctp => Some(c"sctp"),
    }
}

/// `getservbyname` for the service's protocol.
pub fn service_to_port(name: &str, protocol: u16) -> Option<u16> {
    let proto = protocol_name(protocol)?;
    let name = CString::new(name).ok()?;
    // SAFETY: valid C strings; the result points into libc's static storage, read at once.
    let entry = unsafe { libc::getservbyname(name.as_ptr(), proto.as_ptr()) };
    if entry.is_null() {
        return None;
    }
    // SAFETY: non-null servent from libc.
    Some(u16::from_be(unsafe { (*entry).s_port } as u16))
}

/// `getservbyport` for the service's protocol.
pub fn port_to_service(port: u16, protocol: u16) -> Option<String> {
    let proto = protocol_name(protocol)?;
    // SAFETY: a valid C string; the result points into libc's static storage, copied at once.
    let entry = unsafe { libc::getservbyport(i32::from(port.to_be()), proto.as_ptr()) };
    if entry.is_null() {
        return None;
    }
    // SAFETY: non-null servent with a C string name.
    Some(
        unsafe { CStr::from_ptr((*entry).s_name) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// The host name of an address (`gethostbyaddr`), or `None`.
pub fn addr_to_host(addr: IpAddr) -> Option<String> {
    // SAFETY: an all-zero sockaddr_storage is valid; the family's fields are set below.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let length = match addr {
        IpAddr::V4(v4) => {
            // SAFETY: sockaddr_storage is large and aligned enough for any sockaddr.
            let sin =
                unsafe { &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr.s_addr = u32::from(v4).to_be();
            std::mem::size_of::<libc::sockaddr_in>()
        }
        IpAddr::V6(v6) => {
            // SAFETY: as above.
            let sin6 =
                unsafe { &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_addr.s6_addr = v6.octets();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: a valid address of `length` bytes and an output buffer of its stated size.
    let rc = unsafe {
        libc::getnameinfo(
            (&storage as *const libc::sockaddr_storage).cast(),
            length as libc::socklen_t,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: getnameinfo wrote a NUL-terminated string.
    Some(
        unsafe { CStr::from_ptr(host.as_ptr()) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// ipvsadm's `addrport_to_anyname`: `addr:port` (IPv6 in brackets), with
/// names unless `numeric`; at most 59 bytes, as its buffer holds.
pub fn addr_port(addr: IpAddr, port: u16, protocol: u16, numeric: bool) -> String {
    let mut text = String::with_capacity(24);
    push_addr_port(&mut text, addr, port, protocol, numeric);
    text
}

/// [`addr_port`], appended to `out` (listings reuse one buffer per line).
pub fn push_addr_port(out: &mut String, addr: IpAddr, port: u16, protocol: u16, numeric: bool) {
    let start = out.len();
    if numeric {
        match addr {
            IpAddr::V4(v4) => push_ipv4(out, v4),
            IpAddr::V6(v6) => {
                out.push('[');
                let _ = std::fmt::Write::write_fmt(out, format_args!("{v6}"));
                out.push(']');
            }
        }
        out.push(':');
        push_decimal(out, u64::from(port));
    } else {
        let host = addr_to_host(addr).unwrap_or_else(|| addr.to_string());
        let service = port_to_service(port, protocol).unwrap_or_else(|| port.to_string());
        match addr {
            IpAddr::V4(_) => out.push_str(&host),
            IpAddr::V6(_) => {
                out.push('[');
                out.push_str(&host);
                out.push(']');
            }
        }
        out.push(':');
        out.push_str(&service);
    }
    truncate_bytes(out, start + 59);
}

/// An IPv4 address in dotted decimal, without the formatting machinery
/// (listings print thousands).
pub fn push_ipv4(out: &mut String, addr: Ipv4Addr) {
    for (i, octet) in addr.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_decimal(out, u64::from(octet));
    }
}

/// A number in decimal.
pub fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // ASCII digits only.
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or("0"));
}

/// `text` then blanks up to `width` bytes (C's `%-Ns`).
pub fn push_left(out: &mut String, text: &str, width: usize) {
    out.push_str(text);
    for _ in text.len()..width {
        out.push(' ');
    }
}

/// A number then blanks up to `width` (C's `%-Nu`, `%-Nd`).
pub fn push_left_number(out: &mut String, n: i64, width: usize) {
    let start = out.len();
    if n < 0 {
        out.push('-');
    }
    push_decimal(out, n.unsigned_abs());
    for _ in out.len() - start..width {
        out.push(' ');
    }
}

/// Cuts a string to at most `max` bytes, as C's fixed buffers do.
pub fn truncate_bytes(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtol_like_c() {
        assert_eq!(strtol("80", 10), Some(80));
        assert_eq!(strtol(" +80", 10), Some(80));
        assert_eq!(strtol("-1", 10), Some(-1));
        assert_eq!(strtol("", 10), None);
        assert_eq!(strtol("8x", 10), None);
        assert_eq!(strtol("99999999999999999999", 10), None);
        assert_eq!(atoi("64abc"), 64);
        assert_eq!(atoi("x"), 0);
    }

    #[test]
    fn addresses_in_every_c_form() {
        assert_eq!(inet_aton("10.1"), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(inet_aton("0x7f.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(inet_aton("1.2.3.4.5"), None);
        assert_eq!(inet_pton4("10.1"), None);
        assert_eq!(
            addr_port("2001:db8::1".parse().expect("literal"), 80, 6, true),
            "[2001:db8::1]:80"
        );
    }
}
