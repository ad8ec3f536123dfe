//! The HTML of each panel, rendered on the server with maud, whose
//! templates escape every value they interpolate (text and attributes
//! alike) unless it is marked as markup: no page depends on a call to an
//! escaping function being remembered. Every form carries the session's
//! CSRF token.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use lvs_core::status::Status;
use maud::{html, Markup, DOCTYPE};

use super::auth::SessionInfo;
use super::fields::{self, Field, Kind, DEVICE_SUFFIX};
use super::monitor::{self, Daemon};
use super::WebOptions;
use lvs_cf::edit::{value_of, Document, Place, Problem};

/// Percent-encodes a query value.
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}

const STYLE: &str = "body{font-family:sans-serif;margin:0;color:#222}\
header{background:#2b4a6f;color:#fff;padding:.6em 1em;display:flex;justify-content:space-between;align-items:center}\
header h1{font-size:1.2em;margin:0}nav{background:#dfe7f0;padding:.4em 1em}nav a{margin-right:1.2em;color:#234;text-decoration:none}\
nav a.on{font-weight:bold;text-decoration:underline}main{padding:1em}table{border-collapse:collapse;margin:.5em 0}\
td,th{border:1px solid #bbb;padding:.25em .6em;text-align:left}th{background:#eef}label{display:inline-block;width:18em}\
.row{margin:.35em 0}.help{color:#666;font-size:.85em;margin-left:.5em}.error{color:#b00020;margin-left:.5em;font-weight:bold}\
.note{background:#e6f4e6;padding:.4em .8em;border-left:4px solid #4a4}.problems{background:#fde8e8;padding:.4em .8em;border-left:4px solid #b00020}\
form.inline{display:inline}.up{color:#070}.down{color:#b00020}button{margin:.2em}\
figure.chart{margin:.3em 0}svg .frame{fill:#fafbfd;stroke:#bbb}svg .series{fill:none;stroke:#2b4a6f;stroke-width:1.5}\
figcaption{font-size:.85em;color:#444}.history{border-top:1px solid #ddd;margin-top:.6em}.server-history{margin:.3em 0 .3em 1em}\
rect.state.up{fill:#4a4}rect.state.down{fill:#b00020}rect.state.quiesced{fill:#d9a400}rect.state.unknown{fill:#aaa}\
ul.changes{font-size:.85em;margin:.2em 0}#topology line{stroke:#888}#topology rect{fill:#eef;stroke:#888}\
#topology .up rect{fill:#dff0df;stroke:#4a4}#topology .down rect{fill:#fde8e8;stroke:#b00020}\
#topology .quiesced rect{fill:#fff3cc;stroke:#d9a400}#topology text{font-size:11px}";

fn document_html(title: &str, head_extra: Markup, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " - lvs-web" }
                (head_extra)
                style { (maud::PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
}

pub fn login(error: Option<&str>) -> Markup {
    document_html(
        "Login",
        html! {},
        html! {
            header { h1 { "lvs-web: LVS router configuration" } }
            main {
                @if let Some(error) = error {
                    p class="problems" id="login-error" { (error) }
                }
                form method="post" action="/login" {
                    div class="row" {
                        label for="user" { "User" }
                        input id="user" name="user" value="piranha" autocomplete="username";
                    }
                    div class="row" {
                        label for="password" { "Password" }
                        input id="password" name="password" type="password" autocomplete="current-password";
                    }
                    button type="submit" id="login" { "Log in" }
                }
            }
        },
    )
}

/// A panel that edits one block's entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Panel {
    Global,
    Redundancy,
    Virtual {
        b: usize,
        new: bool,
    },
    Scripts {
        b: usize,
    },
    Server {
        b: usize,
        s: usize,
        new: bool,
    },
    /// A check block of a virtual block (`s` is `None`) or of one of its servers.
    Check {
        b: usize,
        s: Option<usize>,
        c: usize,
        new: bool,
    },
}

