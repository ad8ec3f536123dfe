//! AF_PACKET sockets: sending whole Ethernet frames, and capturing them.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// A raw packet socket for sending frames; needs `CAP_NET_RAW`.
pub struct PacketSocket {
    fd: OwnedFd,
}

fn packet_socket(protocol: u16) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(protocol.to_be()),
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn link_address(ifindex: u32, protocol: u16, destination: [u8; 6]) -> libc::sockaddr_ll {
    let mut addr: libc::sockaddr_ll = unsafe_zeroed();
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_protocol = protocol.to_be();
    addr.sll_ifindex = ifindex as i32;
    addr.sll_halen = 6;
    addr.sll_addr[..6].copy_from_slice(&destination);
    addr
}

fn unsafe_zeroed() -> libc::sockaddr_ll {
    // SAFETY: sockaddr_ll is a plain C struct for which all-zero is valid.
    unsafe { std::mem::zeroed() }
}

impl PacketSocket {
    /// Opens the socket. Without `CAP_NET_RAW` this fails with `EPERM`.
    pub fn open() -> io::Result<Self> {
        Ok(PacketSocket {
            fd: packet_socket(0)?,
        })
    }

    /// Sends `frame` (Ethernet header included) out of interface `ifindex`.
    pub fn send(&self, ifindex: u32, frame: &[u8]) -> io::Result<()> {
        let mut destination = [0u8; 6];
        if frame.len() >= 14 {
            destination.copy_from_slice(&frame[..6]);
        }
        let protocol = frame.get(12..14).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
        let addr = link_address(ifindex, protocol, destination);
        // SAFETY: frame and addr are valid for the duration of the call.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}

/// A frame seen by a [`Capture`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapturedFrame {
    /// The frame, from the Ethernet header on.
    pub bytes: Vec<u8>,
    /// `PACKET_HOST`, `PACKET_BROADCAST`, `PACKET_MULTICAST`, `PACKET_OUTGOING`, ...
    pub packet_type: u8,
    /// When the frame was read off the socket (for timing bursts).
    pub received_at: Instant,
}

/// Captures every frame on one interface (`ETH_P_ALL`); needs `CAP_NET_RAW`.
pub struct Capture {
    fd: OwnedFd,
}

impl Capture {
    /// Captures every frame on the interface `ifindex` (needs `CAP_NET_RAW`).
    pub fn open(ifindex: u32) -> io::Result<Self> {
        let protocol = libc::ETH_P_ALL as u16;
        let fd = packet_socket(protocol)?;
        let addr = link_address(ifindex, protocol, [0; 6]);
        // SAFETY: addr is valid for the call; fd is open.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Capture { fd })
    }

    /// The next frame, waiting until `deadline`; `None` once it has passed.
    pub fn next_frame(&self, deadline: Instant) -> io::Result<Option<CapturedFrame>> {
        let mut buffer = vec![0u8; 65536];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let mut poll = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let millis = left.as_millis().clamp(1, i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(&mut poll, 1, millis) };
            if ready < 0 {
                let error = io::Error::last_os_error();
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(error);
            }
            if ready == 0 {
                continue;
            }
            let mut from = unsafe_zeroed();
            let mut from_len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            // SAFETY: buffer and from are valid and large enough.
            let received = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buffer.as_mut_ptr().cast(),
                    buffer.len(),
                    libc::MSG_DONTWAIT,
                    (&mut from as *mut libc::sockaddr_ll).cast(),
                    &mut from_len,
                )
            };
            if received < 0 {
                let error = io::Error::last_os_error();
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) {
                    continue;
                }
                return Err(error);
            }
            return Ok(Some(CapturedFrame {
                bytes: buffer[..received as usize].to_vec(),
                packet_type: from.sll_pkttype,
                received_at: Instant::now(),
            }));
        }
    }

    /// Every frame until `within` has passed that `keep` accepts.
    pub fn collect(
        &self,
        within: Duration,
        mut keep: impl FnMut(&CapturedFrame) -> bool,
    ) -> io::Result<Vec<CapturedFrame>> {
        let deadline = Instant::now() + within;
        let mut frames = Vec::new();
        while let Some(frame) = self.next_frame(deadline)? {
            if keep(&frame) {
                frames.push(frame);
            }
        }
        Ok(frames)
    }
}
