// Package firewall keeps the host's packet filter equal to what the site
// allows (issue 17, README requirement 13): with `sitegate run --net
// linux` and the site's firewall.enabled, the gateway owns the nftables
// table inet sitegate and nothing else of the ruleset.
//
// # The table
//
// Build turns the site into a Spec; Netfilter.Apply writes it. The input
// chain's policy is drop: it accepts established and related traffic,
// loopback, the ICMP and ICMPv6 a network needs (destination unreachable,
// packet too big, time exceeded, parameter problem, echo request, router
// and neighbour discovery, MLD), DHCP's answers, the SSH console on its
// configured address (--ssh-addr; a loopback address needs no rule), and
// the field ports only while their protocol is configured and only on the
// interfaces the site names for them: BACnet/IP's port on the Ethernet
// and Wi-Fi interfaces and firewall.lan, never on the cellular one; the
// LoRa packet forwarder's port when it listens beyond loopback. Modbus is
// a client: nothing opens inbound for it. What is left is counted per
// interface (named counters in_IFACE, in_other) and dropped.
//
// The output chain is open while the site lists no endpoints. With
// endpoints it accepts established traffic, loopback, ICMP, DHCP
// requests, DNS to the configured resolvers, the addresses the endpoints
// resolve to (sets allow4 and allow6, each element timing out at its DNS
// TTL plus endpoints.Grace and renewed at every refresh), and the field
// peers of the site (Modbus TCP buses, BACnet devices and BBMD, BACnet
// broadcasts on the field interfaces); the rest is counted (out_IFACE,
// out_other) and dropped.
//
// # One batch, whole
//
// Every change (of the site, or of the endpoints' addresses) replaces the
// whole table in one netlink batch: add table, delete table, add table
// and everything in it. The kernel applies a batch whole or not at all,
// so there is never a moment without the table, and no set is ever
// flushed piecemeal (FlushSet is known to leave elements behind). The
// named counters are read before and written back into the new table, so
// drops are not reset by a refresh.
//
// # Probation
//
// Turning the firewall on from a session (RiskyChanges) goes on probation
// like a WAN change: unless confirmed within device.ProbationWindow it is
// rolled back, and the rollback (turning it off) removes the table.
//
// # Caveats
//
// The table stays when the gateway stops: a stopped gateway keeps its
// firewall, and the timed elements of the allow sets expire, so the box
// falls closed, not open. The output chain allows addresses, not ports:
// the port and protocol of an endpoint are the dialers' check
// (device/endpoints). A field peer given by host name (a Modbus bus at
// plc.example:502) is not resolved here: list it in endpoints too. The
// SSH rule follows --ssh-addr, so a console listening on port 0 (tests)
// cannot be firewalled. CoAP (5684) has no site section yet; its port
// opens when one is added to Build. Other tables of the ruleset
// (Docker's, the distribution's) are left alone and may accept or drop
// on their own.
package firewall