impl Panel {
    pub fn tab(self) -> &'static str {
        match self {
            Panel::Global => "global",
            Panel::Redundancy => "redundancy",
            _ => "virtual",
        }
    }

    pub fn place(self) -> Place {
        match self {
            Panel::Global | Panel::Redundancy => Place::Global,
            Panel::Virtual { b, .. } | Panel::Scripts { b } => Place::Block(b),
            Panel::Server { b, s, .. } => Place::Server(b, s),
            Panel::Check { b, s, c, .. } => Place::Check {
                block: b,
                server: s,
                check: c,
            },
        }
    }

    pub fn fields(self) -> &'static [Field] {
        match self {
            Panel::Global => fields::GLOBAL,
            Panel::Redundancy => fields::REDUNDANCY,
            Panel::Virtual { .. } => fields::VIRTUAL,
            Panel::Scripts { .. } => fields::SCRIPTS,
            Panel::Server { .. } => fields::SERVER,
            Panel::Check { .. } => fields::CHECK,
        }
    }

    pub fn url(self) -> String {
        match self {
            Panel::Global => "/global".to_owned(),
            Panel::Redundancy => "/redundancy".to_owned(),
            Panel::Virtual { new: true, .. } => "/virtual/new".to_owned(),
            Panel::Virtual { b, .. } => format!("/virtual/{b}"),
            Panel::Scripts { b } => format!("/virtual/{b}/scripts"),
            Panel::Server { b, new: true, .. } => format!("/virtual/{b}/servers/new"),
            Panel::Server { b, s, .. } => format!("/virtual/{b}/servers/{s}"),
            Panel::Check { b, s, c, new } => {
                let owner = match s {
                    Some(s) => format!("/virtual/{b}/servers/{s}"),
                    None => format!("/virtual/{b}"),
                };
                if new {
                    format!("{owner}/checks/new")
                } else {
                    format!("{owner}/checks/{c}")
                }
            }
        }
    }

    fn title(self, document: &Document) -> String {
        let block = |b: usize| {
            document
                .blocks
                .get(b)
                .map(|block| format!("{} {}", block.kind.keyword(), block.name))
                .unwrap_or_default()
        };
        match self {
            Panel::Global => "Global settings".to_owned(),
            Panel::Redundancy => "Redundancy".to_owned(),
            Panel::Virtual { new: true, .. } => "New virtual server".to_owned(),
            Panel::Virtual { b, .. } => format!("Virtual server: {}", block(b)),
            Panel::Scripts { b } => format!("Monitoring scripts: {}", block(b)),
            Panel::Server { b, new: true, .. } => format!("New real server of {}", block(b)),
            Panel::Server { b, s, .. } => format!(
                "Real server {} of {}",
                document
                    .blocks
                    .get(b)
                    .and_then(|x| x.servers.get(s))
                    .map_or("", |x| x.name.as_str()),
                block(b)
            ),
            Panel::Check { b, s, new, .. } => {
                let owner = match s.and_then(|s| document.blocks.get(b)?.servers.get(s)) {
                    Some(server) => format!("real server {} of {}", server.name, block(b)),
                    None => block(b),
                };
                match document.check_block(self.place()).filter(|_| !new) {
                    Some(check) => format!("Check {} of {owner}", check.name),
                    None => format!("New check of {owner}"),
                }
            }
        }
    }
}

/// The data of the control and monitoring panel.
pub struct ControlView {
    pub pulse: Daemon,
    pub lvs: Daemon,
    pub role: Option<monitor::Role>,
    pub status: Result<Status, String>,
    /// The director's last hour, when it answers.
    pub history: Option<lvs_core::history::HistoryView>,
    pub processes: Vec<(u32, String)>,
    pub config_problem: Option<String>,
}

impl ControlView {
    pub fn gather(args: &WebOptions) -> ControlView {
        let parsed = lvs_cf::parse_file(&args.configfile, &lvs_cf::ParseOptions::default());
        let (role, config_problem) = match parsed {
            Ok(parsed) => (
                Some(monitor::role(&parsed.config, &monitor::local_addresses())),
                None,
            ),
            Err(e) => (None, Some(e.to_string())),
        };
        let status = monitor::lvs_status(&args.lvs_socket);
        // Every service's series, and the servers' of the first few.
        let scope = lvs_core::history::Scope::Every {
            with_servers: HISTORY_SERVICES,
        };
        let history = status
            .as_ref()
            .ok()
            .and_then(|_| lvs_daemon::status::history(&args.lvs_socket, scope).ok());
        ControlView {
            pulse: monitor::daemon(&args.pulse_pidfile),
            lvs: monitor::lvs_daemon(&args.lvs_pidfile, status.as_ref().ok()),
            role,
            status,
            history,
            processes: monitor::processes(),
            config_problem,
        }
    }
}

/// Services whose servers' series and timelines the monitoring page
/// shows; those after them show their own charts only, so that a large
/// table's page stays a page.
const HISTORY_SERVICES: usize = 20;

/// The most rows of an import's report the page shows.
const IMPORT_ROWS: usize = 2000;

