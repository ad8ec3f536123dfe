//! The HTML of each panel, rendered on the server. Every form carries the
//! session's CSRF token; every value is escaped.

use std::fmt::Write as _;

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use lvs_core::status::Status;

use super::auth::SessionInfo;
use super::fields::{self, Field, Kind, DEVICE_SUFFIX};
use super::monitor::{self, Daemon};
use super::WebOptions;
use lvs_cf::edit::{value_of, Document, Place, Problem};

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

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
form.inline{display:inline}.up{color:#070}.down{color:#b00020}button{margin:.2em}";

fn document_html(title: &str, head_extra: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} - lvs-web</title>{head_extra}<style>{STYLE}</style></head><body>{body}</body></html>",
        escape(title)
    )
}

pub fn login(error: Option<&str>) -> Html<String> {
    let error = error.map_or(String::new(), |e| {
        format!("<p class=\"problems\" id=\"login-error\">{}</p>", escape(e))
    });
    Html(document_html(
        "Login",
        "",
        &format!(
            "<header><h1>lvs-web: LVS router configuration</h1></header><main>{error}\
             <form method=\"post\" action=\"/login\">\
             <div class=\"row\"><label for=\"user\">User</label><input id=\"user\" name=\"user\" value=\"piranha\" autocomplete=\"username\"></div>\
             <div class=\"row\"><label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\"></div>\
             <button type=\"submit\" id=\"login\">Log in</button></form></main>"
        ),
    ))
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
        ControlView {
            pulse: monitor::daemon(&args.pulse_pidfile),
            lvs: monitor::lvs_daemon(&args.lvs_pidfile, status.as_ref().ok()),
            role,
            status,
            processes: monitor::processes(),
            config_problem,
        }
    }
}

/// The most rows of an import's report the page shows.
const IMPORT_ROWS: usize = 2000;

