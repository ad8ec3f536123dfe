complete -c pulse -s c -l configfile -d 'The configuration file' -r -F
complete -c pulse -l lvsd -l lvs -d 'The lvs daemon to run when active (`--lvs` is pulse(8)\'s older name)' -r -F
complete -c pulse -l fos -d 'The failover-services daemon (accepted; lvs-rs has no failover-services mode)' -r -F
complete -c pulse -l pidfile -d 'Where the daemon writes its process id' -r -F
complete -c pulse -l metrics -d 'Serve Prometheus metrics over HTTP on this local address (for example 127.0.0.1:9102)' -r
complete -c pulse -l socket -d 'With VIP groups: the Unix socket where the daemon answers status requests and `--status` asks' -r -F
complete -c pulse -s ? -l help -d 'Print help'
complete -c pulse -l version -d 'Print the version'
complete -c pulse -s n -l nodaemon -d 'Stay in the foreground and log to standard output (as `pulse: message`) instead of syslog'
complete -c pulse -l nofork -d 'Stay in this process (no fork; a session of its own) and log to syslog, writing the pid file: what a service manager runs (the systemd unit does). `-n` wins'
complete -c pulse -s t -l test-start -l norun -d 'Exchange heartbeats and log, but change nothing: no lvs daemon, no VIPs, no announcements, no commands, no sync daemon'
complete -c pulse -s v -l verbose -d 'Log debugging lines (`DEBUG -- ...`); passes -v to the lvs daemon'
complete -c pulse -l forceactive -d 'Start active, taking over from an active partner'
complete -c pulse -l status -d 'Ask the running pulse (with VIP groups) for each group\'s state and holder, the other routers\' last heartbeats, the tracks and the heartbeat counts, print them and exit'
complete -c pulse -l json -d 'With --status: the status as JSON'
complete -c pulse -l events -d 'Follow the running pulse\'s events (with VIP groups) as JSON lines, one per change of a group\'s state or a track\'s, until interrupted'
