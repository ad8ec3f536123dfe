//! The files rendered from the argument definitions and the docs: a man
//! page for each program and its completions for bash, zsh and fish. `cargo
//! xtask man` writes them under `docs/`; a test fails when the committed ones
//! are stale; packages install them. Each program's page takes its NAME,
//! SYNOPSIS, DESCRIPTION and OPTIONS from the argument definitions and its
//! EXIT STATUS, SIGNALS, ENVIRONMENT, FILES and SEE ALSO from the sections of
//! its page in `docs/` ([`MAN_SECTIONS`]); lvs.cf(5) is rendered from the
//! reference in `docs/lvs.cf.md`. So a manual and its docs page cannot differ.

use std::path::{Path, PathBuf};

use clap_complete::Shell;

/// One generated file: where it goes under `docs/`, and its contents.
#[derive(Clone, Debug)]
pub struct Generated {
    /// The path under `docs/` (`man/lvsd.8`, `completions/bash/lvsd`...).
    pub path: PathBuf,
    /// What it holds.
    pub contents: Vec<u8>,
}

/// Why the files could not be generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenerateError {
    /// A page of `docs/` could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The page.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A program's docs page lacks a section its manual must have.
    #[error("{}: no `## {section}` section, which the man page of {program} needs", path.display())]
    MissingSection {
        /// The page.
        path: PathBuf,
        /// The program.
        program: String,
        /// The heading looked for.
        section: &'static str,
    },
    /// A program has no page in `docs/` ([`DOCS_PAGES`]).
    #[error("{program} has no page in docs/ to take its manual's sections from")]
    NoPage {
        /// The program.
        program: String,
    },
    /// Rendering failed.
    #[error("cannot render the man page of {program}: {source}")]
    Render {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Each program's page in `docs/`.
pub const DOCS_PAGES: [(&str, &str); 5] = [
    ("lvsd", "lvsd.md"),
    ("pulse", "pulse.md"),
    ("nanny", "nanny.md"),
    ("send_arp", "send_arp.md"),
    ("lvs-web", "web.md"),
];

/// The second-level headings of a docs page that its program's manual
/// takes, in the manual's order (man-pages(7)'s, SIGNALS after EXIT STATUS),
/// and whether every manual must have it.
pub const MAN_SECTIONS: [(&str, bool); 5] = [
    ("Exit status", true),
    ("Signals", false),
    ("Environment", false),
    ("Files", false),
    ("See also", true),
];

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

fn read_page(path: PathBuf) -> Result<String, GenerateError> {
    std::fs::read_to_string(&path).map_err(|source| GenerateError::Read { path, source })
}

/// Every generated file, in a stable order: lvs.cf(5), then each program's
/// page and completions, reading the pages of `docs` (the `docs/` folder).
pub fn files(docs: &Path) -> Result<Vec<Generated>, GenerateError> {
    let reference = read_page(docs.join("lvs.cf.md"))?;
    let mut files = vec![Generated {
        path: PathBuf::from("man/lvs.cf.5"),
        contents: reference_page(&reference).into_bytes(),
    }];
    for (command, section) in crate::programs() {
        let name = command.get_name().to_owned();
        let page = DOCS_PAGES
            .iter()
            .find(|(program, _)| *program == name)
            .map(|(_, page)| docs.join(page))
            .ok_or_else(|| GenerateError::NoPage {
                program: name.clone(),
            })?;
        let markdown = read_page(page.clone())?;
        let mut extra = Vec::new();
        for (heading, required) in MAN_SECTIONS {
            match markdown_section(&markdown, heading) {
                Some(body) => extra.push((heading, body)),
                None if required => {
                    return Err(GenerateError::MissingSection {
                        path: page,
                        program: name,
                        section: heading,
                    })
                }
                None => {}
            }
        }
        files.push(Generated {
            path: PathBuf::from("man").join(format!("{name}.{section}")),
            contents: program_page(&command, section, &extra).map_err(|source| GenerateError::Render {
                program: name.clone(),
                source,
            })?,
        });
        // Each subcommand has a page of its own, NAME-SUBCOMMAND, which the
        // program's page names under SEE ALSO.
        // Built, so that the subcommands carry what propagates (the version).
        let mut built = command.clone();
        built.build();
        for sub in built
            .get_subcommands()
            .filter(|sub| !sub.is_hide_set() && sub.get_name() != "help")
        {
            let page_name = format!("{name}-{}", sub.get_name());
            let sub = sub.clone().name(page_name.clone());
            files.push(Generated {
                path: PathBuf::from("man").join(format!("{page_name}.{section}")),
                contents: program_page(&sub, section, &[]).map_err(|source| GenerateError::Render {
                    program: page_name.clone(),
                    source,
                })?,
            });
        }
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

/// The lines roff writes before every rendering (its apostrophe string):
/// kept once at the top of a page put together from several renderings.
const ROFF_PREAMBLE_LINES: usize = 2;

/// A program's man page: clap_mangen's sections from the argument
/// definitions, then `extra` (headings and their Markdown) as sections.
fn program_page(command: &clap::Command, section: &str, extra: &[(&str, &str)]) -> std::io::Result<Vec<u8>> {
    type Render = fn(&clap_mangen::Man, &mut dyn std::io::Write) -> std::io::Result<()>;
    let man = clap_mangen::Man::new(command.clone()).section(section);
    let mut renders: Vec<Render> = vec![
        clap_mangen::Man::render_name_section,
        clap_mangen::Man::render_synopsis_section,
        clap_mangen::Man::render_description_section,
        clap_mangen::Man::render_options_section,
    ];
    if command.has_subcommands() {
        renders.push(clap_mangen::Man::render_subcommands_section);
    }
    if command.get_after_help().is_some() || command.get_after_long_help().is_some() {
        renders.push(clap_mangen::Man::render_extra_section);
    }
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    let mut append = |rendered: &[u8]| {
        let mut lines = rendered.split_inclusive(|b| *b == b'\n');
        for _ in 0..ROFF_PREAMBLE_LINES {
            lines.next();
        }
        page.extend(lines.flatten());
    };
    for render in renders {
        let mut rendered = Vec::new();
        render(&man, &mut rendered)?;
        append(&rendered);
    }
    for (heading, markdown) in extra {
        let mut roff = roff::Roff::new();
        roff.control("SH", [heading.to_uppercase().as_str()]);
        render_markdown(&mut roff, markdown);
        append(roff.render().as_bytes());
    }
    Ok(page)
}

/// The body of the `## heading` section of `markdown` (up to the next
/// heading of its level or above), if it has one.
fn markdown_section<'a>(markdown: &'a str, heading: &str) -> Option<&'a str> {
    use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};
    let mut body_start: Option<usize> = None;
    let mut title: Option<String> = None;
    for (event, range) in Parser::new(markdown).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) if level <= HeadingLevel::H2 => {
                if let Some(start) = body_start {
                    return markdown.get(start..range.start);
                }
                title = (level == HeadingLevel::H2).then(String::new);
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some(title) = title.as_mut() {
                    title.push_str(&text);
                }
            }
            // The title is taken at every heading's end, matching or not.
            Event::End(TagEnd::Heading(_)) if title.take().is_some_and(|t| t == heading) => {
                body_start = Some(range.end);
            }
            _ => {}
        }
    }
    body_start.and_then(|start| markdown.get(start..))
}