/// `form`'s fields but those in `except` as hidden inputs, in a stable
/// order: a form sent again as it was.
fn hidden_fields(form: &std::collections::HashMap<String, String>, except: &[&str]) -> String {
    let mut fields: Vec<(&String, &String)> = form
        .iter()
        .filter(|(key, _)| !except.contains(&key.as_str()))
        .collect();
    fields.sort();
    let mut hidden = String::new();
    for (key, value) in fields {
        let _ = write!(
            hidden,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(key),
            escape(value)
        );
    }
    hidden
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

    fn csrf(&self) -> String {
        format!(
            "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
            escape(&self.session.csrf)
        )
    }

    /// A one-button form that posts to `action`.
    fn button(&self, action: &str, label: &str, id: &str) -> String {
        self.button_at(action, label, id, None)
    }

    /// A one-button form that changes the file as it was at `serial`.
    fn button_at(&self, action: &str, label: &str, id: &str, serial: Option<&str>) -> String {
        format!(
            "<form class=\"inline\" method=\"post\" action=\"{}\">{}{}<button type=\"submit\" id=\"{}\">{}</button></form>",
            escape(action),
            self.csrf(),
            serial.map(serial_field).unwrap_or_default(),
            escape(id),
            escape(label)
        )
    }

    fn render(&self, title: &str, head_extra: &str, content: &str) -> Response {
        let tabs = [
            ("control", "/control", "Control/Monitoring"),
            ("global", "/global", "Global settings"),
            ("redundancy", "/redundancy", "Redundancy"),
            ("virtual", "/virtual", "Virtual servers"),
            ("import", "/import", "Import"),
        ];
        let mut nav = String::new();
        for (id, href, label) in tabs {
            let class = if id == self.tab { " class=\"on\"" } else { "" };
            let _ = write!(nav, "<a href=\"{href}\" id=\"tab-{id}\"{class}>{label}</a>");
        }
        let body = format!(
            "<header><h1>lvs-web: LVS router configuration</h1><span>{} {}</span></header><nav>{nav}</nav><main><h2>{}</h2>{content}</main>",
            escape(&self.session.user),
            self.button("/logout", "Log out", "logout"),
            escape(title)
        );
        Html(document_html(title, head_extra, &body)).into_response()
    }

    fn note(saved: Option<&str>) -> String {
        saved.map_or(String::new(), |s| {
            format!("<p class=\"note\" id=\"note\">{}</p>", escape(s))
        })
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
        let shown = match plan {
            PlanAnswer::Preview(preview) => format!(
                "<p>What the running lvs daemon does on a reload to the new file:</p><pre id=\"plan\">{}</pre>",
                escape(&preview.render_text())
            ),
            PlanAnswer::Refused(why) => format!(
                "<p class=\"problems\" id=\"plan-refused\">The running lvs daemon would refuse the new file: {}</p>",
                escape(why)
            ),
            _ => "<p id=\"plan\">The running lvs daemon answered in a form this tool does not know.</p>".to_owned(),
        };
        let hidden = hidden_fields(form, &[crate::CONFIRMED]);
        // No action: the form goes back to the address that showed this page.
        let content = format!(
            "{shown}<form method=\"post\">{hidden}<input type=\"hidden\" name=\"{}\" value=\"1\">\
             <button type=\"submit\" id=\"confirm-save\">Save</button> <a href=\"{}\" id=\"cancel\">Cancel</a></form>",
            crate::CONFIRMED,
            escape(next)
        );
        self.render("Before saving", "", &content)
    }

    /// The import form: another director's file pasted in, the routers it
    /// does not name, and the error of the last attempt (`problem`).
    pub fn import_form(
        &self,
        form: &std::collections::HashMap<String, String>,
        problem: Option<&str>,
    ) -> Response {
        let value = |key: &str| escape(form.get(key).map_or("", String::as_str));
        let source = form.get("source").map_or("keepalived", String::as_str);
        let option = |name: &str| {
            let selected = if source == name { " selected" } else { "" };
            format!("<option value=\"{name}\"{selected}>{name}</option>")
        };
        let problem = problem.map_or(String::new(), |p| {
            format!("<p class=\"problems\" id=\"problems\">{}</p>", escape(p))
        });
        let content = format!(
            "<p>Paste a keepalived.conf or ldirectord.cf: the report shows what becomes of each of its directives, \
             and the lvs.cf it makes, before anything is saved. Saving replaces lvs.cf (the old one is kept \
             beside it). Includes are not read here: run <code>lvsd import</code> on the router for a file \
             with includes.</p>{problem}\
             <form method=\"post\" action=\"/import\">{}\
             <label>From <select name=\"source\" id=\"source\">{}{}</select></label>\
             <label>Primary router <input name=\"primary\" id=\"primary\" value=\"{}\"></label>\
             <label>Backup router <input name=\"backup\" id=\"backup\" value=\"{}\"></label>\
             <label>VIP device <input name=\"vip_device\" id=\"vip_device\" value=\"{}\" placeholder=\"eth0\"></label>\
             <label>keepalived config id <input name=\"config_id\" id=\"config_id\" value=\"{}\"></label>\
             <label>The file (up to 1 MiB) <textarea name=\"text\" id=\"text\" rows=\"24\" cols=\"100\">\n{}</textarea></label>\
             <button type=\"submit\" id=\"import\">Import</button></form>",
            self.csrf(),
            option("keepalived"),
            option("ldirectord"),
            value("primary"),
            value("backup"),
            value("vip_device"),
            value("config_id"),
            value("text"),
        );
        self.render("Import another director's configuration", "", &content)
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
        let mut rows = String::new();
        let entries = &imported.report.entries;
        for entry in entries.iter().take(IMPORT_ROWS) {
            let _ = write!(
                rows,
                "<tr class=\"{}\"><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                entry.fate.word(),
                entry.at.line,
                entry.fate.word(),
                escape(&entry.directive),
                escape(entry.fate.how())
            );
        }
        if entries.len() > IMPORT_ROWS {
            let _ = write!(
                rows,
                "<tr><td colspan=\"4\">{} more, not shown: run lvsd import on the router for the whole report</td></tr>",
                entries.len() - IMPORT_ROWS
            );
        }
        let (mapped, approximated, dropped) = imported.report.counts();
        let mut findings = String::new();
        for diagnostic in &imported.report.check {
            let _ = write!(findings, "<li>{}</li>", escape(&diagnostic.to_string()));
        }
        for problem in problems {
            let _ = write!(findings, "<li>{}</li>", escape(&problem.message));
        }
        let findings = if findings.is_empty() {
            String::new()
        } else {
            format!("<ul class=\"problems\" id=\"problems\">{findings}</ul>")
        };
        // The save form: the fields as sent, the file's version as shown now.
        let hidden = hidden_fields(form, &["save", crate::CONFIRMED, "serial", "csrf"]);
        let content = format!(
            "<p id=\"counts\">{} directives: {mapped} mapped, {approximated} approximated, {dropped} dropped</p>{findings}\
             <table id=\"report\"><tr><th>line</th><th>fate</th><th>directive</th><th>how</th></tr>{rows}</table>\
             <h3>The lvs.cf it makes</h3><pre id=\"lvs-cf\">{}</pre>\
             <form method=\"post\" action=\"/import\">{}{}{hidden}<input type=\"hidden\" name=\"save\" value=\"1\">\
             <button type=\"submit\" id=\"save-import\">Save as lvs.cf</button> <a href=\"/import\" id=\"cancel\">Cancel</a></form>",
            imported.report.entries.len(),
            escape(&lvs_cf::write(&imported.config)),
            self.csrf(),
            serial_field(version),
        );
        self.render("Import: the report", "", &content)
    }

    pub fn failure(&self, message: &str) -> Response {
        let mut response = self.render(
            "Cannot go on",
            "",
            &format!("<p class=\"problems\" id=\"problems\">{}</p>", escape(message)),
        );
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        response
    }

    pub fn missing(&self) -> Response {
        let mut response = self.render(
            "Not found",
            "",
            "<p class=\"problems\">No such virtual or real server (the file may have changed).</p>",
        );
        *response.status_mut() = StatusCode::NOT_FOUND;
        response
    }

    /// A change made from a page older than the file: refused.
    pub fn stale(&self, now: &str) -> Response {
        let mut response = self.render(
            "Not saved",
            "",
            &format!(
                "<p class=\"problems\" id=\"problems\">lvs.cf changed since this page was shown (its serial_no is now {}): nothing was changed. Reload the page and make the change again.</p>",
                escape(now)
            ),
        );
        *response.status_mut() = StatusCode::CONFLICT;
        response
    }

    pub fn problems(&self, problems: &[Problem]) -> Response {
        let mut response = self.render("Not saved", "", &problem_list(problems, |_| true));
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        response
    }

    pub fn control(&self, view: &ControlView, refresh: Option<u32>, note: Option<&str>) -> Response {
        let mut html = Self::note(note);
        let daemon = |d: &Daemon| match d {
            Daemon::Running(pid) => format!("<span class=\"up\">running</span> (pid {pid})"),
            Daemon::NotRunning => "<span class=\"down\">not running</span>".to_owned(),
        };
        let _ = write!(
            html,
            "<table id=\"daemons\"><tr><th>pulse</th><td id=\"pulse-state\">{}</td></tr><tr><th>lvs</th><td id=\"lvs-state\">{}</td></tr>",
            daemon(&view.pulse),
            daemon(&view.lvs)
        );
        if let Some(role) = &view.role {
            let router = role
                .router
                .unwrap_or("neither primary nor backup (no local address matches)");
            let state = if role.active() {
                "<span class=\"up\">active: this router holds the virtual IPs</span>"
            } else {
                "standby: the virtual IPs are not on this router"
            };
            let vips: Vec<String> = role
                .vips
                .iter()
                .map(|(ip, up)| format!("{ip} ({})", if *up { "here" } else { "not here" }))
                .collect();
            let _ = write!(
                html,
                "<tr><th>this router</th><td id=\"router-role\">{}</td></tr><tr><th>state</th><td id=\"router-state\">{state}</td></tr><tr><th>virtual IPs</th><td>{}</td></tr>",
                escape(router),
                escape(&vips.join(", "))
            );
        }
        html.push_str("</table>");
        if let Some(problem) = &view.config_problem {
            let _ = write!(html, "<p class=\"problems\">{}</p>", escape(problem));
        }
        html.push_str("<h3>LVS routing table</h3>");
        match &view.status {
            Ok(status) => html.push_str(&status_table(status)),
            Err(e) => {
                let _ = write!(html, "<p id=\"no-status\">{}</p>", escape(e));
            }
        }
        html.push_str("<h3>LVS processes</h3><table id=\"processes\"><tr><th>pid</th><th>command</th></tr>");
        for (pid, command) in &view.processes {
            let _ = write!(html, "<tr><td>{pid}</td><td>{}</td></tr>", escape(command));
        }
        html.push_str("</table>");
        let every = refresh.unwrap_or(10);
        let checked = if refresh.is_some() { " checked" } else { "" };
        let _ = write!(
            html,
            "<form method=\"get\" action=\"/control\"><label for=\"refresh\">Auto update</label><input type=\"checkbox\" id=\"refresh\" name=\"refresh\" value=\"1\"{checked}>\
             <div class=\"row\"><label for=\"every\">Update frequency in seconds</label><input id=\"every\" name=\"every\" type=\"number\" min=\"1\" value=\"{every}\"><span class=\"help\">under 10 is not recommended</span></div>\
             <button type=\"submit\" id=\"update\">Update information now</button></form>"
        );
        let _ = write!(
            html,
            "<p>{} <span class=\"help\">pulse passes the signal on to lvs; both re-read lvs.cf and apply only what changed</span></p>",
            self.button("/control/reload", "Reload pulse and lvs", "reload")
        );
        let head = refresh.map_or(String::new(), |s| {
            format!("<meta http-equiv=\"refresh\" content=\"{s}\">")
        });
        self.render("Control/Monitoring", &head, &html)
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
        let mut html = Self::note(saved);
        let elsewhere: Vec<Problem> = problems
            .iter()
            .filter(|p| !(p.place == Some(place) && panel_has(panel, p.key.as_deref())))
            .cloned()
            .collect();
        if !problems.is_empty() {
            html.push_str("<p class=\"problems\" id=\"problems\">Not saved: the configuration has errors (shown beside their fields).</p>");
            html.push_str(&problem_list(&elsewhere, |_| true));
        }
        if let Panel::Virtual { b, new: false }
        | Panel::Scripts { b }
        | Panel::Server { b, .. }
        | Panel::Check { b, .. } = panel
        {
            html.push_str(&block_links(b));
        }
        let _ = write!(
            html,
            "<form method=\"post\" action=\"{}\" id=\"panel\">{}{}",
            escape(&panel.url()),
            self.csrf(),
            serial_field(&version_before(panel, document))
        );
        if let Panel::Virtual { b, new: true } = panel {
            let kind = document.blocks.get(b).map_or("virtual", |x| x.kind.keyword());
            let _ = write!(html, "<input type=\"hidden\" name=\"kind\" value=\"{kind}\">");
        }
        if let Panel::Global = panel {
            let serial = value_of(entries, "serial_no").unwrap_or("0");
            let _ = write!(html, "<div class=\"row\"><label>Serial number</label><span id=\"serial_no\">{}</span><span class=\"help\">counted up on every save</span></div>", escape(serial));
        }
        if let Place::Block(b) | Place::Server(b, _) | Place::Check { block: b, .. } = place {
            let name = match place {
                Place::Server(_, s) => document
                    .blocks
                    .get(b)
                    .and_then(|x| x.servers.get(s))
                    .map(|x| x.name.clone()),
                Place::Check { .. } => document.check_block(place).map(|x| x.name.clone()),
                _ => document.blocks.get(b).map(|x| x.name.clone()),
            }
            .unwrap_or_default();
            let error = problems
                .iter()
                .filter(|p| on_field(p, "name"))
                .map(|p| error_span(&p.message))
                .collect::<String>();
            let _ = write!(
                html,
                "<div class=\"row\"><label for=\"name\">Name</label><input id=\"name\" name=\"name\" value=\"{}\" size=\"30\">{error}</div>",
                escape(&name)
            );
        }
        for field in panel.fields() {
            let errors: String = problems
                .iter()
                .filter(|p| on_field(p, field.key))
                .map(|p| error_span(&p.message))
                .collect();
            html.push_str(&field_html(field, entries, &errors));
        }
        html.push_str(
            "<div class=\"row\"><label for=\"reload\">Reload pulse and lvs after saving</label><input type=\"checkbox\" id=\"reload\" name=\"reload\" value=\"1\"></div>\
             <button type=\"submit\" id=\"accept\">Accept</button></form>",
        );
        let title = panel.title(document);
        let mut response = self.render(&title, "", &html);
        if !problems.is_empty() {
            *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        }
        response
    }

    pub fn virtual_list(&self, document: &Document, saved: Option<&str>) -> Response {
        let version = version_of(document);
        let serial = version.as_str();
        let mut html = Self::note(saved);
        html.push_str(
            "<table id=\"virtual-servers\"><tr><th>status</th><th>kind</th><th>name</th><th>virtual IP</th><th>netmask</th><th>port</th><th>protocol</th><th>interface</th><th>real servers</th><th></th></tr>",
        );
        for (b, block) in document.blocks.iter().enumerate() {
            let get = |key| value_of(&block.entries, key).map(lvs_cf::unquote).unwrap_or("");
            let active = get("active") == "1";
            let address = get("address");
            let (ip, device) = address.split_once(' ').unwrap_or((address, ""));
            let _ = write!(
                html,
                "<tr id=\"vs-{b}\"><td class=\"{}\">{}</td><td>{}</td><td><a href=\"/virtual/{b}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><a href=\"/virtual/{b}/servers\">{}</a></td><td>{} {} <a href=\"/virtual/{b}/scripts\">monitoring scripts</a></td></tr>",
                if active { "up" } else { "down" },
                if active { "up" } else { "down" },
                block.kind.keyword(),
                escape(&block.name),
                escape(ip),
                escape(get("vip_nmask")),
                escape(get("port")),
                escape(if get("protocol").is_empty() { "tcp" } else { get("protocol") }),
                escape(device),
                block.servers.len(),
                self.button_at(&format!("/virtual/{b}/toggle"), if active { "Deactivate" } else { "Activate" }, &format!("toggle-{b}"), Some(serial)),
                self.button_at(&format!("/virtual/{b}/delete"), "Delete", &format!("delete-{b}"), Some(serial)),
            );
        }
        html.push_str("</table>");
        html.push_str("<p><a href=\"/virtual/new\" id=\"add-virtual\">Add a virtual server</a> | <a href=\"/virtual/new?kind=failover\" id=\"add-failover\">Add a failover service</a></p>");
        self.render("Virtual servers", "", &html)
    }

    pub fn servers_list(&self, document: &Document, b: usize, saved: Option<&str>) -> Response {
        let version = version_of(document);
        let serial = version.as_str();
        let Some(block) = document.blocks.get(b) else {
            return self.missing();
        };
        let mut html = Self::note(saved);
        html.push_str(&block_links(b));
        let _ = write!(
            html,
            "<table id=\"real-servers\"><tr><th>status</th><th>name</th><th>address</th><th>port</th><th>weight</th><th></th></tr>"
        );
        for (s, server) in block.servers.iter().enumerate() {
            let get = |key| value_of(&server.entries, key).map(lvs_cf::unquote).unwrap_or("");
            let active = get("active") == "1";
            let _ = write!(
                html,
                "<tr id=\"rs-{s}\"><td class=\"{}\">{}</td><td><a href=\"/virtual/{b}/servers/{s}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{} {}</td></tr>",
                if active { "up" } else { "down" },
                if active { "up" } else { "down" },
                escape(&server.name),
                escape(get("address")),
                escape(get("port")),
                escape(get("weight")),
                self.button_at(&format!("/virtual/{b}/servers/{s}/toggle"), if active { "Deactivate" } else { "Activate" }, &format!("toggle-rs-{s}"), Some(serial)),
                self.button_at(&format!("/virtual/{b}/servers/{s}/delete"), "Delete", &format!("delete-rs-{s}"), Some(serial)),
            );
        }
        let _ = write!(
            html,
            "</table><p><a href=\"/virtual/{b}/servers/new\" id=\"add-server\">Add a real server</a></p>"
        );
        self.render(
            &format!("Real servers of {} {}", block.kind.keyword(), block.name),
            "",
            &html,
        )
    }
}

