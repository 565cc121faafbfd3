// Package field is the protocol-neutral field layer: what every protocol
// driver (Modbus, BACnet, SNMP, CoAP, LoRaWAN) implements, and what the rest
// of the gateway — the console, the exec commands, health, telemetry — sees
// of the field, whatever the protocol.
//
// # Drivers
//
// A Driver runs its part of the site (Run), follows site changes without a
// restart, and reports through the Sink it was given: every device cycle's
// Status and Readings. It answers on-demand reads and confirmed writes, and
// a Discoverer also finds devices (with progress, cancellable by its
// context). Drivers live in subpackages of device/ and know nothing of the
// console.
//
// # The readings path
//
// Hub is the one readings path: the latest reading of every point (for the
// console and `points read`), device statuses, a live notification per
// device cycle, and every reading handed on for telemetry (the gateway's
// group commit stores them for the uplink). It knows the
// site's devices and points through SetTopology (the gateway derives the
// topology from the site on every change) and routes reads, writes and
// discovery to the driver of the device's protocol. Device and point names
// are unique across the whole site, so a device name alone identifies it.
//
// # Caveats
//
//   - Readings a driver reports for a device that is not (or no longer) in
//     the topology are dropped: a site change may race a cycle in flight.
//   - A device is online only when its last cycle read at least one point
//     good; a device whose every read fails is degraded, then offline.
package field