/// `form`'s fields but those in `except` as hidden inputs, in a stable
/// order: a form sent again as it was.
fn hidden_fields(form: &std::collections::HashMap<String, String>, except: &[&str]) -> Markup {
    let mut fields: Vec<(&String, &String)> = form
        .iter()
        .filter(|(key, _)| !except.contains(&key.as_str()))
        .collect();
    fields.sort();
    html! {
        @for (key, value) in fields {
            input type="hidden" name=(key) value=(value);
        }
    }
}

/// A page of the tool, for one session.
pub struct Page<'s> {
    tab: &'static str,
    session: &'s SessionInfo,
}

impl<'s> Page<'s> {
    pub fn new(tab: &'static str, session: &'s SessionInfo) -> Page<'s> {
        Page { tab, session }
    }

    fn csrf(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.session.csrf); }
    }

    /// A one-button form that posts to `action`.
    fn button(&self, action: &str, label: &str, id: &str) -> Markup {
        self.button_at(action, label, id, None)
    }

    /// A one-button form that changes the file as it was at `serial`.
    fn button_at(&self, action: &str, label: &str, id: &str, serial: Option<&str>) -> Markup {
        html! {
            form class="inline" method="post" action=(action) {
                (self.csrf())
                @if let Some(serial) = serial { (serial_field(serial)) }
                button type="submit" id=(id) { (label) }
            }
        }
    }

    fn render(&self, title: &str, head_extra: Markup, content: Markup) -> Response {
        let tabs = [
            ("control", "/control", "Control/Monitoring"),
            ("global", "/global", "Global settings"),
            ("redundancy", "/redundancy", "Redundancy"),
            ("virtual", "/virtual", "Virtual servers"),
            ("import", "/import", "Import"),
        ];
        let body = html! {
            header {
                h1 { "lvs-web: LVS router configuration" }
                span { (self.session.user) " " (self.button("/logout", "Log out", "logout")) }
            }
            nav {
                @for (id, href, label) in tabs {
                    a href=(href) id={ "tab-" (id) } class=[(id == self.tab).then_some("on")] { (label) }
                }
            }
            main {
                h2 { (title) }
                (content)
            }
        };
        document_html(title, head_extra, body).into_response()
    }

    fn note(saved: Option<&str>) -> Markup {
        html! {
            @if let Some(saved) = saved { p class="note" id="note" { (saved) } }
        }
    }

    /// A page with `message` as its one problem, answered with `status`.
    fn refusal(&self, title: &str, message: Markup, status: StatusCode) -> Response {
        let mut response = self.render(title, html! {}, message);
        *response.status_mut() = status;
        response
    }

    /// What a reload to the file a form would save does, before it is
    /// saved: the plan (or why the daemon would refuse the file), and the
    /// same form again, marked seen, to save it; or back to `next`.
    pub fn plan_before_saving(
        &self,
        plan: &lvs_core::preview::PlanAnswer,
        form: &std::collections::HashMap<String, String>,
        next: &str,
    ) -> Response {
        use lvs_core::preview::PlanAnswer;
        let content = html! {
            @match plan {
                PlanAnswer::Preview(preview) => {
                    p { "What the running lvs daemon does on a reload to the new file:" }
                    pre id="plan" { (preview.render_text()) }
                }
                PlanAnswer::Refused(why) => {
                    p class="problems" id="plan-refused" { "The running lvs daemon would refuse the new file: " (why) }
                }
                _ => { p id="plan" { "The running lvs daemon answered in a form this tool does not know." } }
            }
            // No action: the form goes back to the address that showed this page.
            form method="post" {
                (hidden_fields(form, &[crate::CONFIRMED]))
                input type="hidden" name=(crate::CONFIRMED) value="1";
                button type="submit" id="confirm-save" { "Save" }
                " "
                a href=(next) id="cancel" { "Cancel" }
            }
        };
        self.render("Before saving", html! {}, content)
    }

    /// The import form: another director's file pasted in, the routers it
    /// does not name, and the error of the last attempt (`problem`).
    pub fn import_form(
        &self,
        form: &std::collections::HashMap<String, String>,
        problem: Option<&str>,
    ) -> Response {
        let value = |key: &str| form.get(key).map_or("", String::as_str);
        let source = form.get("source").map_or("keepalived", String::as_str);
        let content = html! {
            p {
                "Paste a keepalived.conf or ldirectord.cf: the report shows what becomes of each of its directives, \
                 and the lvs.cf it makes, before anything is saved. Saving replaces lvs.cf (the old one is kept \
                 beside it). Includes are not read here: run " code { "lvsd import" } " on the router for a file \
                 with includes."
            }
            @if let Some(problem) = problem { p class="problems" id="problems" { (problem) } }
            form method="post" action="/import" {
                (self.csrf())
                label {
                    "From "
                    select name="source" id="source" {
                        @for name in ["keepalived", "ldirectord"] {
                            option value=(name) selected[source == name] { (name) }
                        }
                    }
                }
                label { "Primary router " input name="primary" id="primary" value=(value("primary")); }
                label { "Backup router " input name="backup" id="backup" value=(value("backup")); }
                label { "VIP device " input name="vip_device" id="vip_device" value=(value("vip_device")) placeholder="eth0"; }
                label { "keepalived config id " input name="config_id" id="config_id" value=(value("config_id")); }
                // The newline after the tag is the one HTML drops, so that
                // a text starting with one keeps it.
                label { "The file (up to 1 MiB) " textarea name="text" id="text" rows="24" cols="100" { "\n" (value("text")) } }
                button type="submit" id="import" { "Import" }
            }
        };
        self.render("Import another director's configuration", html! {}, content)
    }

    /// An import's report and the lvs.cf it makes, with the form again
    /// (marked to save) and the problems a save found (`problems`).
    pub fn import_report(
        &self,
        imported: &lvs_import::Imported,
        form: &std::collections::HashMap<String, String>,
        version: &str,
        problems: &[lvs_cf::edit::Problem],
    ) -> Response {
        let entries = &imported.report.entries;
        let (mapped, approximated, dropped) = imported.report.counts();
        let findings: Vec<String> = imported
            .report
            .check
            .iter()
            .map(ToString::to_string)
            .chain(problems.iter().map(|p| p.message.clone()))
            .collect();
        let content = html! {
            p id="counts" {
                (entries.len()) " directives: " (mapped) " mapped, " (approximated) " approximated, " (dropped) " dropped"
            }
            @if !findings.is_empty() {
                ul class="problems" id="problems" { @for finding in &findings { li { (finding) } } }
            }
            table id="report" {
                tr { th { "line" } th { "fate" } th { "directive" } th { "how" } }
                @for entry in entries.iter().take(IMPORT_ROWS) {
                    tr class=(entry.fate.word()) {
                        td { (entry.at.line) }
                        td { (entry.fate.word()) }
                        td { code { (entry.directive) } }
                        td { (entry.fate.how()) }
                    }
                }
                @if entries.len() > IMPORT_ROWS {
                    tr {
                        td colspan="4" {
                            (entries.len() - IMPORT_ROWS) " more, not shown: run lvsd import on the router for the whole report"
                        }
                    }
                }
            }
            h3 { "The lvs.cf it makes" }
            pre id="lvs-cf" { (lvs_cf::write(&imported.config)) }
            // The save form: the fields as sent, the file's version as shown now.
            form method="post" action="/import" {
                (self.csrf())
                (serial_field(version))
                (hidden_fields(form, &["save", crate::CONFIRMED, "serial", "csrf"]))
                input type="hidden" name="save" value="1";
                button type="submit" id="save-import" { "Save as lvs.cf" }
                " "
                a href="/import" id="cancel" { "Cancel" }
            }
        };
        self.render("Import: the report", html! {}, content)
    }

    pub fn failure(&self, message: &str) -> Response {
        self.refusal(
            "Cannot go on",
            html! { p class="problems" id="problems" { (message) } },
            StatusCode::INTERNAL_SERVER_ERROR,
        )
    }

    pub fn missing(&self) -> Response {
        self.refusal(
            "Not found",
            html! { p class="problems" { "No such virtual or real server (the file may have changed)." } },
            StatusCode::NOT_FOUND,
        )
    }

    /// A change made from a page older than the file: refused.
    pub fn stale(&self, now: &str) -> Response {
        self.refusal(
            "Not saved",
            html! {
                p class="problems" id="problems" {
                    "lvs.cf changed since this page was shown (its serial_no is now " (now)
                    "): nothing was changed. Reload the page and make the change again."
                }
            },
            StatusCode::CONFLICT,
        )
    }

    pub fn problems(&self, problems: &[Problem]) -> Response {
        self.refusal(
            "Not saved",
            problem_list(problems),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
    }

    pub fn control(&self, view: &ControlView, refresh: Option<u32>, note: Option<&str>) -> Response {
        let daemon = |d: &Daemon| match d {
            Daemon::Running(pid) => html! { span class="up" { "running" } " (pid " (pid) ")" },
            Daemon::NotRunning => html! { span class="down" { "not running" } },
        };
        let content = html! {
            (Self::note(note))
            table id="daemons" {
                tr { th { "pulse" } td id="pulse-state" { (daemon(&view.pulse)) } }
                tr { th { "lvs" } td id="lvs-state" { (daemon(&view.lvs)) } }
                @if let Some(role) = &view.role {
                    tr {
                        th { "this router" }
                        td id="router-role" { (role.router.unwrap_or("neither primary nor backup (no local address matches)")) }
                    }
                    tr {
                        th { "state" }
                        td id="router-state" {
                            @if role.active() {
                                span class="up" { "active: this router holds the virtual IPs" }
                            } @else {
                                "standby: the virtual IPs are not on this router"
                            }
                        }
                    }
                    tr {
                        th { "virtual IPs" }
                        td {
                            @for (i, (ip, up)) in role.vips.iter().enumerate() {
                                @if i > 0 { ", " }
                                (ip) " (" (if *up { "here" } else { "not here" }) ")"
                            }
                        }
                    }
                }
            }
            @if let Some(problem) = &view.config_problem { p class="problems" { (problem) } }
            h3 { "LVS routing table" }
            @match &view.status {
                Ok(status) => {
                    (status_table(status))
                    h3 { "Topology" }
                    (crate::pictures::topology(
                        view.role.as_ref().and_then(|r| r.router).unwrap_or("this router"),
                        view.role.as_ref().is_some_and(monitor::Role::active),
                        status,
                    ))
                    h3 { "The last hour" }
                    @match &view.history {
                        Some(history) => (crate::pictures::history(history)),
                        None => p id="no-history" { "The lvs daemon keeps no history." },
                    }
                }
                Err(e) => p id="no-status" { (e) },
            }
            h3 { "LVS processes" }
            table id="processes" {
                tr { th { "pid" } th { "command" } }
                @for (pid, command) in &view.processes { tr { td { (pid) } td { (command) } } }
            }
            form method="get" action="/control" {
                label for="refresh" { "Auto update" }
                input type="checkbox" id="refresh" name="refresh" value="1" checked[refresh.is_some()];
                div class="row" {
                    label for="every" { "Update frequency in seconds" }
                    input id="every" name="every" type="number" min="1" value=(refresh.unwrap_or(10));
                    span class="help" { "under 10 is not recommended" }
                }
                button type="submit" id="update" { "Update information now" }
            }
            p {
                (self.button("/control/reload", "Reload pulse and lvs", "reload"))
                " "
                span class="help" { "pulse passes the signal on to lvs; both re-read lvs.cf and apply only what changed" }
            }
        };
        let head = html! {
            @if let Some(seconds) = refresh { meta http-equiv="refresh" content=(seconds); }
        };
        self.render("Control/Monitoring", head, content)
    }

    /// A panel's form, showing `document`'s values and `problems` beside
    /// their fields.
    pub fn panel(
        &self,
        panel: Panel,
        document: &Document,
        problems: &[Problem],
        saved: Option<&str>,
    ) -> Response {
        let place = panel.place();
        let Some(entries) = document.entries(place) else {
            return self.missing();
        };
        let on_field = |p: &Problem, key: &str| p.place == Some(place) && p.key.as_deref() == Some(key);
        let errors = |key: &str| -> Vec<&str> {
            problems
                .iter()
                .filter(|p| on_field(p, key))
                .map(|p| p.message.as_str())
                .collect()
        };
        let elsewhere: Vec<Problem> = problems
            .iter()
            .filter(|p| !(p.place == Some(place) && panel_has(panel, p.key.as_deref())))
            .cloned()
            .collect();
        let linked = match panel {
            Panel::Virtual { b, new: false }
            | Panel::Scripts { b }
            | Panel::Server { b, .. }
            | Panel::Check { b, .. } => Some(b),
            _ => None,
        };
        let name = match place {
            Place::Global => None,
            Place::Server(b, s) => Some(
                document
                    .blocks
                    .get(b)
                    .and_then(|x| x.servers.get(s))
                    .map(|x| x.name.clone()),
            ),
            Place::Check { .. } => Some(document.check_block(place).map(|x| x.name.clone())),
            Place::Block(b) => Some(document.blocks.get(b).map(|x| x.name.clone())),
            Place::KeyBlock(k) => Some(
                document
                    .key_blocks
                    .get(k)
                    .map(|x| format!("{} {}", x.keyword, x.name)),
            ),
        };
        let content = html! {
            (Self::note(saved))
            @if !problems.is_empty() {
                p class="problems" id="problems" { "Not saved: the configuration has errors (shown beside their fields)." }
                (problem_list(&elsewhere))
            }
            @if let Some(b) = linked { (block_links(b)) }
            form method="post" action=(panel.url()) id="panel" {
                (self.csrf())
                (serial_field(&version_before(panel, document)))
                @if let Panel::Virtual { b, new: true } = panel {
                    input type="hidden" name="kind" value=(document.blocks.get(b).map_or("virtual", |x| x.kind.keyword()));
                }
                @if let Panel::Global = panel {
                    div class="row" {
                        label { "Serial number" }
                        span id="serial_no" { (value_of(entries, "serial_no").unwrap_or("0")) }
                        span class="help" { "counted up on every save" }
                    }
                }
                @if let Some(name) = name {
                    div class="row" {
                        label for="name" { "Name" }
                        input id="name" name="name" value=(name.unwrap_or_default()) size="30";
                        @for message in errors("name") { (error_span(message)) }
                    }
                }
                @for field in panel.fields() { (field_html(field, entries, &errors(field.key))) }
                div class="row" {
                    label for="reload" { "Reload pulse and lvs after saving" }
                    input type="checkbox" id="reload" name="reload" value="1";
                }
                button type="submit" id="accept" { "Accept" }
            }
        };
        let title = panel.title(document);
        let mut response = self.render(&title, html! {}, content);
        if !problems.is_empty() {
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        }
        response
    }

    /// A deactivate-or-activate button and a delete button for the block
    /// or server at `url`, `active` now, changing the file at `serial`.
    fn toggle_and_delete(&self, url: &str, active: bool, id: &str, serial: &str) -> Markup {
        html! {
            (self.button_at(&format!("{url}/toggle"), if active { "Deactivate" } else { "Activate" }, &format!("toggle-{id}"), Some(serial)))
            " "
            (self.button_at(&format!("{url}/delete"), "Delete", &format!("delete-{id}"), Some(serial)))
        }
    }

    pub fn virtual_list(&self, document: &Document, saved: Option<&str>) -> Response {
        let version = version_of(document);
        let content = html! {
            (Self::note(saved))
            table id="virtual-servers" {
                tr {
                    th { "status" } th { "kind" } th { "name" } th { "virtual IP" } th { "netmask" }
                    th { "port" } th { "protocol" } th { "interface" } th { "real servers" } th {}
                }
                @for (b, block) in document.blocks.iter().enumerate() {
                    @let get = |key| value_of(&block.entries, key).map(lvs_cf::unquote).unwrap_or("");
                    @let active = get("active") == "1";
                    @let address = get("address");
                    @let (ip, device) = address.split_once(' ').unwrap_or((address, ""));
                    @let word = if active { "up" } else { "down" };
                    tr id={ "vs-" (b) } {
                        td class=(word) { (word) }
                        td { (block.kind.keyword()) }
                        td { a href={ "/virtual/" (b) } { (block.name) } }
                        td { (ip) }
                        td { (get("vip_nmask")) }
                        td { (get("port")) }
                        td { (if get("protocol").is_empty() { "tcp" } else { get("protocol") }) }
                        td { (device) }
                        td { a href={ "/virtual/" (b) "/servers" } { (block.servers.len()) } }
                        td {
                            (self.toggle_and_delete(&format!("/virtual/{b}"), active, &b.to_string(), &version))
                            " "
                            a href={ "/virtual/" (b) "/scripts" } { "monitoring scripts" }
                        }
                    }
                }
            }
            p {
                a href="/virtual/new" id="add-virtual" { "Add a virtual server" }
                " | "
                a href="/virtual/new?kind=failover" id="add-failover" { "Add a failover service" }
            }
        };
        self.render("Virtual servers", html! {}, content)
    }

    pub fn servers_list(&self, document: &Document, b: usize, saved: Option<&str>) -> Response {
        let version = version_of(document);
        let Some(block) = document.blocks.get(b) else {
            return self.missing();
        };
        let content = html! {
            (Self::note(saved))
            (block_links(b))
            table id="real-servers" {
                tr { th { "status" } th { "name" } th { "address" } th { "port" } th { "weight" } th {} }
                @for (s, server) in block.servers.iter().enumerate() {
                    @let get = |key| value_of(&server.entries, key).map(lvs_cf::unquote).unwrap_or("");
                    @let active = get("active") == "1";
                    @let word = if active { "up" } else { "down" };
                    tr id={ "rs-" (s) } {
                        td class=(word) { (word) }
                        td { a href={ "/virtual/" (b) "/servers/" (s) } { (server.name) } }
                        td { (get("address")) }
                        td { (get("port")) }
                        td { (get("weight")) }
                        td { (self.toggle_and_delete(&format!("/virtual/{b}/servers/{s}"), active, &format!("rs-{s}"), &version)) }
                    }
                }
            }
            p { a href={ "/virtual/" (b) "/servers/new" } id="add-server" { "Add a real server" } }
        };
        self.render(
            &format!("Real servers of {} {}", block.kind.keyword(), block.name),
            html! {},
            content,
        )
    }

    /// A virtual block's checks and its servers' own, each with its edit
    /// and delete, and links to add one to the block or to a server.
    pub fn checks_list(&self, document: &Document, b: usize, saved: Option<&str>) -> Response {
        let version = version_of(document);
        let Some(block) = document.blocks.get(b) else {
            return self.missing();
        };
        let owners: Vec<(Option<usize>, String, &Vec<lvs_cf::edit::CheckEntries>)> =
            std::iter::once((None, "the virtual server".to_owned(), &block.checks))
                .chain(
                    block
                        .servers
                        .iter()
                        .enumerate()
                        .map(|(s, server)| (Some(s), format!("real server {}", server.name), &server.checks)),
                )
                .collect();
        let content = html! {
            (Self::note(saved))
            (block_links(b))
            p {
                "Every server is checked by the virtual server's checks, or by its own when it has any; all of a \
                 server's checks must pass. Without any, Piranha's check (monitoring scripts) runs."
            }
            table id="check-list" {
                tr { th { "of" } th { "name" } th { "type" } th { "where" } th {} }
                @for (s, owner, checks) in &owners {
                    @for (c, check) in checks.iter().enumerate() {
                        @let panel = Panel::Check { b, s: *s, c, new: false };
                        @let get = |key| value_of(&check.entries, key).map(lvs_cf::unquote).unwrap_or("");
                        @let id = match s { Some(s) => format!("{s}-{c}"), None => format!("vs-{c}") };
                        tr id={ "check-" (id) } {
                            td { (owner) }
                            td { a href=(panel.url()) { (check.name) } }
                            td { (if get("type").is_empty() { "tcp" } else { get("type") }) }
                            td { ([get("address"), get("port")].join(" ").trim()) }
                            td { (self.button_at(&format!("{}/delete", panel.url()), "Delete", &format!("delete-check-{id}"), Some(&version))) }
                        }
                    }
                }
            }
            p {
                "Add a check: "
                a href={ "/virtual/" (b) "/checks/new" } id="add-check" { "to the virtual server" }
                @for (s, server) in block.servers.iter().enumerate() {
                    " | "
                    a href={ "/virtual/" (b) "/servers/" (s) "/checks/new" } id={ "add-check-" (s) } { "to " (server.name) }
                }
            }
        };
        self.render(
            &format!("Checks of {} {}", block.kind.keyword(), block.name),
            html! {},
            content,
        )
    }
}