impl Page<'_> {
    /// A virtual block's checks and its servers' own, each with its edit
    /// and delete, and links to add one to the block or to a server.
    pub fn checks_list(&self, document: &Document, b: usize, saved: Option<&str>) -> Response {
        let version = version_of(document);
        let serial = version.as_str();
        let Some(block) = document.blocks.get(b) else {
            return self.missing();
        };
        let mut html = Self::note(saved);
        html.push_str(&block_links(b));
        html.push_str(
            "<p>Every server is checked by the virtual server's checks, or by its own when it has any; all of a server's checks must pass. Without any, Piranha's check (monitoring scripts) runs.</p>\
             <table id=\"check-list\"><tr><th>of</th><th>name</th><th>type</th><th>where</th><th></th></tr>",
        );
        let owners = std::iter::once((None, "the virtual server".to_owned(), &block.checks)).chain(
            block
                .servers
                .iter()
                .enumerate()
                .map(|(s, server)| (Some(s), format!("real server {}", server.name), &server.checks)),
        );
        for (s, owner, checks) in owners {
            for (c, check) in checks.iter().enumerate() {
                let panel = Panel::Check { b, s, c, new: false };
                let get = |key| value_of(&check.entries, key).map(lvs_cf::unquote).unwrap_or("");
                let kind = if get("type").is_empty() {
                    "tcp"
                } else {
                    get("type")
                };
                let at = [get("address"), get("port")].join(" ");
                let id = match s {
                    Some(s) => format!("{s}-{c}"),
                    None => format!("vs-{c}"),
                };
                let _ = write!(
                    html,
                    "<tr id=\"check-{id}\"><td>{}</td><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&owner),
                    escape(&panel.url()),
                    escape(&check.name),
                    escape(kind),
                    escape(at.trim()),
                    self.button_at(&format!("{}/delete", panel.url()), "Delete", &format!("delete-check-{id}"), Some(serial)),
                );
            }
        }
        html.push_str("</table><p>Add a check: ");
        let _ = write!(
            html,
            "<a href=\"/virtual/{b}/checks/new\" id=\"add-check\">to the virtual server</a>"
        );
        for (s, server) in block.servers.iter().enumerate() {
            let _ = write!(
                html,
                " | <a href=\"/virtual/{b}/servers/{s}/checks/new\" id=\"add-check-{s}\">to {}</a>",
                escape(&server.name)
            );
        }
        html.push_str("</p>");
        self.render(
            &format!("Checks of {} {}", block.kind.keyword(), block.name),
            "",
            &html,
        )
    }
}

