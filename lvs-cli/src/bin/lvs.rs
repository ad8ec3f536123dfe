//! `lvs`: checks and dumps lvs.cf (the director daemon arrives later).

use std::process::ExitCode;

use clap::Parser;
use lvs_cf::{Config, LoadError, ParseOptions, Severity};
use lvs_cli::lvs::{DumpFormat, LvsArgs};

fn main() -> ExitCode {
    let args = LvsArgs::parse();
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

    let diagnostics = parsed.diagnostics();
    for diagnostic in &diagnostics {
        eprintln!("lvs: {}: {diagnostic}", path.display());
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diagnostics.len() - errors;

    if args.dump {
        match args.format {
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
