//! `nanny`: Piranha's per-real-server health checker; its options are nanny 0.8.6's.

use clap::{ArgAction, Parser};

#[derive(Debug, Parser)]
#[command(
    name = "nanny",
    version,
    about = "Health-check one real server and keep it in (or out of) its IPVS virtual service",
    long_about = "Health-check one real server and keep it in its IPVS virtual service while it passes, as \
                  Piranha's nanny does. Every INTERVAL seconds it connects to SERVER:RPORT (TCP, or UDP with -u), \
                  writes the -s string once and compares one read with the -x string (a prefix, `*` for any \
                  byte, or with --regex an extended regular expression), or runs the -e program. The first \
                  success adds the server; a failure removes it (-q: sets its weight to 0); it comes back after \
                  REENTRY seconds of successes. It edits the table itself, over netlink (-I is accepted and \
                  ignored), and removes its server when it is stopped.\n\n\
                  Signals: SIGUSR1 forces the server down, SIGUSR2 forces it up, SIGHUP returns to checking, \
                  SIGTERM and SIGINT remove the server and exit.",
    // -h is the server and -V the virtual address, as in Piranha: help and version are long options only.
    disable_help_flag = true,
    disable_version_flag = true
)]
pub struct NannyArgs {
    /// Print help.
    #[arg(long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,
    /// Print the version.
    #[arg(long = "version", action = ArgAction::Version)]
    pub version: Option<bool>,
    /// Seconds between checks; also the connect, read and program timeout.
    #[arg(short = 't', long = "interval", value_name = "SECONDS", default_value_t = 10)]
    pub interval: u64,
    /// The ipvsadm binary (accepted for compatibility; the table is edited over netlink).
    #[arg(short = 'I', long = "ipvsadm", value_name = "PATH")]
    pub ipvsadm: Option<String>,
    /// Load monitor: `none`, `rsh` or `ssh` (runs `CMD RIP uptime`), or a command run as `CMD RIP`.
    #[arg(short = 'U', long = "loadcmd", value_name = "CMD", default_value = "none")]
    pub loadcmd: String,
    /// Forwarding method: m (NAT), g (direct routing) or i (tunnel); anything else is m.
    #[arg(
        short = 'M',
        long = "method",
        value_name = "m|g|i",
        default_value = "m",
        allow_hyphen_values = true
    )]
    pub method: String,
    /// Stay in the foreground and log to standard output as well as syslog.
    #[arg(short = 'n', long = "nodaemon")]
    pub nodaemon: bool,
    /// Do not fork, but leave the terminal (setsid, no standard streams).
    #[arg(short = 'c', long = "nofork")]
    pub nofork: bool,
    /// The virtual service's port.
    #[arg(short = 'p', long = "port", value_name = "PORT", default_value_t = 80)]
    pub port: u16,
    /// The real server's port (default: the service's).
    #[arg(short = 'r', long = "rport", value_name = "PORT")]
    pub rport: Option<u16>,
    /// Seconds of successful checks before a failed server is re-added (default 180; the interval with --fos).
    #[arg(short = 'a', long = "reentrytime", value_name = "SECONDS")]
    pub reentry: Option<u64>,
    /// Cap of load-based weights, as a multiple of the weight.
    #[arg(short = 'S', long = "scale", value_name = "N", default_value_t = 10)]
    pub scale: u32,
    /// The real server's address (required).
    #[arg(short = 'h', long = "server", value_name = "ADDRESS")]
    pub server: Option<String>,
    /// A check program; `%h` and `%p` become the server's address and port. Overrides -s.
    #[arg(short = 'e', long = "send_program", value_name = "COMMAND")]
    pub send_program: Option<String>,
    /// Sent once after connecting (escapes \r \n \t \\ \' \" are translated).
    #[arg(short = 's', long = "send_string", value_name = "STRING")]
    pub send: Option<String>,
    /// What one read must start with (`*`: any byte), or the program's exact output.
    #[arg(short = 'x', long = "expect_string", value_name = "STRING")]
    pub expect: Option<String>,
    /// The expect string is an extended regular expression.
    #[arg(long = "regex")]
    pub regex: bool,
    /// Do not translate escapes in -s and -x.
    #[arg(short = 'T', long = "suppress")]
    pub suppress: bool,
    /// On failure set the weight to 0 instead of removing the server.
    #[arg(short = 'q', long = "quiesce_server")]
    pub quiesce: bool,
    /// Check over UDP.
    #[arg(short = 'u', long = "udp")]
    pub udp: bool,
    /// Log each check.
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,
    /// The virtual service's address.
    #[arg(short = 'V', long = "virtaddress", value_name = "VIP")]
    pub vip: Option<String>,
    /// The virtual service is this firewall mark.
    #[arg(short = 'f', long = "fwmark", value_name = "MARK")]
    pub fwmark: Option<u32>,
    /// The real server's weight.
    #[arg(short = 'w', long = "weight", value_name = "WEIGHT", default_value_t = 1)]
    pub weight: u32,
    /// Log the table changes without making them.
    #[arg(long = "test-start", alias = "norun")]
    pub test_start: bool,
    /// An LVS real server (lvsd passes it).
    #[arg(long = "lvs")]
    pub lvs: bool,
    /// A failover service (FOS; not supported by lvs-rs).
    #[arg(long = "fos")]
    pub fos: bool,
    /// Consecutive failures before the server is taken out (an lvs-rs extension).
    #[arg(long = "failures", value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub failures: u32,
    /// Seconds between checks, fractions allowed, when they should differ from
    /// -t, which then only bounds each check (an lvs-rs extension).
    #[arg(long = "check-interval", value_name = "SECONDS")]
    pub check_interval: Option<f64>,
}
