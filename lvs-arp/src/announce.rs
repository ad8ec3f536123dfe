//! Bursts of announcements: a count and an interval.

use std::io;
use std::time::Duration;

use crate::frame::Announcement;
use crate::packet::PacketSocket;

/// How many frames to send, how far apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Burst {
    /// Frames to send.
    pub count: u32,
    /// Time between them.
    pub interval: Duration,
}

impl Burst {
    /// Piranha's pulse: five announcements, one second apart.
    pub const PIRANHA: Burst = Burst {
        count: 5,
        interval: Duration::from_secs(1),
    };
    /// One frame, as send_arp sends by default.
    pub const ONCE: Burst = Burst {
        count: 1,
        interval: Duration::ZERO,
    };
}

impl Default for Burst {
    fn default() -> Self {
        Burst::PIRANHA
    }
}

/// Sends a burst from the calling thread, sleeping between frames.
pub fn send_burst_blocking(
    socket: &PacketSocket,
    ifindex: u32,
    announcement: &Announcement,
    burst: Burst,
) -> io::Result<()> {
    let frame = announcement.frame();
    for i in 0..burst.count {
        if i > 0 {
            std::thread::sleep(burst.interval);
        }
        socket.send(ifindex, &frame)?;
    }
    Ok(())
}

/// Sends a burst on a tokio runtime: the waits between frames are timers,
/// so the runtime's other tasks go on meanwhile.
pub async fn send_burst(
    socket: &PacketSocket,
    ifindex: u32,
    announcement: &Announcement,
    burst: Burst,
) -> io::Result<()> {
    let frame = announcement.frame();
    for i in 0..burst.count {
        if i > 0 {
            tokio::time::sleep(burst.interval).await;
        }
        // An AF_PACKET send hands the frame to the driver's queue; it does not wait for the wire.
        socket.send(ifindex, &frame)?;
    }
    Ok(())
}
