// Package endpoints is the gateway's outbound allow-list: the site's
// endpoints (host, port, protocol), what their names resolve to, and the
// check the gateway's own dialers make before they connect.
//
// # Resolving
//
// A List asks the configured resolvers (those of /etc/resolv.conf by
// default) for the A and AAAA records of each name itself, over UDP and
// again over TCP when the answer is truncated, because the firewall needs
// the TTL of each answer and the standard library's resolver does not give
// it. Each name is asked again when its TTL (clamped to MinTTL..MaxTTL)
// runs out; a name that does not resolve is reported in health and asked
// again after RetryAfter, never fatal. A name keeps at most
// MaxAddrsPerName addresses: an answer of hundreds is cut and reported
// truncated.
//
// # Dialling
//
// DialContext refuses a destination the list does not name with a
// *NotAllowedError (ErrNotAllowed) that says which entry to add, and
// dials an allowed name at the addresses the list resolved, not at a
// fresh lookup's: the connection goes where the firewall's output chain
// (device/firewall) lets it. Addresses gives those addresses with their
// timeouts for the firewall's sets.
//
// # Caveats
//
// An empty endpoints list restricts nothing (sites written before the
// allow-list keep working); the firewall's output chain is then open too.
// Search domains and /etc/hosts are not used: endpoints are full names or
// IP addresses. Names are compared case-insensitively, without the final
// dot; an IP address is allowed on an endpoint's port when an allowed
// name currently resolves to it.
package endpoints
