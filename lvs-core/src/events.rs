//! What the director tells programs as things happen: one typed event,
//! streamed as JSON lines on the status socket (`lvsd --events`) and handed
//! to lvs.cf's `notify` programs as arguments and environment.
//!
//! The event names are those of the journal's `LVS_EVENT` field
//! (`server-health`, `server-hold`, `sorry-server-in`, ...): the daemon
//! fills them from its one list of events. States are the status's words:
//! `up`, `quiesced`, `down`, `unknown` for a server's health; `enabled`,
//! `draining`, `disabled` for its hold.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::check::program_argv;

/// One thing that happened.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Event {
    /// What happened (`server-health`, `server-hold`, `reload`, ...).
    pub event: String,
    /// When, in seconds since the Unix epoch (the router's wall clock).
    pub time: f64,
    /// The virtual block's name, when it is about a service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The server block's name, when it is about a server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The server's `IP:PORT` (or the sorry server's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The state before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_state: Option<String>,
    /// The state after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_state: Option<String>,
    /// Why, when known (the failed check, the operator's command).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The log line that says the same.
    pub message: String,
}

impl Event {
    /// An event named `event` at `time`, saying `message`.
    pub fn new(event: &str, time: f64, message: impl Into<String>) -> Event {
        Event {
            event: event.to_owned(),
            time,
            message: message.into(),
            ..Event::default()
        }
    }

    /// About the server `server` of `service`, at `address`.
    pub fn server(mut self, service: &str, server: &str, address: SocketAddr) -> Event {
        self.service = Some(service.to_owned());
        self.server = Some(server.to_owned());
        self.address = Some(address.to_string());
        self
    }

    /// About the service `service`.
    pub fn service(mut self, service: &str) -> Event {
        self.service = Some(service.to_owned());
        self
    }

    /// From state `old` to `new`.
    pub fn states(mut self, old: &str, new: &str) -> Event {
        self.old_state = Some(old.to_owned());
        self.new_state = Some(new.to_owned());
        self
    }

    /// Because of `reason`.
    pub fn reason(mut self, reason: impl Into<String>) -> Event {
        self.reason = Some(reason.into());
        self
    }

    /// The arguments a `notify` program `command` runs with: the command
    /// split as `send_program` is (`%h` and `%p` the server's address and
    /// port, when the event has one), then `EVENT SERVICE SERVER OLD_STATE
    /// NEW_STATE REASON`, each empty when the event has none.
    pub fn hook_argv(&self, command: &str) -> Vec<String> {
        let target = self
            .address
            .as_deref()
            .and_then(|a| a.parse::<SocketAddr>().ok())
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        let mut argv = program_argv(command, target);
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        argv.extend([
            self.event.clone(),
            text(&self.service),
            text(&self.server),
            text(&self.old_state),
            text(&self.new_state),
            text(&self.reason),
        ]);
        argv
    }

    /// The environment a `notify` program gets: `LVS_EVENT`, `LVS_SERVICE`,
    /// `LVS_SERVER`, `LVS_ADDRESS`, `LVS_OLD_STATE`, `LVS_NEW_STATE`,
    /// `LVS_REASON` and `LVS_MESSAGE`, those the event has.
    pub fn hook_environment(&self) -> Vec<(&'static str, String)> {
        [
            ("LVS_EVENT", Some(self.event.clone())),
            ("LVS_SERVICE", self.service.clone()),
            ("LVS_SERVER", self.server.clone()),
            ("LVS_ADDRESS", self.address.clone()),
            ("LVS_OLD_STATE", self.old_state.clone()),
            ("LVS_NEW_STATE", self.new_state.clone()),
            ("LVS_REASON", self.reason.clone()),
            ("LVS_MESSAGE", Some(self.message.clone())),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|value| (name, value)))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_gets_the_details_as_arguments_and_environment() {
        let event = Event::new("server-health", 1.5, "shutting down 10.0.0.1:80")
            .server("web", "a", "10.0.0.1:80".parse().expect("literal"))
            .states("up", "down")
            .reason("connect: refused");
        assert_eq!(
            event.hook_argv("/etc/lvs/notify.sh --host %h"),
            [
                "/etc/lvs/notify.sh",
                "--host",
                "10.0.0.1",
                "server-health",
                "web",
                "a",
                "up",
                "down",
                "connect: refused"
            ]
        );
        let environment = event.hook_environment();
        assert!(environment.contains(&("LVS_OLD_STATE", "up".to_owned())));
        assert!(environment.contains(&("LVS_ADDRESS", "10.0.0.1:80".to_owned())));
        let sorry = Event::new("sorry-server-in", 2.0, "no real servers").service("web");
        assert_eq!(
            sorry.hook_argv("hook")[1..],
            ["sorry-server-in", "web", "", "", "", ""]
        );
        assert!(!sorry
            .hook_environment()
            .iter()
            .any(|(name, _)| *name == "LVS_SERVER"));
        let line = serde_json::to_string(&event).expect("JSON");
        let back: Event = serde_json::from_str(&line).expect("JSON");
        assert_eq!(back, event);
    }
}
