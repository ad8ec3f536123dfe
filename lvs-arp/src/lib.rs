//! The link layer of an LVS router: interface look-up, adding and removing
//! virtual IP addresses over rtnetlink, and announcing them with gratuitous
//! ARP or IPv6 unsolicited neighbour advertisements over AF_PACKET.
//!
//! It does not decide when a VIP should move; that is the failover state
//! machine in `lvs-core`.
//!
//! This crate is being built issue by issue; its modules arrive with the
//! lvs-arp issue.
