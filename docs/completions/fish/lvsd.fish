# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_lvsd_global_optspecs
    string join \n ?/help c/configfile= check dump format= strict status plan resync drain= disable= enable= events wait drain-timeout= drift-check= history-minutes= n/nodaemon nofork t/test-start v/verbose nanny-processes socket= metrics= pidfile= V/version
end

function __fish_lvsd_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_lvsd_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_lvsd_using_subcommand
    set -l cmd (__fish_lvsd_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c lvsd -n "__fish_lvsd_needs_command" -s c -l configfile -d 'The configuration file' -r -F
complete -c lvsd -n "__fish_lvsd_needs_command" -l format -d 'The format of --dump (lvs-cf, json) or of --status, --plan and --resync (text, json)' -r -f -a "lvs-cf\t'Canonical lvs.cf (`--dump`\'s default)'
json\t'JSON, for programs (`--dump` and `--status`)'
text\t'Lines for people (`--status`\'s default)'"
complete -c lvsd -n "__fish_lvsd_needs_command" -l drain -d 'Have the running daemon drain a real server (lvs.cf\'s SERVICE/SERVER names): weight 0, then removed when its connections end or the drain timeout passes' -r
complete -c lvsd -n "__fish_lvsd_needs_command" -l disable -d 'Have the running daemon take a real server out of the table until --enable' -r
complete -c lvsd -n "__fish_lvsd_needs_command" -l enable -d 'Give a drained or disabled real server back to its checks' -r
complete -c lvsd -n "__fish_lvsd_needs_command" -l drain-timeout -d 'With --drain: the longest it may last (default: lvs.cf\'s drain_timeout, or 300)' -r
complete -c lvsd -n "__fish_lvsd_needs_command" -l drift-check -d 'How often the daemon compares its entries with the kernel\'s table (0: only on --resync)' -r
complete -c lvsd -n "__fish_lvsd_needs_command" -l history-minutes -d 'How many minutes of traffic and health the daemon keeps for the web tool\'s charts (0: none)' -r
complete -c lvsd -n "__fish_lvsd_needs_command" -l socket -d 'The Unix socket the daemon answers --status on' -r -F
complete -c lvsd -n "__fish_lvsd_needs_command" -l metrics -d 'Serve Prometheus metrics over HTTP on this local address (for example 127.0.0.1:9101)' -r
complete -c lvsd -n "__fish_lvsd_needs_command" -l pidfile -d 'Where the daemon writes its process id' -r -F
complete -c lvsd -n "__fish_lvsd_needs_command" -s ? -l help -d 'Print help'
complete -c lvsd -n "__fish_lvsd_needs_command" -l check -d 'Parse and validate the file, print a summary, and exit 0 if it has no errors'
complete -c lvsd -n "__fish_lvsd_needs_command" -l dump -d 'Parse the file and write it to standard output in the chosen --format'
complete -c lvsd -n "__fish_lvsd_needs_command" -l strict -d 'Accept only Piranha 0.8.6\'s syntax: each lvs-rs extension is an error'
complete -c lvsd -n "__fish_lvsd_needs_command" -l status -d 'Ask the running daemon for its state and print it'
complete -c lvsd -n "__fish_lvsd_needs_command" -l plan -d 'Ask the running daemon what a reload to the -c file would do, and change nothing'
complete -c lvsd -n "__fish_lvsd_needs_command" -l resync -d 'Have the running daemon restore entries changed behind its back, and print what it found'
complete -c lvsd -n "__fish_lvsd_needs_command" -l events -d 'Print the running daemon\'s events as JSON lines as they happen, until it stops'
complete -c lvsd -n "__fish_lvsd_needs_command" -l wait -d 'With --drain: return when the drain has ended, saying how'
complete -c lvsd -n "__fish_lvsd_needs_command" -s n -l nodaemon -d 'Stay in the foreground and log to standard output instead of syslog'
complete -c lvsd -n "__fish_lvsd_needs_command" -l nofork -d 'Do not fork, but leave the terminal (pulse starts the daemon so)'
complete -c lvsd -n "__fish_lvsd_needs_command" -s t -l test-start -d 'Log each table change instead of making it'
complete -c lvsd -n "__fish_lvsd_needs_command" -s v -l verbose -d 'Log every check result and table change (`DEBUG -- ...`)'
complete -c lvsd -n "__fish_lvsd_needs_command" -l nanny-processes -d 'Run a `nanny` process per real server (Piranha\'s model; its `client_monitor`) instead of checking in-process. A nanny that dies stops lvs when `hard_shutdown = 1`'
complete -c lvsd -n "__fish_lvsd_needs_command" -s V -l version -d 'Print version'
complete -c lvsd -n "__fish_lvsd_needs_command" -f -a "import" -d 'Turn another director\'s configuration into lvs.cf, with a report of what became of each directive'
complete -c lvsd -n "__fish_lvsd_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c lvsd -n "__fish_lvsd_using_subcommand import" -l from -d 'The tool whose configuration FILE is' -r -f -a "keepalived\t''
ldirectord\t''"
complete -c lvsd -n "__fish_lvsd_using_subcommand import" -s i -l config-id -d 'keepalived\'s config id (its -i): lines marked @ID are read, @^ID skipped (default: the host name up to its first dot)' -r
complete -c lvsd -n "__fish_lvsd_using_subcommand import" -l primary -d 'The primary router\'s address (lvs.cf\'s primary), where the source names none' -r
complete -c lvsd -n "__fish_lvsd_using_subcommand import" -l backup -d 'The backup router\'s address (lvs.cf\'s backup, with backup_active = 1)' -r
complete -c lvsd -n "__fish_lvsd_using_subcommand import" -l vip-device -d 'The interface pulse brings the VIPs up on' -r
complete -c lvsd -n "__fish_lvsd_using_subcommand import" -s o -l output -d 'Where to write lvs.cf (replaced only once the import has succeeded); standard output without it' -r -F
complete -c lvsd -n "__fish_lvsd_using_subcommand import" -l against-kernel -d 'Also compare the imported configuration with the kernel\'s IPVS table and list the operations the lvs daemon would make starting on it (none for a table the source built)'
complete -c lvsd -n "__fish_lvsd_using_subcommand import" -s V -l version -d 'Print version'
complete -c lvsd -n "__fish_lvsd_using_subcommand help; and not __fish_seen_subcommand_from import help" -f -a "import" -d 'Turn another director\'s configuration into lvs.cf, with a report of what became of each directive'
complete -c lvsd -n "__fish_lvsd_using_subcommand help; and not __fish_seen_subcommand_from import help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
