complete -c lvsd -s c -l configfile -d 'The configuration file' -r -F
complete -c lvsd -l format -d 'The format of --dump (lvs-cf, json) or of --status, --plan and --resync (text, json)' -r -f -a "lvs-cf\t'Canonical lvs.cf (`--dump`\'s default)'
json\t'JSON, for programs (`--dump` and `--status`)'
text\t'Lines for people (`--status`\'s default)'"
complete -c lvsd -l drain -d 'Have the running daemon drain a real server (lvs.cf\'s SERVICE/SERVER names): weight 0, then removed when its connections end or the drain timeout passes' -r
complete -c lvsd -l disable -d 'Have the running daemon take a real server out of the table until --enable' -r
complete -c lvsd -l enable -d 'Give a drained or disabled real server back to its checks' -r
complete -c lvsd -l drain-timeout -d 'With --drain: the longest it may last (default: lvs.cf\'s drain_timeout, or 300)' -r
complete -c lvsd -l drift-check -d 'How often the daemon compares its entries with the kernel\'s table (0: only on --resync)' -r
complete -c lvsd -l socket -d 'The Unix socket the daemon answers --status on' -r -F
complete -c lvsd -l metrics -d 'Serve Prometheus metrics over HTTP on this local address (for example 127.0.0.1:9101)' -r
complete -c lvsd -l pidfile -d 'Where the daemon writes its process id' -r -F
complete -c lvsd -s ? -l help -d 'Print help'
complete -c lvsd -l check -d 'Parse and validate the file, print a summary, and exit 0 if it has no errors'
complete -c lvsd -l dump -d 'Parse the file and write it to standard output in the chosen --format'
complete -c lvsd -l strict -d 'Accept only Piranha 0.8.6\'s syntax: each lvs-rs extension is an error'
complete -c lvsd -l status -d 'Ask the running daemon for its state and print it'
complete -c lvsd -l plan -d 'Ask the running daemon what a reload to the -c file would do, and change nothing'
complete -c lvsd -l resync -d 'Have the running daemon restore entries changed behind its back, and print what it found'
complete -c lvsd -l events -d 'Print the running daemon\'s events as JSON lines as they happen, until it stops'
complete -c lvsd -l wait -d 'With --drain: return when the drain has ended, saying how'
complete -c lvsd -s n -l nodaemon -d 'Stay in the foreground and log to standard output instead of syslog'
complete -c lvsd -l nofork -d 'Do not fork, but leave the terminal (pulse starts the daemon so)'
complete -c lvsd -s t -l test-start -d 'Log each table change instead of making it'
complete -c lvsd -s v -l verbose -d 'Log every check result and table change (`DEBUG -- ...`)'
complete -c lvsd -l nanny-processes -d 'Run a `nanny` process per real server (Piranha\'s model; its `client_monitor`) instead of checking in-process. A nanny that dies stops lvs when `hard_shutdown = 1`'
complete -c lvsd -s V -l version -d 'Print version'