/// The links between a virtual block's pages.
fn block_links(b: usize) -> Markup {
    html! {
        p {
            a href={ "/virtual/" (b) } { "Virtual server" }
            " | "
            a href={ "/virtual/" (b) "/servers" } { "Real servers" }
            " | "
            a href={ "/virtual/" (b) "/checks" } id="checks" { "Checks" }
            " | "
            a href={ "/virtual/" (b) "/scripts" } id="scripts" { "Monitoring scripts" }
        }
    }
}

/// The file's `serial_no`, which a change must still find (else the page
/// was stale: another save came between).
pub fn serial_of(document: &Document) -> &str {
    value_of(&document.globals, "serial_no").unwrap_or("0")
}

pub use crate::store::version as version_of;

/// The version a panel's form carries: the file's. A new block or server
/// is only in the page's document, not yet in the file, so the version is
/// that of the document without it.
fn version_before(panel: Panel, document: &Document) -> String {
    let mut file = document.clone();
    match panel {
        Panel::Virtual { b, new: true } if b < file.blocks.len() => {
            file.blocks.remove(b);
        }
        Panel::Server { b, s, new: true } => {
            if let Some(block) = file.blocks.get_mut(b).filter(|block| s < block.servers.len()) {
                block.servers.remove(s);
            }
        }
        Panel::Check { new: true, .. } => {
            file.remove_check(panel.place());
        }
        _ => return version_of(document),
    }
    version_of(&file)
}

