// Package snmp is the SNMP driver of the field layer: the gateway as an
// SNMP manager polling the site's agents (snmp.devices) with v2c or v3
// (USM, HMAC-SHA-2 authentication, AES privacy), and a v2c trap and
// inform receiver on snmp.trap_listen whose rules raise and clear alerts.
// The wire protocol is github.com/gosnmp/gosnmp; this package decides what
// is asked, how often, how much, and what the answers mean.
//
// # Polling
//
// Each device has one poller goroutine and one gosnmp session, used by
// one request at a time (the poll cycle, `points read --now`, `snmp get`
// and `snmp walk` take turns). A cycle GETs the scalar points, at most
// MaxOIDsPerRequest OIDs per request, and walks each walk point's column
// (and its naming column) with GETBULK, at most the point's max_rows rows.
// Rate points also fetch sysUpTime.0: an agent whose uptime went back has
// restarted, and its counters with it.
//
// # Values
//
// Integers, gauges, counters, timeticks and octet strings that read as a
// number become numbers; convert: rate turns Counter32/Counter64 into
// change per second (one wrap between two samples is undone; a fall of
// more than half the counter's range, or an agent restart, is a reset and
// gives no rate for that cycle); hwaddr turns a 6-octet MAC address into
// its 48-bit number; enum maps values as written by `snmp get`. Scale
// multiplies the result.
//
// # Device state
//
// A device is online when its cycle read every point, degraded when part
// failed or until DefaultOfflineAfter cycles in a row read nothing, then
// offline (polled with backoff up to DefaultMaxBackoff). Wrong v3
// credentials (unknown user, wrong digest, decryption error) make it
// offline at once, with an error that says so: they do not heal by
// waiting. A v2c agent does not answer a wrong community at all, so that
// shows as a timeout naming the community as a likely cause.
//
// # Traps
//
// The receiver opens only when snmp.trap_listen is set. A trap is taken
// from a site device's address only, and must carry snmp.trap_community
// (or, without it, the sending device's own community; compared in
// constant time). An inform is acknowledged once it was taken. The trap
// OID and the varbinds are matched against snmp.trap_rules (first match
// wins); a rule raises or clears the alert "snmp.trap.OID" of the device,
// shown in `alerts` and audited (snmp.trap) when it changes.
//
// # Caveats
//
//   - v3 traps are not received: gosnmp's listener documents its v3 trap
//     path as unreliable, and the receiver drops them (counted).
//   - Counter32 wrap handling assumes at most one wrap between samples: a
//     busy 10 Gb/s port wraps ifInOctets in under four seconds. Poll such
//     ports through the 64-bit ifHCInOctets column.
//   - There is no SET: SNMP points are read-only.
//   - Agents are reached by UDP only; host names in addresses are resolved
//     when the poller starts (and for traps, when the site is applied).
package snmp
