// Package wan selects the gateway's uplink among Ethernet, Wi-Fi and
// cellular (with SIM slots 1 and 2), and carries its decisions out through
// a Backend.
//
// # Probes and hysteresis
//
// Every wan.probe.interval the Manager probes each enabled link at once: a
// TCP connection to each of wan.probe.targets through that link (bound to
// its interface); any target answering is a success. A link that is up
// goes down after down_after failed probes in a row, and a link that is
// down comes back up only after up_after good probes in a row, so a link
// that fails every other probe never moves the route. The first probe
// after start (or after a link is enabled) decides the link's state at
// once: there is no earlier state to protect, and the gateway should not
// sit offline for up_after intervals at boot.
//
// The active uplink is the highest-priority link (wan.priority) that is up;
// with none up the gateway is "offline" and keeps probing. Links that the
// site does not enable (wifi, cellular), that are permanently disabled, or
// that wan.priority omits are "disabled". Each round re-reads the site, so
// priority, probe settings and enablement changes apply at the next round
// (Reconfigure runs one at once).
//
// Every change of the active link (failover, failback, a priority change,
// all links down) and every SIM switch is logged, audited as
// network.changed by device.SystemActor with target "wan" and a detail
// such as
//
//	active ethernet -> wifi: ethernet down after 3 failed probes
//	cellular SIM 1 -> SIM 2: no internet on SIM 1 for 3m0s
//
// and published as a device.EventNetwork with the same detail.
//
// # Cellular
//
// When the active SIM has had no good probe for cellular.failover_after
// (counted from its last good probe, its selection or the manager's start,
// whichever is latest) and the other slot is configured, the manager
// switches SIMs; a SIM left this way is "failed" for a week. With
// rotate: weekly, both SIMs configured, the cellular link up and the other
// SIM neither failed within the week nor over its monthly limit, the
// manager switches SIMs a week after the last rotation. The active SIM,
// the rotation time and the failures are kept in the store (metadata key
// "wan.state") and survive restarts.
//
// # Data usage
//
// Before each round's probes, the manager reads the cellular interface's
// byte counters and adds the growth since the last reading to the active
// SIM's total for the calendar month (in the site's clock.timezone). A
// reading lower than the last one is a reset (or, for a 32-bit counter near
// its top, a wrap) and is handled as such. At 80 % and 100 % of a SIM's
// monthly_limit_mb (binary megabytes, BytesPerMB) the manager logs the
// alert and calls Options.OnUsageAlert once per month; UsageAlerts lists
// the current ones for health rules, and Usage every SIM's month so far.
// Usage alerts are not device.EventNetwork events, which mean network
// changes. Usage is stored
// every PersistEvery, on alerts and SIM switches, and by Stop.
//
// # Backends
//
// Sim (the default, and the demo's) changes nothing on the host: links
// live in memory, a probe sends no traffic and succeeds unless the link was
// made unreachable with SetReachable (the `sim link down|up NAME` exec
// command), and the cellular counters grow with the clock. Linux acts on
// the interfaces the site names and nothing else: default-route metrics
// by netlink (the active link's lowest), probes bound to their interface
// with SO_BINDTODEVICE (name resolution included), the Wi-Fi network
// written for wpa_supplicant with the derived key (see package wifi) and
// applied with wpa_cli, SIM switching and signal through ModemManager
// (mmcli), with a clear "not available" detail where a tool is missing.
//
// # Time
//
// Every timing decision reads the Clock in Options. Tests use a clockwork.Fake
// and call Round after Advance, or Start the manager and Advance the clock.
//
// # Caveats
//
//   - A link that silently drops packets fails only when its probe times
//     out: failover takes up to down_after × interval plus the probe
//     timeout, which by default is half the interval and at most
//     MaxDefaultProbeTimeout (800 ms). Very slow links may need a longer
//     Options.ProbeTimeout, at the cost of slower failover.
//   - A DHCP client or the kernel's router advertisements may put back
//     their own metric on renewal; every round re-applies the ranking, so
//     this lasts at most one interval. Changing an IPv6 default route's
//     metric drops its router-advertisement lifetime.
//   - Linux changes strict reverse-path filtering (rp_filter 1) to loose
//     (2) on the site's interfaces: with strict filtering, replies through
//     a link that is not the default route are dropped and backup links
//     could never be probed.
//   - The SIM PIN is passed to mmcli on its command line, visible to local
//     processes for the moment mmcli runs. It is never logged.
//   - Usage is counted on the gateway's interface; the operator's count
//     (headers, rounding, traffic while the gateway was off) differs.
//   - Without probe targets, sim links are up unless made unreachable and
//     linux links are up when their interface has carrier.
//   - A failed SIM selection is not retried each round (a modem that is
//     registering must not be reset every interval); it is retried at the
//     next switch, change of the SIM's settings or restart, and health
//     shows the error.
package wan
