// Package bacnet is the gateway's BACnet driver: it runs the site's bacnet
// section behind the field layer — the BACnet/IP port and the MS/TP
// lines, polling and COV subscriptions of the site's BACnet devices,
// confirmed writes with priorities, discovery — and serves chosen site
// points of any protocol as objects of the gateway's own Device object.
// The stack itself lives in the subpackages: stack (the wire format),
// node (network layer, transactions, client and server) and mstp (the
// MS/TP master node); bacnetsim is a simulated device. This package is the
// only one that knows the site and the field layer.
//
// # Links
//
// The BACnet/IP port opens only while something uses it (bacnet.serve,
// or a device not on an MS/TP bus), and only on bacnet.address or the
// first IPv4 address of bacnet.interface, port 47808 unless the site says
// otherwise (README requirement 13). Because a socket bound to a unicast
// address hears no broadcasts on Linux, a second, receive-only socket is
// bound to the subnet's broadcast address on the same port: Who-Is and
// I-Am sent to everyone reach the gateway there, and nothing else is
// opened. With bacnet.bbmd the gateway registers as a foreign device and
// its broadcasts go through the BBMD. Each MS/TP bus runs the master node
// on its serial line. A link that cannot open (the port is taken, the
// address is not on the gateway yet) is retried every Options.Retry and
// State says why; a link whose settings change is opened afresh, and its
// devices find their device again and subscribe anew.
//
// # Devices and points
//
// Each device has a poller. It finds the device (the site's address, else
// a Who-Is for its instance: a global broadcast on BACnet/IP, so that
// devices behind routers answer too, found again afresh once the device
// is offline), reads the units of analog points whose unit the site does
// not give, subscribes to COV for the points that ask (bacnet.devices[].cov
// or the point's cov; present-value only) and polls the others every
// interval by ReadPropertyMultiple (ReadProperty for a device that refuses
// it), with status-flags beside each present-value. A point whose
// subscription the device refused, or whose renewal fails, is polled
// instead (and COV is asked again after Options.COVRetry); a COV point is
// also polled while it has no good value (not notified yet, after an
// outage or a fault). A device with every point on COV is still asked for
// its system-status every interval, so that its absence is noticed.
//
// Quality: a fault in status-flags makes the reading an error naming the
// object's reliability ("fault: over-range"); out-of-service makes it
// stale (its present-value is not the field's); an error for the property
// is an error reading ("property: unknown-property"). The device's state
// follows field.CycleState like Modbus: online, degraded, then offline
// after Options.OfflineAfter cycles that read nothing, polled with backoff.
//
// Writes (field.Write) command present-value at the write's priority, else
// the point's (bacnet.devices[].points[].priority), else the device's
// default; a write of no value (Value.Valid false) relinquishes that
// priority (16 when none is given). The value takes the datatype of the
// object: Enumerated for binary objects (true/false or 1/0), Unsigned for
// multi-state ones (1, 2...), Real for analog ones. The point is read back
// at once. The gateway audits every write (Gateway.WritePoint).
//
// # Serving
//
// bacnet.serve names site points of any protocol; each becomes an
// analog-value, binary-value or multi-state-value of the gateway's Device
// object (bacnet.device_instance), answering Who-Is, ReadProperty,
// ReadPropertyMultiple and SubscribeCOV. A served object reads the
// point's latest reading (a reading that is not good is served with the
// fault flag: stale as communication-failure, error as unreliable-other),
// and tells its COV subscribers as soon as the point's device was read. A
// writable one has a priority array; each write that changes what wins is
// a confirmed, audited write of the point (Gateway.WritePoint, actor
// "bacnet:ADDRESS", role system: the peer, no person), and the BACnet
// client's request is answered only when the field write is done. When
// every priority is released the point gets relinquish_default, or is
// itself relinquished (BACnet points). A change of bacnet.serve replaces
// the objects in place (database-revision counts it).
//
// # Query API
//
// State (links, sockets, BBMD registration, every counter of dropped
// input), Devices (where each device was found, how many points are on
// COV), Points (per point: cov or polled and why), Served, DiscoverDevices
// (Who-Is broadcast, directed, or on an MS/TP bus, with vendor, model and
// object count), Objects (a device's objects with live values), and
// DeviceFor/PointFor, which turn what discovery found into site entries.
// From returns the driver running for a gateway.
//
// # Bad input
//
// Malformed frames, answers to invoke ids never sent, segmented answers
// that never complete and I-Am floods are dropped and counted by the node
// (State's Stats) and cost only the device concerned: each poller waits
// on its own transactions, resolved devices are never evicted from the
// I-Am table, and COV notifications are queued (MaxCOVQueue, drops
// counted) so the receive goroutine never waits for the database.
//
// # Caveats
//
//   - The gateway's server sends no segmented answers and keeps its
//     priority arrays in memory: after a restart the served points keep
//     the field's value, not the commands (node's caveats).
//   - COV notifications are unconfirmed; a lost one is made good at the
//     next renewal (half the lifetime), which notifies the current value.
//   - One MS/TP bus per serial line; no routing between the gateway's
//     links; the gateway has no BACnet vendor id of its own (0).
package bacnet
