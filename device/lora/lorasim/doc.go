// Package lorasim plays a Semtech packet forwarder with simulated LoRaWAN
// sensors, so that the embedded network server, the demo and tests can
// run without a radio (`sitegate sim lora`).
//
// # What the sensors do
//
// Each sensor joins by OTAA (DevNonce counting up from 1, as LoRaWAN 1.0.4
// devices do), takes the DevAddr, RX1 delay and RX1 data rate offset from
// the join accept it receives, derives its session keys, then sends a
// Cayenne LPP uplink every interval (temperature_1 and humidity_2, moving
// slowly; or what Config.Payload makes), optionally confirmed. It checks
// that every downlink comes in one of its class A windows, timed from the
// tmst of its uplink, and counts and ignores those that do not
// (WindowMisses), as a device only listens in its windows.
//
// The forwarder side speaks protocol v2: PULL_DATA keepalives from a
// socket of their own, PUSH_DATA with rxpk (and a stat now and then), and
// a TX_ACK for each PULL_RESP. tmst is a 32-bit microsecond counter from
// Run's start (plus Config.TmstOffset, to test its wrap).
//
// # Caveats
//
//   - Downlinks are decoded, not transmitted: their timing is checked
//     against the tmst they name, not waited for.
//   - A sensor that misses its join accept retries after JoinRetry with
//     the next DevNonce; it never rejoins once joined.
//   - Radio metadata (RSSI, SNR, channel) is made up, per sensor.
package lorasim
