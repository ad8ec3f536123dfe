//! The files rendered from the argument definitions: a man page for each
//! program and its completions for bash, zsh and fish. `cargo xtask man`
//! writes them under `docs/`; a test fails when the committed ones are
//! stale; packages install them.

use std::path::PathBuf;

use clap_complete::Shell;

/// One generated file: where it goes under `docs/`, and its contents.
#[derive(Clone, Debug)]
pub struct Generated {
    /// The path under `docs/` (`man/lvs.8`, `completions/bash/lvs`...).
    pub path: PathBuf,
    /// What it holds.
    pub contents: Vec<u8>,
}

/// Where each shell's completion file for `program` goes under
/// `docs/completions`, named as the shell looks it up (Debian installs them
/// in `/usr/share/bash-completion/completions`,
/// `/usr/share/zsh/vendor-completions` and
/// `/usr/share/fish/vendor_completions.d`).
fn completion_path(shell: Shell, program: &str) -> PathBuf {
    let name = match shell {
        Shell::Zsh => format!("_{program}"),
        Shell::Fish => format!("{program}.fish"),
        _ => program.to_owned(),
    };
    PathBuf::from("completions").join(shell.to_string()).join(name)
}

/// Every generated file, in a stable order.
pub fn files() -> std::io::Result<Vec<Generated>> {
    let mut files = Vec::new();
    for (command, section) in crate::programs() {
        let name = command.get_name().to_owned();
        let mut page = Vec::new();
        clap_mangen::Man::new(command.clone())
            .section(section)
            .render(&mut page)?;
        files.push(Generated {
            path: PathBuf::from("man").join(format!("{name}.{section}")),
            contents: page,
        });
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command.clone(), &name, &mut script);
            files.push(Generated {
                path: completion_path(shell, &name),
                contents: script,
            });
        }
    }
    Ok(files)
}
