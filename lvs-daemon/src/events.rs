//! Where the director's events go (see [`lvs_core::events`]): to the
//! clients of `lvsd --events`, as JSON lines, and to lvs.cf's `notify`
//! programs.
//!
//! Neither can hold the director up. The stream is a broadcast channel: a
//! client that falls behind by more than [`STREAM_BACKLOG`] events is told
//! how many it lost. Each `notify` program has a queue of its own, run in
//! order (so that a server's `down` never overtakes its `up`) by a task of
//! its own, one at a time, each for at most [`HOOK_TIME`]; when a queue
//! holds [`HOOK_BACKLOG`] events, further ones are logged and not run.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use lvs_core::events::Event;
use tokio::sync::{broadcast, mpsc};

use crate::log::Log;

/// Events a stream client may fall behind by.
pub const STREAM_BACKLOG: usize = 16 * 1024;
/// Events a `notify` program's queue holds.
pub const HOOK_BACKLOG: usize = 256;
/// How long a `notify` program may run before it is killed.
pub const HOOK_TIME: Duration = Duration::from_secs(30);

/// The seconds since the Unix epoch, for an event's time.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// An event as the stream sends it: JSON and a line end.
pub fn json_line(event: &Event) -> String {
    let mut line = serde_json::to_string(event).unwrap_or_default();
    line.push('\n');
    line
}

/// The director's outlet for events.
#[derive(Debug)]
pub struct Events {
    stream: broadcast::Sender<Arc<str>>,
    hooks: HashMap<String, mpsc::Sender<Event>>,
    /// Events not run for a program since its queue filled: logged once
    /// when it fills and once when it takes events again.
    dropped: HashMap<String, u64>,
    /// Whether `notify` programs run (not in a test start).
    run_hooks: bool,
    log: Log,
}

impl Events {
    /// An outlet logging its troubles to `log`.
    pub fn new(log: Log) -> Events {
        let (stream, _) = broadcast::channel(STREAM_BACKLOG);
        Events {
            stream,
            hooks: HashMap::new(),
            dropped: HashMap::new(),
            run_hooks: true,
            log,
        }
    }

    /// Whether `notify` programs run; a test start (`lvsd -t`) runs none,
    /// as it starts no nanny.
    pub fn run_hooks(mut self, run: bool) -> Events {
        self.run_hooks = run;
        self
    }

    /// A receiver of the stream, for one `--events` client.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.stream.subscribe()
    }

    /// A handle the status server subscribes clients with.
    pub fn sender(&self) -> broadcast::Sender<Arc<str>> {
        self.stream.clone()
    }

    /// Sends `event` to the stream and, when `hook` names a program, runs
    /// it with the event. Must be called inside the runtime.
    pub fn emit(&mut self, event: Event, hook: Option<&str>) {
        if self.stream.receiver_count() > 0 {
            let _ = self.stream.send(Arc::from(json_line(&event)));
        }
        let Some(command) = hook.filter(|c| self.run_hooks && !c.trim().is_empty()) else {
            return;
        };
        let queue = self
            .hooks
            .entry(command.to_owned())
            .or_insert_with(|| start_runner(command.to_owned(), self.log.clone()));
        match queue.try_send(event) {
            Ok(()) => {
                if let Some(lost) = self.dropped.remove(command) {
                    self.log.warning(&format!(
                        "notify program {command} takes events again; {lost} were not run for it"
                    ));
                }
            }
            Err(mpsc::error::TrySendError::Full(event)) => {
                let lost = self.dropped.entry(command.to_owned()).or_default();
                if *lost == 0 {
                    self.log.warning(&format!(
                        "notify program {command}: {HOOK_BACKLOG} events wait already; from {} ({}) on, events are not run for it",
                        event.event, event.message
                    ));
                }
                *lost += 1;
            }
            // Its task ended (the runtime stops): nothing more runs.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// The task that runs `command` for each event of its queue, in order.
fn start_runner(command: String, log: Log) -> mpsc::Sender<Event> {
    let (sender, mut queue) = mpsc::channel::<Event>(HOOK_BACKLOG);
    tokio::spawn(async move {
        while let Some(event) = queue.recv().await {
            if let Err(why) = run_hook(&command, &event).await {
                log.warning(&format!(
                    "notify program for {} ({}): {why}",
                    event.event, event.message
                ));
            }
        }
    });
    sender
}

/// Runs `command` for `event`; why it failed, if it did.
async fn run_hook(command: &str, event: &Event) -> Result<(), String> {
    let argv = event.hook_argv(command);
    let Some((program, args)) = argv.split_first() else {
        return Err("empty command".to_owned());
    };
    let mut child = tokio::process::Command::new(program);
    lvs_health::run::without_manager(&mut child)
        .args(args)
        .envs(event.hook_environment())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        // A group of its own: a timeout kills what it started too.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = child.spawn().map_err(|e| format!("cannot run {program}: {e}"))?;
    match tokio::time::timeout(HOOK_TIME, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!("{program} exited with {status}")),
        Ok(Err(e)) => Err(format!("{program}: {e}")),
        Err(_) => {
            if let Some(pid) = child.id().and_then(|pid| i32::try_from(pid).ok()) {
                // SAFETY: kill(2) on the process group this task started.
                unsafe { libc::kill(-pid, libc::SIGKILL) };
            }
            Err(format!(
                "{program} ran longer than {} s and was killed",
                HOOK_TIME.as_secs()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hook_runs_with_the_event_and_the_stream_carries_it() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = std::env::temp_dir().join(format!("lvs-events-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).expect("a folder of its own");
        let out = dir.join("out");
        let script = dir.join("hook.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"$* | $LVS_EVENT $LVS_OLD_STATE\" >> {}\n",
                out.display()
            ),
        )
        .expect("script");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("mode");
        runtime.block_on(async {
            let mut events = Events::new(Log::stderr("", false));
            let mut client = events.subscribe();
            let event = Event::new("server-health", 1_700_000_000.25, "down")
                .server("web", "a", "10.0.0.1:80".parse().expect("literal"))
                .states("up", "down")
                .reason("refused");
            events.emit(event.clone(), Some(&script.display().to_string()));
            let line = client.recv().await.expect("a line");
            let back: Event = serde_json::from_str(&line).expect("JSON");
            assert_eq!(back, event);
            for _ in 0..100 {
                if out.exists() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let said = std::fs::read_to_string(&out).expect("the hook ran");
        assert_eq!(said, "server-health web a up down refused | server-health up\n");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