fn serial_field(version: &str) -> Markup {
    html! { input type="hidden" name="serial" value=(version); }
}

fn panel_has(panel: Panel, key: Option<&str>) -> bool {
    let Some(key) = key else { return false };
    (key == "name" && !matches!(panel, Panel::Global | Panel::Redundancy))
        || panel.fields().iter().any(|f| f.key == key)
}

fn error_span(message: &str) -> Markup {
    html! { span class="error" { (message) } }
}

/// Where a problem is, in words, before its message.
fn problem_place(problem: &Problem) -> String {
    match (problem.place, &problem.key) {
        (Some(Place::Global), Some(key)) => format!("{key}: "),
        (Some(Place::Block(b)), Some(key)) => format!("virtual server #{} {key}: ", b + 1),
        (Some(Place::Server(b, s)), Some(key)) => {
            format!("virtual server #{} real server #{} {key}: ", b + 1, s + 1)
        }
        _ => String::new(),
    }
}

fn problem_list(problems: &[Problem]) -> Markup {
    html! {
        @if !problems.is_empty() {
            ul class="problems" id="other-problems" {
                @for problem in problems { li { (problem_place(problem)) (problem.message) } }
            }
        }
    }
}

fn field_html(field: &Field, entries: &[lvs_cf::edit::Entry], errors: &[&str]) -> Markup {
    let (value, second) = fields::shown(field, entries);
    let key = field.key;
    let device = format!("{key}{DEVICE_SUFFIX}");
    html! {
        div class="row" {
            label for=(key) title=(key) { (field.label) }
            @match field.kind {
                Kind::Flag(_) | Kind::Switch(_) => {
                    // The hidden 0 goes first: a checked box's 1 comes later and wins.
                    input type="hidden" name=(key) value="0";
                    input type="checkbox" id=(key) name=(key) value="1" checked[value == "1"];
                }
                Kind::Choice(options) => {
                    select id=(key) name=(key) {
                        option value="" { "(default)" }
                        @for option in options { option selected[value == *option] { (option) } }
                        @if !value.is_empty() && !options.contains(&value.as_str()) {
                            option selected { (value) }
                        }
                    }
                }
                Kind::AddressAndDevice => {
                    input id=(key) name=(key) value=(value) size="24";
                    " device "
                    input id=(device) name=(device) value=(second) size="10";
                }
                Kind::Word | Kind::Text | Kind::Tokens => {
                    input id=(key) name=(key) value=(value) size="40";
                }
            }
            @if !field.help.is_empty() { span class="help" { (field.help) } }
            @for message in errors { (error_span(message)) }
        }
    }
}

