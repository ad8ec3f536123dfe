//! `lvs` (also installed as `lvsd`): the director daemon's command line, and
//! its other modes: checking and dumping lvs.cf, and the running daemon's
//! status.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{ArgAction, ArgGroup, Parser, ValueEnum};
use lvs_cf::{Config, LoadError, ParseOptions, Severity};
use lvs_core::admin::{AdminAction, AdminRequest};
use lvs_core::preview::PlanAnswer;
use lvs_daemon::director::{Director, DirectorOptions};
use lvs_daemon::log::Log;
use lvs_daemon::process::{DaemonSignal, Detach};
use lvs_daemon::status::{ask, Format};

/// How `--dump` writes the configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DumpFormat {
    /// The canonical lvs.cf text, in the layout of Piranha's configuration tool.
    #[value(name = "lvs-cf")]
    LvsCf,
    /// The typed model as JSON.
    Json,
}

/// What `--format` may name: `--dump`'s formats and `--status`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Canonical lvs.cf (`--dump`'s default).
    #[value(name = "lvs-cf")]
    LvsCf,
    /// JSON, for programs (`--dump` and `--status`).
    Json,
    /// Lines for people (`--status`'s default).
    Text,
}

/// `lvsd`'s arguments (the same program is built as `lvs`, where that name
/// is free: Debian's LVM2 owns `/sbin/lvs`).
#[derive(Debug, Parser)]
#[command(
    name = "lvsd",
    version,
    override_usage = "lvsd [-c FILE] [-n | --nofork] [-t] [-v] [--nanny-processes] [--socket PATH] [--metrics ADDR] \
                      [--pidfile FILE]\n       \
                      lvsd --status [--format text|json] [--socket PATH]\n       \
                      lvsd [-c FILE] --plan [--format text|json] [--socket PATH]\n       \
                      lvsd --resync [--format text|json] [--socket PATH]\n       \
                      lvsd --drain SERVICE/SERVER [--wait] [--drain-timeout SECONDS] [--format text|json] [--socket PATH]\n       \
                      lvsd --disable SERVICE/SERVER | --enable SERVICE/SERVER [--format text|json] [--socket PATH]\n       \
                      lvsd --events [--socket PATH]\n       \
                      lvsd [-c FILE] --check [--strict]\n       \
                      lvsd [-c FILE] --dump [--format lvs-cf|json] [--strict]\n       \
                      lvsd import --from keepalived|ldirectord [-i CONFIG_ID] [--primary ADDRESS] [--backup ADDRESS] [--vip-device DEVICE] [--against-kernel] FILE [-o OUTPUT]",
    about = "The LVS director daemon (lvsd): keeps the IPVS table in step with lvs.cf and the real servers' health",
    long_about = "The LVS director daemon, Piranha's lvsd (also built as lvs where that name is free; \
                  Debian's LVM2 has an lvs). It reads lvs.cf, adopts the \
                  IPVS entries of the virtual services it names (it never flushes the table and never touches a \
                  service lvs.cf does not name), checks every active real server in-process (the checks of \
                  nanny, thousands in one runtime) and applies to the kernel only the difference between what \
                  is there and what should be: servers in at their weight, failed ones out (or at weight 0 with \
                  quiesce_server), the sorry_server while no real server is up.\n\n\
                  Signals: SIGHUP re-reads lvs.cf and applies the difference (an invalid file changes nothing); \
                  SIGTERM and SIGINT remove the virtual services it runs and exit.\n\n\
                  Other modes: --status asks the running daemon for each service, its servers, their health, \
                  last check, weight and counters (--format json for programs); --plan asks it what a reload to \
                  the file -c names would do (the table operations, the checks started afresh, the risks), \
                  changing nothing; --resync has it compare its entries with the kernel's table now and restore \
                  what was changed behind its back (it also does so every few seconds, a few services at a \
                  time); --drain takes a real server (lvs.cf's names) to weight 0 and removes it when its \
                  connections end or its drain timeout passes (--wait returns then), --disable removes it at once, \
                  --enable gives it back to its checks (a hold lasts across reloads and restarts); --events \
                  prints the daemon's events (health changes, holds, the sorry server, reloads) as JSON lines \
                  as they happen; --check and --dump read lvs.cf \
                  (--check validates it beyond syntax; --dump writes it back as canonical lvs.cf or JSON); \
                  --strict rejects each lvs-rs extension to Piranha's syntax as Piranha 0.8.6 does; \
                  `lvsd import` turns another director's configuration into lvs.cf.",
    args_conflicts_with_subcommands = true,
    propagate_version = true,
    group(ArgGroup::new("mode").args(["check", "dump", "status", "plan", "resync", "drain", "disable", "enable", "events"])),
    group(ArgGroup::new("formatted").args(["dump", "status", "plan", "resync", "drain", "disable", "enable"])),
    disable_help_flag = true
)]
pub struct LvsArgs {
    /// `import`, or none for the daemon and its other modes.
    #[command(subcommand)]
    pub command: Option<LvsCommand>,

