//! `send_arp`: Piranha's command line, plus count, interval, the request form and IPv6.

use std::time::Duration;

use clap::Parser;

/// Piranha's usage text, printed (followed by a blank line) on bad arguments.
pub const PIRANHA_USAGE: &str = "send_arp: sends out custom ARP packet. Yuri Volobuev '97\n\
\tusage: send_arp [-i dev] src_ip_addr src_hw_addr targ_ip_addr tar_hw_addr\n\n";

#[derive(Debug, Parser)]
#[command(
    name = "send_arp",
    version,
    override_usage = "send_arp [-i dev] [-c COUNT] [-w SECONDS] [-U] src_ip_addr src_hw_addr targ_ip_addr targ_hw_addr",
    about = "Announce an address on a link: gratuitous ARP, or an IPv6 unsolicited neighbour advertisement",
    long_about = "Announce that SRC_IP_ADDR is at SRC_HW_ADDR on a link, so that neighbours update their ARP or \
                  neighbour tables when a virtual IP moves.\n\n\
                  As Piranha's send_arp, it sends one gratuitous ARP reply whose sender and target are both \
                  SRC_IP_ADDR and SRC_HW_ADDR, from SRC_HW_ADDR to TARG_HW_ADDR (pulse passes ffffffffffff). \
                  TARG_IP_ADDR is checked but not used, as in Piranha. MACs are 12 hex digits, with or \
                  without colons; addresses are IPs or host names.\n\n\
                  lvs-rs extensions: -c and -w send several frames; -U sends the ARP request form that \
                  keepalived and arping -U send; an IPv6 SRC_IP_ADDR sends an unsolicited neighbour \
                  advertisement (with the Override flag, to all nodes when TARG_HW_ADDR is ffffffffffff).\n\n\
                  Exit status: 0 when every frame was sent, 1 otherwise. Needs root (CAP_NET_RAW)."
)]
/// `send_arp`'s arguments.
pub struct SendArpArgs {
    /// The device to send on.
    #[arg(short = 'i', value_name = "dev", default_value = "eth0")]
    pub device: String,

    /// How many frames to send (an lvs-rs extension; Piranha sends one).
    #[arg(short = 'c', value_name = "COUNT", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub count: u32,

    /// Seconds between frames, fractions allowed (an lvs-rs extension).
    #[arg(short = 'w', value_name = "SECONDS", default_value = "1", value_parser = parse_seconds)]
    pub interval: Duration,

    /// Send the ARP request form (target hardware address broadcast) instead of Piranha's reply form.
    #[arg(short = 'U')]
    pub request_form: bool,

    /// The address to announce.
    #[arg(value_name = "src_ip_addr")]
    pub src_ip_addr: String,
    /// The MAC to announce it at; also the frame's source.
    #[arg(value_name = "src_hw_addr")]
    pub src_hw_addr: String,
    /// Checked, but not used (as in Piranha).
    #[arg(value_name = "targ_ip_addr")]
    pub targ_ip_addr: String,
    /// The frame's Ethernet destination.
    #[arg(value_name = "targ_hw_addr")]
    pub targ_hw_addr: String,
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !(0.0..=3600.0).contains(&seconds) {
        return Err(format!("`{text}` is outside 0..=3600 seconds"));
    }
    Ok(Duration::from_secs_f64(seconds))
}