/// The lvs daemon's status as a table: each service, its servers, health,
/// last check, weight and counters.
fn status_table(status: &Status) -> Markup {
    html! {
        table id="ipvs-table" {
            tr {
                th { "virtual service" } th { "real server" } th { "health" } th { "last check" } th { "weight" }
                th { "active conns" } th { "inactive conns" } th { "connections" } th { "bytes in" } th { "bytes out" }
            }
            @for service in &status.services {
                tr class="service" {
                    td { b { (service.name) } " " (service.service) " (" (service.scheduler) ")" }
                    td colspan="6" {}
                    td { (service.connections) }
                    td { (service.in_bytes) }
                    td { (service.out_bytes) }
                }
                @for server in &service.servers {
                    @let health = server.health.as_str();
                    tr class="server" {
                        td {}
                        td { (server.name) " " (server.address) ":" (server.port) }
                        td class=(if health == "up" { "up" } else { "down" }) {
                            (health)
                            // An operator's hold shows beside the checks' word (lvs --drain, --disable).
                            @if let Some(words) = server.hold_words() { ", " (words) }
                        }
                        td {
                            @match &server.last_check {
                                None => "none yet",
                                Some(check) => { (check.result) " (" (format!("{:.0}", check.seconds_ago)) " s ago)" }
                            }
                        }
                        td { @if let Some(weight) = server.weight { (weight) } }
                        td { (server.active_connections) }
                        td { (server.inactive_connections) }
                        td { (server.connections) }
                        td { (server.in_bytes) }
                        td { (server.out_bytes) }
                    }
                }
                @if let Some(sorry) = &service.sorry_server {
                    tr {
                        td {}
                        td colspan="9" {
                            "sorry server " (sorry.address) ":" (sorry.port) " "
                            (if sorry.in_use { "(in use)" } else { "(standing by)" })
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_queries_encoded() {
        let text = "<a href=\"x\">'&'</a>";
        assert_eq!(
            html! { p title=(text) { (text) } }.into_string(),
            "<p title=\"&lt;a href=&quot;x&quot;&gt;'&amp;'&lt;/a&gt;\">&lt;a href=&quot;x&quot;&gt;'&amp;'&lt;/a&gt;</p>"
        );
        assert_eq!(url_encode("saved a/b"), "saved%20a%2Fb");
    }
}