    /// Print help.
    #[arg(short = '?', long = "help", action = ArgAction::Help)]
    pub help: Option<bool>,

    /// The configuration file.
    #[arg(short = 'c', long = "configfile", value_name = "FILE", default_value = lvs_cf::DEFAULT_PATH)]
    pub configfile: PathBuf,

    /// Parse and validate the file, print a summary, and exit 0 if it has no errors.
    #[arg(long)]
    pub check: bool,

    /// Parse the file and write it to standard output in the chosen --format.
    #[arg(long)]
    pub dump: bool,

    /// The format of --dump (lvs-cf, json) or of --status, --plan and --resync (text, json).
    #[arg(long, value_name = "FORMAT", value_enum, requires = "formatted")]
    pub format: Option<FormatArg>,

    /// Accept only Piranha 0.8.6's syntax: each lvs-rs extension is an error.
    #[arg(long)]
    pub strict: bool,

    /// Ask the running daemon for its state and print it.
    #[arg(long)]
    pub status: bool,

    /// Ask the running daemon what a reload to the -c file would do, and change nothing.
    #[arg(long)]
    pub plan: bool,

    /// Have the running daemon restore entries changed behind its back, and print what it found.
    #[arg(long)]
    pub resync: bool,

    /// Have the running daemon drain a real server (lvs.cf's SERVICE/SERVER names): weight 0, then
    /// removed when its connections end or the drain timeout passes.
    #[arg(long, value_name = "SERVICE/SERVER")]
    pub drain: Option<String>,

    /// Have the running daemon take a real server out of the table until --enable.
    #[arg(long, value_name = "SERVICE/SERVER")]
    pub disable: Option<String>,

    /// Give a drained or disabled real server back to its checks.
    #[arg(long, value_name = "SERVICE/SERVER")]
    pub enable: Option<String>,

    /// Print the running daemon's events as JSON lines as they happen, until it stops.
    #[arg(long)]
    pub events: bool,

    /// With --drain: return when the drain has ended, saying how.
    #[arg(long, requires = "drain")]
    pub wait: bool,

    /// With --drain: the longest it may last (default: lvs.cf's drain_timeout, or 300).
    #[arg(long = "drain-timeout", value_name = "SECONDS", requires = "drain")]
    pub drain_timeout: Option<u64>,

    /// How often the daemon compares its entries with the kernel's table (0: only on --resync).
    #[arg(long = "drift-check", value_name = "SECONDS", default_value_t = lvs_daemon::director::DRIFT_CHECK_INTERVAL.as_secs())]
    pub drift_check: u64,

    /// How many minutes of traffic and health the daemon keeps for the web tool's charts (0: none).
    #[arg(long = "history-minutes", value_name = "MINUTES", default_value_t = 60)]
    pub history_minutes: u64,

    /// Stay in the foreground and log to standard output instead of syslog.
    #[arg(short = 'n', long = "nodaemon")]
    pub nodaemon: bool,

    /// Do not fork, but leave the terminal (pulse starts the daemon so).
    #[arg(long = "nofork")]
    pub nofork: bool,

    /// Log each table change instead of making it.
    #[arg(short = 't', long = "test-start")]
    pub test_start: bool,

    /// Log every check result and table change (`DEBUG -- ...`).
    #[arg(short = 'v', long = "verbose")]
    pub verbose: bool,

    /// Run a `nanny` process per real server (Piranha's model; its `client_monitor`) instead of
    /// checking in-process. A nanny that dies stops lvs when `hard_shutdown = 1`.
    #[arg(long = "nanny-processes")]
    pub nanny_processes: bool,