/// The links between a virtual block's pages.
fn block_links(b: usize) -> String {
    format!(
        "<p><a href=\"/virtual/{b}\">Virtual server</a> | <a href=\"/virtual/{b}/servers\">Real servers</a> | \
         <a href=\"/virtual/{b}/checks\" id=\"checks\">Checks</a> | <a href=\"/virtual/{b}/scripts\" id=\"scripts\">Monitoring scripts</a></p>"
    )
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

fn serial_field(version: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"serial\" value=\"{}\">",
        escape(version)
    )
}

fn panel_has(panel: Panel, key: Option<&str>) -> bool {
    let Some(key) = key else { return false };
    (key == "name" && !matches!(panel, Panel::Global | Panel::Redundancy))
        || panel.fields().iter().any(|f| f.key == key)
}

fn error_span(message: &str) -> String {
    format!("<span class=\"error\">{}</span>", escape(message))
}

fn problem_list(problems: &[Problem], keep: impl Fn(&Problem) -> bool) -> String {
    let items: String = problems
        .iter()
        .filter(|p| keep(p))
        .map(|p| {
            let at = match (p.place, &p.key) {
                (Some(Place::Global), Some(key)) => format!("{key}: "),
                (Some(Place::Block(b)), Some(key)) => format!("virtual server #{} {key}: ", b + 1),
                (Some(Place::Server(b, s)), Some(key)) => {
                    format!("virtual server #{} real server #{} {key}: ", b + 1, s + 1)
                }
                _ => String::new(),
            };
            format!("<li>{}{}</li>", escape(&at), escape(&p.message))
        })
        .collect();
    if items.is_empty() {
        String::new()
    } else {
        format!("<ul class=\"problems\" id=\"other-problems\">{items}</ul>")
    }
}

