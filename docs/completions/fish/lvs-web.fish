# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_lvs_web_global_optspecs
    string join \n ?/help c/configfile= password-file= listen= lvs-socket= pulse-pidfile= lvs-pidfile= server-name= V/version
end

function __fish_lvs_web_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_lvs_web_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_lvs_web_using_subcommand
    set -l cmd (__fish_lvs_web_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c lvs-web -n "__fish_lvs_web_needs_command" -s c -l configfile -d 'The configuration file to edit' -r -F
complete -c lvs-web -n "__fish_lvs_web_needs_command" -l password-file -d 'The password file (`USER:ARGON2-HASH` lines; see `lvs-web passwd`), before or after `passwd`' -r -F
complete -c lvs-web -n "__fish_lvs_web_needs_command" -l listen -d 'The address and port to listen on' -r
complete -c lvs-web -n "__fish_lvs_web_needs_command" -l lvs-socket -d 'The lvs daemon\'s status socket' -r -F
complete -c lvs-web -n "__fish_lvs_web_needs_command" -l pulse-pidfile -d 'pulse\'s pid file (a reload signals pulse, which passes it on to lvs)' -r -F
complete -c lvs-web -n "__fish_lvs_web_needs_command" -l lvs-pidfile -d 'The lvs daemon\'s pid file (signalled when pulse does not run)' -r -F
complete -c lvs-web -n "__fish_lvs_web_needs_command" -l server-name -d 'A host name the tool answers to, besides IP addresses and localhost (repeatable); requests naming any other host are refused' -r
complete -c lvs-web -n "__fish_lvs_web_needs_command" -s ? -l help -d 'Print help'
complete -c lvs-web -n "__fish_lvs_web_needs_command" -s V -l version -d 'Print version'
complete -c lvs-web -n "__fish_lvs_web_needs_command" -f -a "passwd" -d 'Set a user\'s password (read twice from the terminal, or once from standard input when it is not a terminal). Piranha\'s piranha-passwd'
complete -c lvs-web -n "__fish_lvs_web_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c lvs-web -n "__fish_lvs_web_using_subcommand passwd" -l user -d 'The user (Piranha\'s tool knew only `piranha`)' -r
complete -c lvs-web -n "__fish_lvs_web_using_subcommand passwd" -l password-file -d 'The password file (`USER:ARGON2-HASH` lines; see `lvs-web passwd`), before or after `passwd`' -r -F
complete -c lvs-web -n "__fish_lvs_web_using_subcommand passwd" -s ? -l help -d 'Print help'
complete -c lvs-web -n "__fish_lvs_web_using_subcommand help; and not __fish_seen_subcommand_from passwd help" -f -a "passwd" -d 'Set a user\'s password (read twice from the terminal, or once from standard input when it is not a terminal). Piranha\'s piranha-passwd'
complete -c lvs-web -n "__fish_lvs_web_using_subcommand help; and not __fish_seen_subcommand_from passwd help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