    /// The Unix socket the daemon answers --status on.
    #[arg(long = "socket", value_name = "PATH", default_value = lvs_daemon::DEFAULT_STATUS_SOCKET)]
    pub socket: PathBuf,

    /// Serve Prometheus metrics over HTTP on this local address (for example 127.0.0.1:9101).
    #[arg(long = "metrics", value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,

    /// Where the daemon writes its process id.
    #[arg(long = "pidfile", value_name = "FILE", default_value = lvs_daemon::DEFAULT_LVS_PIDFILE)]
    pub pidfile: PathBuf,
}

/// `lvsd`'s subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum LvsCommand {
    /// Turn another director's configuration into lvs.cf, with a report of what became of
    /// each directive.
    #[command(
        long_about = "Reads another LVS director's configuration and writes it as lvs.cf, to standard \
                      output or to -o OUTPUT, with a report on standard error that marks each directive \
                      of the source mapped, approximated (saying how) or dropped (saying why), and ends \
                      with what lvs --check says of the result. A source with an error (a line that is \
                      not key = value, an unknown checker or keyword, a bad value) is reported with its \
                      file and line, and nothing is written.\n\n\
                      Exit status: 0 when the result passes lvs --check; 3 when it was written but must \
                      be edited before it runs (the report's last lines say what: ldirectord.cf names no \
                      router, for one); 1 when the source has an error."
    )]
    Import(ImportArgs),
}

/// `lvsd import`'s arguments.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The tool whose configuration FILE is.
    #[arg(long = "from", value_name = "TOOL", value_parser = ["keepalived", "ldirectord"])]
    pub from: String,

    /// keepalived's config id (its -i): lines marked @ID are read, @^ID skipped (default: the
    /// host name up to its first dot).
    #[arg(short = 'i', long = "config-id", value_name = "CONFIG_ID")]
    pub config_id: Option<String>,

    /// The primary router's address (lvs.cf's primary), where the source names none.
    #[arg(long = "primary", value_name = "ADDRESS")]
    pub primary: Option<String>,

    /// The backup router's address (lvs.cf's backup, with backup_active = 1).
    #[arg(long = "backup", value_name = "ADDRESS")]
    pub backup: Option<String>,

    /// The interface pulse brings the VIPs up on.
    #[arg(long = "vip-device", value_name = "DEVICE", default_value = "eth0")]
    pub vip_device: String,

    /// Also compare the imported configuration with the kernel's IPVS table and list the
    /// operations the lvs daemon would make starting on it (none for a table the source built).
    #[arg(long = "against-kernel")]
    pub against_kernel: bool,

    /// Where to write lvs.cf (replaced only once the import has succeeded); standard output without it.
    #[arg(short = 'o', long = "output", value_name = "OUTPUT")]
    pub output: Option<PathBuf>,

    /// The configuration to import.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

impl LvsArgs {
    /// --dump's format; `None` for one that is --status's only.
    pub fn dump_format(&self) -> Option<DumpFormat> {
        match self.format {
            None | Some(FormatArg::LvsCf) => Some(DumpFormat::LvsCf),
            Some(FormatArg::Json) => Some(DumpFormat::Json),
            Some(FormatArg::Text) => None,
        }
    }

    /// --status's format; `None` for one that is --dump's only.
    pub fn status_format(&self) -> Option<Format> {
        match self.format {
            None | Some(FormatArg::Text) => Some(Format::Text),
            Some(FormatArg::Json) => Some(Format::Json),
            Some(FormatArg::LvsCf) => None,
        }
    }
}

/// The program: one of its modes, or the daemon.
pub fn main(args: LvsArgs) -> ExitCode {
    if let Some(LvsCommand::Import(import)) = &args.command {
        import_configuration(import)
    } else if args.check || args.dump {
        match args.dump_format() {
            Some(format) => check_or_dump(&args, format),
            None => crate::usage::<LvsArgs>(ErrorKind::InvalidValue, "--format for --dump is lvs-cf or json"),
        }
    } else if args.events {
        events(&args)
    } else if let Some((action, target)) = args.admin_action() {
        match args.status_format() {
            Some(format) => admin(&args, action, target, format),
            None => crate::usage::<LvsArgs>(
                ErrorKind::InvalidValue,
                "--format for --drain, --disable and --enable is text or json",
            ),
        }
    } else if args.status || args.plan || args.resync {
        match args.status_format() {
            Some(format) if args.plan => plan(&args, format),
            Some(format) if args.resync => resync(&args, format),
            Some(format) => status(&args, format),
            None => crate::usage::<LvsArgs>(
                ErrorKind::InvalidValue,
                "--format for --status, --plan and --resync is text or json",
            ),
        }
    } else {
        daemon(args)
    }
}

