//! `lvs-web`: the web tool's command line (see `lvs-web --help`); the tool
//! itself is the `lvs-web` crate.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lvs_web::auth::{self, Passwords};
use lvs_web::{App, WebOptions};

/// The web configuration and monitoring tool for LVS routers (Piranha's
/// piranha-gui). It edits lvs.cf panel by panel (global settings,
/// redundancy, virtual servers, real servers, monitoring scripts), validates
/// every change with the daemons' own parser, writes the file atomically
/// (keeping lvs.cf.bak and counting serial_no up), can ask pulse and lvs to
/// reload, and shows the routers' state, the IPVS table with its counters and
/// each real server's health.
///
/// Set a password first with `lvs-web passwd`. Every page needs a login;
/// every change also needs the page's token. It listens on 127.0.0.1:3636:
/// reach it through an SSH tunnel or an HTTPS proxy rather than exposing it.
#[derive(Clone, Debug, Parser)]
#[command(
    name = "lvs-web",
    version,
    override_usage = "lvs-web [-c FILE] [--password-file FILE] [--listen ADDR:PORT] [--lvs-socket PATH] \
                      [--pulse-pidfile FILE] [--lvs-pidfile FILE] [--server-name NAME]...\n       \
                      lvs-web passwd [--user NAME] [--password-file FILE]",
    about = "The web configuration and monitoring tool for LVS routers",
    disable_help_flag = true
)]
pub struct WebArgs {
    /// Print help.
    #[arg(short = '?', long = "help", action = clap::ArgAction::Help, global = true)]
    help: Option<bool>,

    /// The configuration file to edit.
    #[arg(short = 'c', long = "configfile", value_name = "FILE", default_value = lvs_cf::DEFAULT_PATH)]
    pub configfile: PathBuf,

    /// The password file (`USER:ARGON2-HASH` lines; see `lvs-web passwd`),
    /// before or after `passwd`.
    #[arg(
        long = "password-file",
        value_name = "FILE",
        default_value = auth::DEFAULT_PASSWORD_FILE,
        global = true
    )]
    pub password_file: PathBuf,

    /// The address and port to listen on.
    #[arg(long = "listen", value_name = "ADDR:PORT", default_value = "127.0.0.1:3636")]
    pub listen: SocketAddr,

    /// The lvs daemon's status socket.
    #[arg(long = "lvs-socket", value_name = "PATH", default_value = lvs_daemon::DEFAULT_STATUS_SOCKET)]
    pub lvs_socket: PathBuf,

    /// pulse's pid file (a reload signals pulse, which passes it on to lvs).
    #[arg(
        long = "pulse-pidfile",
        value_name = "FILE",
        default_value = lvs_daemon::DEFAULT_PULSE_PIDFILE
    )]
    pub pulse_pidfile: PathBuf,

    /// The lvs daemon's pid file (signalled when pulse does not run).
    #[arg(long = "lvs-pidfile", value_name = "FILE", default_value = lvs_daemon::DEFAULT_LVS_PIDFILE)]
    pub lvs_pidfile: PathBuf,

    /// A host name the tool answers to, besides IP addresses and localhost
    /// (repeatable); requests naming any other host are refused.
    #[arg(long = "server-name", value_name = "NAME")]
    pub server_names: Vec<String>,

    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<WebCommand>,
}

impl WebArgs {
    /// The tool's options for these arguments.
    pub fn options(&self) -> WebOptions {
        let mut options = WebOptions::default();
        options.configfile = self.configfile.clone();
        options.password_file = self.password_file.clone();
        options.listen = self.listen;
        options.lvs_socket = self.lvs_socket.clone();
        options.pulse_pidfile = self.pulse_pidfile.clone();
        options.lvs_pidfile = self.lvs_pidfile.clone();
        options.host_names = self.server_names.clone();
        options
    }
}

/// `lvs-web`'s subcommands.
#[derive(Clone, Debug, Subcommand)]
pub enum WebCommand {
    /// Set a user's password (read twice from the terminal, or once from
    /// standard input when it is not a terminal). Piranha's piranha-passwd.
    Passwd {
        /// The user (Piranha's tool knew only `piranha`).
        #[arg(long = "user", default_value = auth::DEFAULT_USER)]
        user: String,
    },
}

/// Reads a password without echo from a terminal, or a line from a pipe.
fn read_password(prompt: &str) -> std::io::Result<String> {
    use std::io::{BufRead as _, IsTerminal as _, Write as _};
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    let mut saved: Option<libc::termios> = None;
    if terminal {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        // SAFETY: tcgetattr/tcsetattr on standard input with a zeroed struct.
        unsafe {
            let mut term: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut term) == 0 {
                saved = Some(term);
                term.c_lflag &= !libc::ECHO;
                libc::tcsetattr(0, libc::TCSANOW, &term);
            }
        }
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if let Some(term) = saved {
        // SAFETY: restores the settings read above.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &term) };
        eprintln!();
    }
    read?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

fn passwd(args: &WebArgs, user: &str) -> ExitCode {
    use std::io::IsTerminal as _;
    let first = match read_password("New password: ") {
        Ok(p) => p,
        Err(e) => return fail(&format!("cannot read the password: {e}")),
    };
    if std::io::stdin().is_terminal() {
        match read_password("Re-type new password: ") {
            Ok(again) if again == first => {}
            Ok(_) => return fail("the passwords differ; nothing was changed"),
            Err(e) => return fail(&format!("cannot read the password: {e}")),
        }
    }
    if first.is_empty() {
        return fail("an empty password is not allowed; nothing was changed");
    }
    match lvs_web::auth::set_password(&args.password_file, user, &first) {
        Ok(()) => {
            println!("password for {user} set in {}", args.password_file.display());
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e.to_string()),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("lvs-web: {message}");
    ExitCode::FAILURE
}

/// Runs the tool (or `passwd`).
pub fn main(args: WebArgs) -> ExitCode {
    if let Some(WebCommand::Passwd { user }) = &args.command {
        return passwd(&args, user);
    }
    let options = args.options();
    let passwords = match Passwords::load(&options.password_file) {
        Ok(p) if !p.is_empty() => p,
        Ok(_) => {
            return fail(&format!(
                "{}: no users; run `lvs-web passwd`",
                options.password_file.display()
            ))
        }
        Err(e) => return fail(&format!("{e} (set a password with `lvs-web passwd`)")),
    };
    if let Some(warning) = lvs_daemon::files::exposure_warning(&options.password_file, "password file", true)
    {
        eprintln!("lvs-web: {warning}");
    }
    if !options.listen.ip().is_loopback() {
        eprintln!(
            "lvs-web: warning: listening on {} without TLS; passwords and cookies cross the network in clear unless an HTTPS proxy fronts it",
            options.listen
        );
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start: {e}")),
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(options.listen).await {
            Ok(listener) => listener,
            Err(e) => return fail(&format!("cannot listen on {}: {e}", options.listen)),
        };
        let serving = format!(
            "serving {} on http://{}",
            options.configfile.display(),
            options.listen
        );
        eprintln!("lvs-web: {serving}");
        lvs_daemon::service::ready(&serving);
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(term) => term,
            Err(e) => return fail(&format!("cannot handle signals: {e}")),
        };
        // Logs go to standard error, where a service manager's journal takes them.
        let app = App::new(options, passwords);
        let stopped = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        match lvs_web::serve(listener, app, stopped).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e.to_string()),
        }
    })
}
