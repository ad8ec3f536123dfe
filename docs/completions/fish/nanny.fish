complete -c nanny -s t -l interval -d 'Seconds between checks; also the connect, read and program timeout' -r
complete -c nanny -s I -l ipvsadm -d 'The ipvsadm binary (accepted for compatibility; the table is edited over netlink)' -r
complete -c nanny -s U -l loadcmd -d 'Load monitor: `none`, `rsh` or `ssh` (runs `CMD RIP uptime`), or a command run as `CMD RIP`' -r
complete -c nanny -s M -l method -d 'Forwarding method: m (NAT), g (direct routing) or i (tunnel); anything else is m' -r
complete -c nanny -s p -l port -d 'The virtual service\'s port' -r
complete -c nanny -s r -l rport -d 'The real server\'s port (default: the service\'s)' -r
complete -c nanny -s a -l reentrytime -d 'Seconds of successful checks before a failed server is re-added (default 180; the interval with --fos)' -r
complete -c nanny -s S -l scale -d 'Cap of load-based weights, as a multiple of the weight' -r
complete -c nanny -s h -l server -d 'The real server\'s address (required)' -r
complete -c nanny -s e -l send_program -d 'A check program; `%h` and `%p` become the server\'s address and port. Overrides -s' -r
complete -c nanny -s s -l send_string -d 'Sent once after connecting (escapes \\r \\n \\t \\\\ \\\' \\" are translated)' -r
complete -c nanny -s x -l expect_string -d 'What one read must start with (`*`: any byte), or the program\'s exact output' -r
complete -c nanny -s V -l virtaddress -d 'The virtual service\'s address' -r
complete -c nanny -s f -l fwmark -d 'The virtual service is this firewall mark' -r
complete -c nanny -s w -l weight -d 'The real server\'s weight' -r
complete -c nanny -l failures -d 'Consecutive failures before the server is taken out (an lvs-rs extension)' -r
complete -c nanny -l check-interval -d 'Seconds between checks, fractions allowed, when they should differ from -t, which then only bounds each check (an lvs-rs extension)' -r
complete -c nanny -l check -d 'One key of an lvs.cf `check` block (`type=https`, `path=/healthz`, `ca_file=/etc/ssl/ca.pem`...; repeat for each key): the check runs instead of -s/-x/-e (an lvs-rs extension; see lvs.cf(5))' -r
complete -c nanny -l ipvs -d 'One IPVS setting of the server as an lvs.cf `server` block writes it (`tunnel_type=gue`, `tunnel_port=6080`, `upper_threshold=100`...; repeat for each key; `network` overrides -M) (an lvs-rs extension; see lvs.cf(5))' -r
complete -c nanny -l help -d 'Print help'
complete -c nanny -l version -d 'Print the version'
complete -c nanny -s n -l nodaemon -d 'Stay in the foreground and log to standard output instead of syslog'
complete -c nanny -s c -l nofork -d 'Do not fork, but leave the terminal (setsid, no standard streams)'
complete -c nanny -l regex -d 'The expect string is an extended regular expression'
complete -c nanny -s T -l suppress -d 'Do not translate escapes in -s and -x'
complete -c nanny -s q -l quiesce_server -d 'On failure set the weight to 0 instead of removing the server'
complete -c nanny -s u -l udp -d 'Check over UDP'
complete -c nanny -s v -l verbose -d 'Log each check'
complete -c nanny -l test-start -d 'Log the table changes without making them'
complete -c nanny -l lvs -d 'An LVS real server (lvsd passes it)'
complete -c nanny -l fos -d 'A failover service (FOS; not supported by lvs-rs)'