fn field_html(field: &Field, entries: &[lvs_cf::edit::Entry], errors: &str) -> String {
    let (value, second) = fields::shown(field, entries);
    let key = field.key;
    let help = if field.help.is_empty() {
        String::new()
    } else {
        format!("<span class=\"help\">{}</span>", escape(field.help))
    };
    let input = match field.kind {
        Kind::Flag(_) | Kind::Switch(_) => {
            let checked = if value == "1" { " checked" } else { "" };
            // The hidden 0 goes first: a checked box's 1 comes later and wins.
            format!("<input type=\"hidden\" name=\"{key}\" value=\"0\"><input type=\"checkbox\" id=\"{key}\" name=\"{key}\" value=\"1\"{checked}>")
        }
        Kind::Choice(options) => {
            let mut select = format!("<select id=\"{key}\" name=\"{key}\"><option value=\"\">(default)</option>");
            for option in options {
                let selected = if value == *option { " selected" } else { "" };
                let _ = write!(select, "<option{selected}>{option}</option>");
            }
            if !value.is_empty() && !options.contains(&value.as_str()) {
                let _ = write!(select, "<option selected>{}</option>", escape(&value));
            }
            select.push_str("</select>");
            select
        }
        Kind::AddressAndDevice => format!(
            "<input id=\"{key}\" name=\"{key}\" value=\"{}\" size=\"24\"> device <input id=\"{key}{DEVICE_SUFFIX}\" name=\"{key}{DEVICE_SUFFIX}\" value=\"{}\" size=\"10\">",
            escape(&value),
            escape(&second)
        ),
        Kind::Word | Kind::Text | Kind::Tokens => {
            format!("<input id=\"{key}\" name=\"{key}\" value=\"{}\" size=\"40\">", escape(&value))
        }
    };
    format!(
        "<div class=\"row\"><label for=\"{key}\" title=\"{key}\">{}</label>{input}{help}{errors}</div>",
        escape(field.label)
    )
}