/// lvs.cf(5): the Markdown reference as a man page under the page's NAME,
/// rendered as the programs' sections from their docs pages are.
pub fn reference_page(markdown: &str) -> String {
    use roff::{roman, Roff};

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
    render_markdown(&mut page, markdown);
    page.render()
}

/// Renders Markdown into `page`: a first-level heading is dropped (the
/// page's NAME says it), second-level headings are sections and deeper ones
/// subsections; a table becomes a list tagged by its first column, each
/// other cell under its column's name; code is bold, code blocks unfilled.
fn render_markdown(page: &mut roff::Roff, markdown: &str) {
    use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};
    use roff::{bold, italic, roman, Inline};

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
                    // A second column alone needs no name: it is what the tag means.
                    let mut line = Vec::new();
                    if header.len() > 2 {
                        line.push(italic(header.get(index + 1).cloned().unwrap_or_default()));
                        line.push(roman(": "));
                    }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_runs_to_the_next_heading_of_its_level_and_ignores_code() {
        let page = "# tool\n\nintro\n\n## Signals\n\nSIGHUP reloads.\n\n### Detail\n\nmore\n\n\
                    ```\n## not a heading\n```\n\n## Files\n\n/etc/x\n";
        let signals = markdown_section(page, "Signals").expect("signals");
        assert!(signals.contains("SIGHUP reloads.") && signals.contains("### Detail"));
        assert!(signals.contains("## not a heading") && !signals.contains("/etc/x"));
        assert_eq!(markdown_section(page, "Files").map(str::trim), Some("/etc/x"));
        assert_eq!(markdown_section(page, "Environment"), None);
        assert_eq!(
            markdown_section(page, "Detail"),
            None,
            "only second-level headings"
        );
    }

    #[test]
    fn a_docs_page_without_a_required_section_is_an_error_naming_it() {
        let docs = std::env::temp_dir().join(format!("lvs-generated-{}", std::process::id()));
        std::fs::create_dir_all(&docs).expect("dir");
        std::fs::write(docs.join("lvs.cf.md"), "# lvs.cf\n").expect("write");
        for (_, page) in DOCS_PAGES {
            std::fs::write(
                docs.join(page),
                "# page\n\n## Exit status\n\n0\n\n## See also\n\nx\n",
            )
            .expect("write");
        }
        std::fs::write(docs.join("pulse.md"), "# pulse\n\n## Exit status\n\n0\n").expect("write");
        let error = files(&docs).expect_err("pulse.md has no See also");
        let _ = std::fs::remove_dir_all(&docs);
        assert!(
            matches!(&error, GenerateError::MissingSection { program, section: "See also", .. } if program == "pulse"),
            "{error}"
        );
        assert!(
            error.to_string().contains("pulse.md: no `## See also` section"),
            "{error}"
        );
    }
}
