//! The monitoring page's pictures, drawn as SVG on the server (no script,
//! nothing fetched from elsewhere): a chart per virtual service of its
//! connections and bytes per second over the last hour, a health timeline
//! per real server with the reason of each change, and the topology of this
//! router, its virtual services and their real servers in their states.

use lvs_core::history::{Change, HistoryView, ServiceHistory};
use lvs_core::status::Status;
use maud::{html, Markup};

/// A chart's width in SVG units, and the heights of a service's charts and
/// of a server's smaller ones.
const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 120.0;
const SERVER_HEIGHT: f64 = 36.0;

/// The largest value of `series`.
fn highest(series: &[Option<f32>]) -> f64 {
    series
        .iter()
        .flatten()
        .fold(0.0_f64, |top, v| top.max(f64::from(*v)))
}

/// The chart's scale: its highest value, at least 1.
fn top(series: &[Option<f32>]) -> f64 {
    highest(series).max(1.0)
}

/// `series` as the points of polylines, oldest at the left: one per run of
/// points with values, so that a gap stays a gap; a lone point is a short
/// flat line, so that it shows.
fn runs(series: &[Option<f32>], slots: usize, top: f64, height: f64) -> Vec<String> {
    let x = |i: usize| WIDTH * (i + slots.saturating_sub(series.len())) as f64 / (slots.max(2) - 1) as f64;
    let y = |v: f32| height - height * f64::from(v) / top;
    let mut runs: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut open = false;
    for (i, value) in series.iter().enumerate() {
        match value {
            Some(v) if open => runs
                .last_mut()
                .into_iter()
                .for_each(|run| run.push((x(i), y(*v)))),
            Some(v) => {
                runs.push(vec![(x(i), y(*v))]);
                open = true;
            }
            None => open = false,
        }
    }
    runs.into_iter()
        .map(|mut run| {
            if let [(x, y)] = run[..] {
                run.insert(0, ((x - 3.0).max(0.0), y));
            }
            run.iter()
                .map(|(x, y)| format!("{x:.1},{y:.1}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

/// A number of things per second in a few characters (`12.5`, `3.4 k`).
fn per_second(value: f64) -> String {
    match value {
        v if v >= 1e9 => format!("{:.1} G", v / 1e9),
        v if v >= 1e6 => format!("{:.1} M", v / 1e6),
        v if v >= 1e3 => format!("{:.1} k", v / 1e3),
        v => format!("{v:.1}"),
    }
}

/// One series' chart, `height` high: its line(s), the scale, and what it shows.
fn chart(id: &str, what: &str, series: &[Option<f32>], slots: usize, height: f64) -> Markup {
    let top = top(series);
    // The newest point: none while the server is out of the table.
    let latest = series.last().copied().flatten();
    html! {
        figure class="chart" id=(id) {
            svg viewBox={ "0 0 " (WIDTH) " " (height) } width=(WIDTH) height=(height) role="img" aria-label=(what) {
                rect class="frame" x="0" y="0" width=(WIDTH) height=(height) {}
                @for points in runs(series, slots, top, height) {
                    polyline class="series" points=(points) {}
                }
            }
            figcaption {
                (what) ": now " (latest.map_or_else(|| "-".to_owned(), |v| per_second(f64::from(v))))
                ", highest " (per_second(highest(series))) " (a point every few seconds)"
            }
        }
    }
}

/// The words of a state and the class its colour comes from.
fn state_class(state: &str) -> &'static str {
    match state {
        "up" | "enabled" => "up",
        "quiesced" | "draining" => "quiesced",
        "down" | "disabled" => "down",
        _ => "unknown",
    }
}

/// A server's health over the span: a bar coloured by state between its
/// changes, and the changes with their reasons.
fn timeline(id: &str, health_now: &str, changes: &[Change], newest: f64, span: f64) -> Markup {
    let health: Vec<&Change> = changes.iter().filter(|c| c.event == "server-health").collect();
    // The bar ends now: at the newest sample, or at a change after it.
    let end = health.iter().map(|c| c.time).fold(newest, f64::max);
    let start = end - span;
    let x = |time: f64| (WIDTH * (time - start) / span).clamp(0.0, WIDTH);
    // The bar's pieces: from each change to the next, the state it went to;
    // before the first, the state it left.
    let mut pieces = Vec::new();
    let mut from = start;
    let mut state = health
        .first()
        .and_then(|c| c.old_state.clone())
        .unwrap_or_else(|| health_now.to_owned());
    for change in &health {
        pieces.push((x(from), x(change.time), state.clone()));
        from = change.time;
        state = change.new_state.clone().unwrap_or_default();
    }
    pieces.push((x(from), WIDTH, state));
    // A state held for a moment still shows: a piece is at least one unit
    // wide (a second at this scale is a sixth of one).
    let pieces: Vec<(f64, f64, String)> = pieces
        .into_iter()
        .map(|(left, right, state)| {
            (
                left.min(WIDTH - 1.0),
                right.max(left.min(WIDTH - 1.0) + 1.0),
                state,
            )
        })
        .collect();
    html! {
        div class="timeline" id=(id) {
            svg viewBox={ "0 0 " (WIDTH) " 16" } width=(WIDTH) height="16" role="img" aria-label="health over the history kept" {
                @for (left, right, state) in &pieces {
                    @if right > left {
                        rect class={ "state " (state_class(state)) } x=(format!("{left:.1}")) y="0"
                            width=(format!("{:.1}", right - left)) height="16" {
                            title { (state) }
                        }
                    }
                }
            }
            @if !changes.is_empty() {
                ul class="changes" {
                    @for change in changes {
                        li {
                            (clock(change.time)) " "
                            (change.old_state.as_deref().unwrap_or("?")) " → " (change.new_state.as_deref().unwrap_or("?"))
                            @if let Some(reason) = &change.reason { ": " (reason) }
                        }
                    }
                }
            }
        }
    }
}

/// `HH:MM:SS UTC` of a time in seconds since the epoch.
fn clock(time: f64) -> String {
    let seconds = time.max(0.0) as u64 % 86_400;
    format!(
        "{:02}:{:02}:{:02} UTC",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// One service's charts and its servers' timelines.
fn service(view: &HistoryView, index: usize, service: &ServiceHistory) -> Markup {
    // As wide as the history the daemon keeps (an hour by default).
    let span = if view.span_seconds > 0.0 {
        view.span_seconds
    } else {
        3600.0
    };
    let slots =
        ((span / view.step_seconds.max(0.1)).round() as usize).max(service.connections_per_second.len());
    let newest = view.newest.unwrap_or(0.0);
    html! {
        section class="history" id={ "history-" (index) } {
            h4 { (service.name) " " (service.service) }
            (chart(&format!("connections-{index}"), "connections per second", &service.connections_per_second, slots, HEIGHT))
            (chart(&format!("bytes-{index}"), "bytes per second", &service.bytes_per_second, slots, HEIGHT))
            @for (s, server) in service.servers.iter().enumerate() {
                div class="server-history" {
                    span class={ "name " (state_class(&server.health)) } { (server.name) " " (server.address) " (" (server.health) ")" }
                    (timeline(&format!("timeline-{index}-{s}"), &server.health, &server.changes, newest, span))
                    (chart(&format!("connections-{index}-{s}"), "its connections per second", &server.connections_per_second, slots, SERVER_HEIGHT))
                    (chart(&format!("bytes-{index}-{s}"), "its bytes per second", &server.bytes_per_second, slots, SERVER_HEIGHT))
                }
            }
        }
    }
}

/// Every service's last hour.
pub fn history(view: &HistoryView) -> Markup {
    html! {
        @if view.services.is_empty() {
            p id="no-history" { "No history yet." }
        }
        @for (i, s) in view.services.iter().enumerate() { (service(view, i, s)) }
    }
}

/// This router, its virtual services (VIP and port) and their real
/// servers, each coloured by its state, joined by lines.
pub fn topology(router: &str, active: bool, status: &Status) -> Markup {
    const ROW: f64 = 22.0;
    let rows: usize = status.services.iter().map(|s| s.servers.len().max(1)).sum();
    let height = (rows as f64 * ROW).max(ROW) + 10.0;
    // The services' rows: the first row of each and its servers'.
    let mut placed = Vec::new();
    let mut row = 0usize;
    for service in &status.services {
        placed.push((row, service));
        row += service.servers.len().max(1);
    }
    let y = |row: usize| 5.0 + row as f64 * ROW + ROW / 2.0;
    let router_y = height / 2.0;
    html! {
        svg id="topology" viewBox={ "0 0 760 " (height) } width="760" height=(height) role="img" aria-label="topology" {
            g class={ "router " (if active { "up" } else { "unknown" }) } {
                rect x="5" y=(router_y - 12.0) width="150" height="24" rx="4" {}
                text x="12" y=(router_y + 5.0) { (router) (if active { " (active)" } else { " (standby)" }) }
            }
            @for (first, service) in &placed {
                @let sy = y(*first);
                line x1="155" y1=(router_y) x2="240" y2=(sy) {}
                g class={ "service " (if service.in_kernel { "up" } else { "down" }) } {
                    rect x="240" y=(sy - 9.0) width="220" height="18" rx="3" {}
                    text x="246" y=(sy + 4.0) { (service.name) " " (service.service) }
                }
                @for (k, server) in service.servers.iter().enumerate() {
                    @let ry = y(first + k);
                    line x1="460" y1=(sy) x2="540" y2=(ry) {}
                    g class={ "server " (state_class(server.health.as_str())) } {
                        rect x="540" y=(ry - 9.0) width="215" height="18" rx="3" {}
                        text x="546" y=(ry + 4.0) { (server.name) " " (server.endpoint()) " " (server.health.as_str()) }
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
    fn a_gap_splits_the_line_and_the_scale_follows_the_top() {
        let series = [None, Some(1.0), Some(3.0), None, Some(2.0)];
        let runs = runs(&series, 5, top(&series), HEIGHT);
        assert_eq!(runs.len(), 2, "{runs:?}");
        assert_eq!(runs[0], "150.0,80.0 300.0,0.0");
        assert_eq!(runs[1], "597.0,40.0 600.0,40.0", "a lone point shows");
        assert_eq!(per_second(1234.0), "1.2 k");
        assert_eq!(clock(3661.0), "01:01:01 UTC");
    }

    #[test]
    fn a_timeline_colours_each_state_between_its_changes() {
        // As the director's status socket sends them.
        let change = |time: f64, old: &str, new: &str| -> Change {
            serde_json::from_str(&format!(
                r#"{{"time":{time},"event":"server-health","old_state":"{old}","new_state":"{new}","reason":"connect refused"}}"#
            ))
            .expect("a change")
        };
        let changes = [change(1800.0, "up", "down"), change(2700.0, "down", "up")];
        let svg = timeline("t", "up", &changes, 3600.0, 3600.0).into_string();
        assert!(
            svg.contains(r#"class="state up" x="0.0" y="0" width="300.0""#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"class="state down" x="300.0" y="0" width="150.0""#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"class="state up" x="450.0" y="0" width="150.0""#),
            "{svg}"
        );
        assert!(svg.contains("00:30:00 UTC up → down: connect refused"), "{svg}");
    }
}