/// The lvs daemon's status as a table: each service, its servers, health,
/// last check, weight and counters.
fn status_table(status: &Status) -> String {
    let mut html = String::from(
        "<table id=\"ipvs-table\"><tr><th>virtual service</th><th>real server</th><th>health</th><th>last check</th><th>weight</th><th>active conns</th><th>inactive conns</th><th>connections</th><th>bytes in</th><th>bytes out</th></tr>",
    );
    for service in &status.services {
        let _ = write!(
            html,
            "<tr class=\"service\"><td><b>{}</b> {} ({})</td><td colspan=\"6\"></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&service.name),
            escape(&service.service),
            escape(&service.scheduler),
            service.connections,
            service.in_bytes,
            service.out_bytes,
        );
        for server in &service.servers {
            let last = match &server.last_check {
                None => "none yet".to_owned(),
                Some(check) => format!("{} ({:.0} s ago)", check.result, check.seconds_ago),
            };
            let health = server.health.as_str();
            // An operator's hold shows beside the checks' word (lvs --drain, --disable).
            let held = server
                .hold_words()
                .map(|words| format!(", {words}"))
                .unwrap_or_default();
            let _ = write!(
                html,
                "<tr class=\"server\"><td></td><td>{} {}:{}</td><td class=\"{}\">{}{held}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&server.name),
                server.address,
                server.port,
                if health == "up" { "up" } else { "down" },
                health,
                escape(&last),
                server.weight.map(|w| w.to_string()).unwrap_or_default(),
                server.active_connections,
                server.inactive_connections,
                server.connections,
                server.in_bytes,
                server.out_bytes,
            );
        }
        if let Some(sorry) = &service.sorry_server {
            let _ = write!(
                html,
                "<tr><td></td><td colspan=\"9\">sorry server {}:{} {}</td></tr>",
                sorry.address,
                sorry.port,
                if sorry.in_use { "(in use)" } else { "(standing by)" }
            );
        }
    }
    html.push_str("</table>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(url_encode("saved a/b"), "saved%20a%2Fb");
    }
}