impl LvsArgs {
    /// The hold asked for (--drain, --disable or --enable) and its target.
    pub fn admin_action(&self) -> Option<(AdminAction, &str)> {
        [
            (AdminAction::Drain, &self.drain),
            (AdminAction::Disable, &self.disable),
            (AdminAction::Enable, &self.enable),
        ]
        .into_iter()
        .find_map(|(action, target)| target.as_deref().map(|target| (action, target)))
    }

    /// The director's options for these arguments.
    pub fn director_options(&self) -> DirectorOptions {
        DirectorOptions::new(&self.configfile)
            .dry_run(self.test_start)
            .verbose(self.verbose)
            .nanny_processes(self.nanny_processes)
            .nanny_foreground(self.nodaemon)
            .status_socket(Some(self.socket.clone()))
            .metrics(self.metrics)
            .drift_check((self.drift_check > 0).then(|| std::time::Duration::from_secs(self.drift_check)))
            .history((self.history_minutes > 0).then(|| {
                lvs_core::history::HistoryOptions::default().span(std::time::Duration::from_secs(
                    self.history_minutes.saturating_mul(60),
                ))
            }))
    }
}

/// The daemon: prepared before leaving the terminal (so that a bad file or
/// a missing IPVS is reported to whoever started it), then run until
/// SIGTERM or SIGINT; SIGHUP reloads.
fn daemon(args: LvsArgs) -> ExitCode {
    let fail = |e: &dyn std::fmt::Display| crate::fail("lvs", e);
    let log = Log::open(c"lvsd", args.nodaemon, "", args.verbose);
    let director = match Director::prepare(args.director_options(), log.clone()) {
        Ok(director) => director,
        Err(e) => return fail(&e),
    };
    let handle = director.handle();
    let on_signal = move |signal| match signal {
        DaemonSignal::Stop(number) => {
            handle.stop(format!("Terminating due to signal {number}"));
        }
        DaemonSignal::Reload => {
            handle.reload();
        }
        // Not asked for.
        DaemonSignal::User1 | DaemonSignal::User2 => {}
    };
    let supervised = director.handle();
    let run = crate::reporting_to_manager(supervised, async move {
        match director.run(std::future::pending()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e),
        }
    });
    // No thread exists yet: the runtime is built after detaching.
    let detach = Detach::from_flags(args.nodaemon, args.nofork);
    crate::run_daemon("lvs", (detach, Some(&args.pidfile)), &log, false, on_signal, run)
}

