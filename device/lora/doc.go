// Package lora is the gateway's LoRaWAN side: the field driver that runs
// the site's lora section (the packet forwarder server, the embedded
// network server or the relay to a remote one, and the payload codecs that
// turn uplinks into readings), the query API the console and the exec
// commands read, and the radio's on/off state for health.
//
// The LoRaWAN stack itself lives in the subpackages, one layer each:
// lorawan (frames, MAC commands, crypto, join), band (EU868), semtech (the
// packet forwarder protocol: Server and Relay), ns (the embedded network
// server), payload (Cayenne LPP and declarative codecs) and lorasim (a
// simulated packet forwarder with sensors). This package is the only one
// that knows the site and the field layer.
//
// # The driver
//
// Driver implements field.Driver for protocol lora. While lora.enabled is
// set and the radio is not disabled for good, it listens for the
// concentrator's packet forwarder on lora.packet_forwarder (UDP) and
// nowhere else: the protocol has no authentication. It follows site
// changes without a restart: a new address, mode, gateway EUI or network
// server re-opens the socket (counters restart, sessions do not: they are
// in the database), a change of devices or codecs is applied in place, and
// disabling LoRa closes the socket. A socket that cannot be opened (the
// port is taken) is retried every Options.Retry, and the error is shown
// in Concentrator.
//
//   - embedded: the semtech.Server feeds the ns.Server, with the site's
//     devices and their state (sessions, frame counters, used DevNonces)
//     in the gateway's database under KV("lora"). Each uplink is decoded
//     with the device's codec and recorded in the field layer as readings
//     named by the codec (Cayenne LPP: {type}_{channel}).
//   - forward: a semtech.Relay passes every datagram to
//     lora.network_server unchanged and buffers uplinks across short
//     outages of the remote; Concentrator reports its counters.
//
// # Device state
//
// A LoRaWAN device cannot be polled: it speaks when it wants. Its state
// follows from what it sends, measured against lora.devices[].interval
// (the uplink period it is expected to keep):
//
//   - unknown: nothing heard since the driver started (or offline, once
//     OfflineAfter intervals have passed without a word);
//   - online: its last uplink decoded;
//   - degraded: its last uplink did not decode with its codec, or it has
//     been silent for more than DegradedAfter intervals (two missed
//     uplinks and some slack: single losses are normal on a radio link);
//     its readings turn stale;
//   - offline: silent for more than OfflineAfter intervals.
//
// Read returns the latest readings (class A devices listen only right
// after they send, so there is nothing to ask over the air). Write queues
// a class A downlink when the device's codec defines one for the point
// (payload.Downlink): it goes out after the device's next uplink, and
// Write returns once it is queued, not when the device received it.
//
// # Query API
//
// Concentrator (the forwarders: last PUSH_DATA and PULL_DATA, packets
// received and forwarded, duplicates, CRC errors, everything refused),
// Devices (each device's join state, last uplink, RSSI/SNR, frame
// counters, field state), Frames and SubscribeFrames (the recent frames,
// bounded by MaxFrames, and a live feed) and Plan (the effective EU868
// channel plan). From returns the driver running for a gateway.
//
// # The radio's state
//
// Radio follows the site's lora section and reports, in order of
// precedence: permanently disabled (only `sitegate radio enable lora` on
// the gateway clears it), disabled, no concentrator (enabled, but no
// packet forwarder has been heard), running. A Backend reports the last
// two: the Driver itself, Sim (a pretend concentrator, for tests of the
// console) or Linux (looks for concentrator hardware).
//
// # Caveats
//
//   - Only EU868 and class A, as the embedded network server (package ns).
//   - Frames and device statistics are kept in memory: a restart of the
//     gateway or a change of the socket starts them afresh (sessions and
//     counters that protect against replays are durable).
//   - Forward mode decodes nothing: Frames and Devices are empty there,
//     the remote network server has them.
//   - Errors are attributed to a device only when the frame proves who it
//     is from (a join request names its DevEUI); a data frame with a bad
//     MIC cannot be, and counts only in the network server's statistics.
//   - Sessions and DevNonces of devices removed from the site stay in the
//     database, so that a device put back cannot be replayed against.
package lora
