//! The Linux ABI numbers the table model needs (address families, IP
//! protocols, the errno values that mean "already done"), written out so
//! that the model and the diff build without `libc` (the `netlink` feature
//! off). They are part of the kernel's stable ABI; a test checks each
//! against `libc` where it is available.

/// `AF_INET`.
pub(crate) const AF_INET: i32 = 2;
/// `AF_INET6`.
pub(crate) const AF_INET6: i32 = 10;
/// `IPPROTO_TCP`.
pub(crate) const IPPROTO_TCP: i32 = 6;
/// `IPPROTO_UDP`.
pub(crate) const IPPROTO_UDP: i32 = 17;
/// `IPPROTO_SCTP`.
pub(crate) const IPPROTO_SCTP: i32 = 132;
/// `ENOENT`.
pub(crate) const ENOENT: i32 = 2;
/// `ESRCH`.
pub(crate) const ESRCH: i32 = 3;
/// `EEXIST`.
pub(crate) const EEXIST: i32 = 17;

#[cfg(all(test, feature = "netlink"))]
mod tests {
    #[test]
    fn the_numbers_are_libcs() {
        assert_eq!(super::AF_INET, libc::AF_INET);
        assert_eq!(super::AF_INET6, libc::AF_INET6);
        assert_eq!(super::IPPROTO_TCP, libc::IPPROTO_TCP);
        assert_eq!(super::IPPROTO_UDP, libc::IPPROTO_UDP);
        assert_eq!(super::IPPROTO_SCTP, libc::IPPROTO_SCTP);
        assert_eq!(super::ENOENT, libc::ENOENT);
        assert_eq!(super::ESRCH, libc::ESRCH);
        assert_eq!(super::EEXIST, libc::EEXIST);
    }
}
