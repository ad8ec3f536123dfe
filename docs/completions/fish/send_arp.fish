complete -c send_arp -s i -d 'The device to send on' -r
complete -c send_arp -s c -d 'How many frames to send (an lvs-rs extension; Piranha sends one)' -r
complete -c send_arp -s w -d 'Seconds between frames, fractions allowed (an lvs-rs extension)' -r
complete -c send_arp -s U -d 'Send the ARP request form (target hardware address broadcast) instead of Piranha\'s reply form'
complete -c send_arp -s h -l help -d 'Print help (see more with \'--help\')'
complete -c send_arp -s V -l version -d 'Print version'
