//! The files rendered from the argument definitions: a man page for each
//! program and its completions for bash, zsh and fish. `cargo xtask man`
//! writes them under `docs/`; a test fails when the committed ones are
//! stale; packages install them. lvs.cf(5) is rendered from the reference
//! in `docs/lvs.cf.md`, so that the page and the reference cannot differ.

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

/// Every generated file, in a stable order: the programs' pages and
/// completions, and lvs.cf(5) from `reference` (the Markdown of
/// `docs/lvs.cf.md`).
pub fn files(reference: &str) -> std::io::Result<Vec<Generated>> {
    let mut files = vec![Generated {
        path: PathBuf::from("man/lvs.cf.5"),
        contents: reference_page(reference).into_bytes(),
    }];
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

/// lvs.cf(5): the Markdown reference as a man page. Its first heading is
/// the page's NAME, second-level headings are sections and third-level ones
/// subsections; a table becomes a list tagged by its first column, each
/// other cell under its column's name; code is bold, code blocks unfilled.
pub fn reference_page(markdown: &str) -> String {
    use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
    use roff::{bold, italic, roman, Inline, Roff};

    let mut page = Roff::new();
    page.control(
        "TH",
        [
            "LVS.CF",
            "5",
            "",
            concat!("lvs-rs ", env!("CARGO_PKG_VERSION")),
            "File Formats",
        ],
    );
    page.control("SH", ["NAME"]);
    page.text([roman(
        "lvs.cf - the configuration of LVS routers (pulse, lvsd, nanny)",
    )]);
    page.control("SH", ["DESCRIPTION"]);
    let mut inlines: Vec<Inline> = Vec::new();
    let mut bold_depth = 0usize;
    let mut italic_depth = 0usize;
    let mut heading: Option<HeadingLevel> = None;
    let mut code_block: Option<String> = None;
    // A table's header cells and the row being read.
    let mut header: Vec<String> = Vec::new();
    let mut row: Vec<Vec<Inline>> = Vec::new();
    let mut list_depth = 0usize;
    let plain = |inlines: &[Inline]| -> String {
        inlines
            .iter()
            .map(|inline| match inline {
                Inline::Roman(text) | Inline::Bold(text) | Inline::Italic(text) => text.as_str(),
                _ => " ",
            })
            .collect()
    };
    let styled = |text: &str, bold_depth: usize, italic_depth: usize| {
        if bold_depth > 0 {
            bold(text)
        } else if italic_depth > 0 {
            italic(text)
        } else {
            roman(text)
        }
    };
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                heading = Some(level);
                inlines.clear();
            }
            Event::End(TagEnd::Heading(_)) => {
                let title = plain(&inlines);
                match heading.take() {
                    // The page's own title: NAME says it.
                    Some(HeadingLevel::H1) => {}
                    Some(HeadingLevel::H2) => {
                        page.control("SH", [title.to_uppercase().as_str()]);
                    }
                    _ => {
                        page.control("SS", [title.as_str()]);
                    }
                }
                inlines.clear();
            }
            Event::Start(Tag::Paragraph) => {
                if list_depth == 0 {
                    page.control("PP", []);
                }
                inlines.clear();
            }
            Event::End(TagEnd::Paragraph) => {
                page.text(std::mem::take(&mut inlines));
            }
            Event::Start(Tag::List(_)) => list_depth += 1,
            Event::End(TagEnd::List(_)) => {
                list_depth = list_depth.saturating_sub(1);
                page.control("PP", []);
            }
            Event::Start(Tag::Item) => {
                page.control("IP", ["\\(bu", "2"]);
                inlines.clear();
            }
            Event::End(TagEnd::Item) if !inlines.is_empty() => {
                page.text(std::mem::take(&mut inlines));
            }
            Event::Start(Tag::CodeBlock(_)) => code_block = Some(String::new()),
            Event::End(TagEnd::CodeBlock) => {
                let code = code_block.take().unwrap_or_default();
                page.control("RS", ["4"]).control("nf", []);
                for line in code.lines() {
                    page.text([roman(line)]);
                }
                page.control("fi", []).control("RE", []);
            }
            Event::Start(Tag::Table(_)) => header.clear(),
            Event::End(TagEnd::TableHead) => {
                header = row.iter().map(|cell| plain(cell)).collect();
                row.clear();
            }
            Event::Start(Tag::TableRow) => row.clear(),
            Event::Start(Tag::TableCell) => inlines.clear(),
            Event::End(TagEnd::TableCell) => row.push(std::mem::take(&mut inlines)),
            Event::End(TagEnd::TableRow) => {
                let mut cells = std::mem::take(&mut row).into_iter();
                let tag = cells.next().unwrap_or_default();
                page.control("TP", []).text(tag);
                for (index, cell) in cells.enumerate() {
                    if cell.is_empty() {
                        continue;
                    }
                    let mut line = vec![
                        italic(header.get(index + 1).cloned().unwrap_or_default()),
                        roman(": "),
                    ];
                    line.extend(cell);
                    page.text(line).control("br", []);
                }
            }
            Event::End(TagEnd::Table) => {
                page.control("PP", []);
            }
            Event::Start(Tag::Strong) => bold_depth += 1,
            Event::End(TagEnd::Strong) => bold_depth = bold_depth.saturating_sub(1),
            Event::Start(Tag::Emphasis) => italic_depth += 1,
            Event::End(TagEnd::Emphasis) => italic_depth = italic_depth.saturating_sub(1),
            Event::Text(text) => match code_block.as_mut() {
                Some(code) => code.push_str(&text),
                None => inlines.push(styled(&text, bold_depth, italic_depth)),
            },
            Event::Code(code) => inlines.push(bold(code.as_ref())),
            Event::SoftBreak => inlines.push(roman(" ")),
            Event::HardBreak => inlines.push(roff::line_break()),
            _ => {}
        }
    }
    page.control("SH", ["SEE ALSO"]);
    page.text([
        bold("pulse"),
        roman("(8), "),
        bold("lvsd"),
        roman("(8), "),
        bold("nanny"),
        roman("(8), "),
        bold("lvs-web"),
        roman("(8), "),
        bold("ipvsadm"),
        roman("(8)"),
    ]);
    page.render()
}