/// `lvsd import`: the report on standard error, lvs.cf on standard output
/// or in the output file (written beside it and renamed into place).
fn import_configuration(args: &ImportArgs) -> ExitCode {
    let source = match args.from.parse::<lvs_import::Source>() {
        Ok(source) => source,
        Err(e) => return crate::usage::<LvsArgs>(ErrorKind::InvalidValue, &e),
    };
    let mut importer = lvs_import::Importer::new(source).vip_device(&args.vip_device);
    if let Some(id) = &args.config_id {
        importer = importer.config_id(id);
    }
    if let Some(primary) = &args.primary {
        importer = importer.primary(lvs_cf::Host::from_written(primary));
    }
    if let Some(backup) = &args.backup {
        importer = importer.backup(lvs_cf::Host::from_written(backup));
    }
    let mut imported = match importer.import_file(&args.file) {
        Ok(imported) => imported,
        Err(e) => return crate::fail("lvs import", &e),
    };
    let text = lvs_cf::write(&imported.config);
    // The report ends with what lvs --check says of the written file, found
    // as --check finds it.
    let refusals = match lvs_cf::parse(&text) {
        Ok(parsed) => {
            let (diagnostics, refusals) = findings(&parsed);
            imported.report.check = diagnostics;
            refusals
        }
        // The writer's output parses; should it not, validation's findings stand.
        Err(_) => Vec::new(),
    };
    eprint!("{}", imported.report);
    for refusal in &refusals {
        eprintln!("imported lvs.cf: error: {refusal}");
    }
    let edits = imported.report.check.iter().filter(|d| d.is_error()).count() + refusals.len();
    if edits == 0 {
        eprintln!("the imported lvs.cf passes lvs --check");
    } else {
        eprintln!(
            "the imported lvs.cf needs editing before it runs: {}",
            count(edits, "error")
        );
    }
    if args.against_kernel {
        if let Err(e) = cut_over(&imported.config) {
            return crate::fail("lvs import", &e);
        }
    }
    match &args.output {
        None => {
            print!("{text}");
            let _ = std::io::Write::flush(&mut std::io::stdout());
        }
        Some(output) => {
            // lvs.cf names programs root runs: 0600 as Piranha's tool writes it.
            if let Err((path, e)) = lvs_daemon::files::replace_atomically(output, text.as_bytes(), 0o600) {
                return crate::fail("lvs import", &format!("{}: {e}", path.display()));
            }
        }
    }
    if edits > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

/// `lvsd import --against-kernel`: what the lvs daemon, started on the
/// imported configuration, would do to the running table (standard error).
fn cut_over(config: &Config) -> Result<(), String> {
    let plan = lvs_core::director::Plan::new(config, &lvs_daemon::director::system_resolver)
        .map_err(|e| format!("the lvs daemon would refuse the imported configuration: {e}"))?;
    let table = lvs_ipvs::Ipvs::connect()
        .and_then(|mut ipvs| ipvs.snapshot())
        .map_err(|e| format!("cannot read the kernel's IPVS table: {e}"))?;
    let operations = lvs_core::preview::cut_over(&plan, &table);
    let adopted = table.filtered(|key| plan.named.contains(key)).destination_count();
    eprintln!(
        "against the kernel: {adopted} entries adopted, {} table operations at the cut-over",
        operations.len()
    );
    for operation in &operations {
        eprintln!("  would {}", lvs_core::preview::describe(operation));
    }
    Ok(())
}

/// `lvs --status`: asks the running daemon and prints its answer.
fn status(args: &LvsArgs, format: Format) -> ExitCode {
    match ask(&args.socket, format) {
        Ok(answer) => {
            print!("{answer}");
            let _ = std::io::Write::flush(&mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Err(e) => crate::fail(
            "lvs",
            &format!("cannot reach the lvs daemon at {}: {e}", args.socket.display()),
        ),
    }
}

/// `lvsd --plan`: what a reload to the -c file would do, from the running
/// daemon, which reads the file itself (so the path goes as an absolute one,
/// and a file it cannot read is its refusal).
fn plan(args: &LvsArgs, format: Format) -> ExitCode {
    let file = match std::path::absolute(&args.configfile) {
        Ok(file) => file,
        Err(e) => return crate::fail("lvs", &format!("{}: {e}", args.configfile.display())),
    };
    let (answer, json) = match lvs_daemon::status::plan(&args.socket, &file) {
        Ok(answered) => answered,
        Err(e) => return crate::fail("lvs", &e),
    };
    match &answer {
        _ if format == Format::Json => print!("{json}"),
        PlanAnswer::Preview(preview) => print!("{}", preview.render_text()),
        // A refusal goes to standard error; a newer daemon's answer is its JSON.
        PlanAnswer::Refused(_) => {}
        _ => print!("{json}"),
    }
    match answer {
        PlanAnswer::Refused(why) => crate::fail("lvs", &why),
        _ => ExitCode::SUCCESS,
    }
}

/// `lvsd --resync`: the running daemon compares its entries with the
/// kernel's and restores what differs; exits 1 when a restoring operation
/// failed.
fn resync(args: &LvsArgs, format: Format) -> ExitCode {
    match lvs_daemon::status::resync(&args.socket) {
        Ok((report, json)) => {
            match format {
                Format::Json => print!("{json}"),
                _ => print!("{}", report.render_text()),
            }
            if report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => crate::fail("lvs", &e),
    }
}

/// `lvsd --drain`, `--disable`, `--enable`: the running daemon holds or
/// lets go of a server; exits 1 when it refuses (a name lvs.cf does not
/// have, say).
fn admin(args: &LvsArgs, action: AdminAction, target: &str, format: Format) -> ExitCode {
    let Some((service, server)) = target.split_once('/') else {
        return crate::usage::<LvsArgs>(
            ErrorKind::InvalidValue,
            &format!(
                "--{} {target}: a real server is SERVICE/SERVER, the names of its virtual and server blocks",
                action.as_str()
            ),
        );
    };
    let request = AdminRequest::new(action, service, server)
        .timeout_seconds(args.drain_timeout)
        .wait(args.wait);
    match lvs_daemon::status::admin(&args.socket, &request) {
        Ok((answer, json)) => {
            match format {
                Format::Json => print!("{json}"),
                _ if answer.ok => println!("{}", answer.message),
                _ => {}
            }
            if answer.ok {
                ExitCode::SUCCESS
            } else {
                crate::fail("lvs", &answer.message)
            }
        }
        Err(e) => crate::fail("lvs", &e),
    }
}

/// `lvsd --events`: the daemon's events, a JSON line each, until it stops
/// (exit 0) or standard output is closed.
fn events(args: &LvsArgs) -> ExitCode {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let followed = lvs_daemon::status::follow_events(&args.socket, |line| {
        writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
    });
    match followed {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => crate::fail("lvs", &e),
    }
}

/// What `--check` finds in a parsed file: its diagnostics, then, when none
/// is an error, what the daemons themselves would refuse, found by their own
/// reading (`lvs_core::acceptance`). `--check` and `lvsd import` both ask here.
fn findings(parsed: &lvs_cf::Parsed) -> (Vec<lvs_cf::Diagnostic>, Vec<lvs_core::acceptance::Refusal>) {
    let diagnostics = lvs_daemon::config::diagnostics(parsed);
    let refusals = if diagnostics.iter().any(lvs_cf::Diagnostic::is_error) {
        Vec::new()
    } else {
        lvs_core::acceptance::refusals(&parsed.config, &lvs_daemon::director::system_resolver)
    };
    (diagnostics, refusals)
}

/// `--check` and `--dump`: read lvs.cf, report, and write it back.
fn check_or_dump(args: &LvsArgs, format: DumpFormat) -> ExitCode {
    let path = &args.configfile;
    let options = ParseOptions {
        strict: args.strict,
        services: None,
    };
    let parsed = match lvs_cf::parse_file(path, &options) {
        Ok(parsed) => parsed,
        Err(LoadError::Parse { path, error }) => {
            // The first line is Piranha's, so scripts that match it keep working.
            eprintln!(
                "lvs: error parsing {} at line {}: {}",
                path.display(),
                error.line,
                error.kind
            );
            eprintln!("{}", error.snippet());
            return ExitCode::FAILURE;
        }
        Err(error) => {
            eprintln!("lvs: {error}");
            return ExitCode::FAILURE;
        }
    };

    let (diagnostics, refusals) = findings(&parsed);
    for diagnostic in &diagnostics {
        eprintln!("lvs: {}: {diagnostic}", path.display());
    }
    for refusal in &refusals {
        eprintln!("lvs: {}: error: {refusal}", path.display());
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count()
        + refusals.len();
    let warnings = diagnostics.len() + refusals.len() - errors;

    if args.dump {
        match format {
            DumpFormat::LvsCf => print!("{}", lvs_cf::write(&parsed.config)),
            DumpFormat::Json => match serde_json::to_string_pretty(&parsed.config) {
                Ok(json) => println!("{json}"),
                Err(error) => {
                    eprintln!("lvs: cannot write JSON: {error}");
                    return ExitCode::FAILURE;
                }
            },
        }
    }
    if errors > 0 {
        eprintln!(
            "lvs: {}: {}, {}",
            path.display(),
            count(errors, "error"),
            count(warnings, "warning")
        );
        return ExitCode::FAILURE;
    }
    if args.check {
        println!(
            "{}: OK: {}, {}",
            path.display(),
            summary(&parsed.config),
            count(warnings, "warning")
        );
    }
    ExitCode::SUCCESS
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

fn summary(config: &Config) -> String {
    let services = config.services_in_use();
    let servers: Vec<_> = services.iter().flat_map(|vs| &vs.servers).collect();
    let kind = match config.service {
        lvs_cf::ServiceType::Lvs => "virtual",
        lvs_cf::ServiceType::Fos => "failover",
    };
    format!(
        "service = {}, {} ({} active), {} ({} active)",
        config.service,
        count(services.len(), &format!("{kind} service")),
        services.iter().filter(|vs| vs.active).count(),
        count(servers.len(), "real server"),
        servers.iter().filter(|s| s.active).count(),
    )
}
