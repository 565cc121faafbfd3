// Package band holds the regional parameters the network server needs,
// as data: channels, data rates and their names on the packet forwarder's
// wire ("SF7BW125"), payload limits, receive windows and delays. Only
// EU868 exists, from the LoRaWAN Regional Parameters (RP002-1.0.x, EU863-870).
//
// # The channel plan
//
// A Plan is the effective channel plan of the site: the three default
// channels every EU868 device knows (868.1, 868.3, 868.5 MHz), plus up to
// five extra ones the join accept's CFList gives devices. The console shows
// it as is; the network server uses it to pick RX1 and RX2.
//
// # Caveats
//
//   - Only EU868. Other regions differ in more than numbers (fixed channel
//     plans with ChMask blocks, different RX1 frequency rules).
//   - Duty cycle is not enforced here: the concentrator's packet forwarder
//     and the regulatory sub-band limits are left to the radio side.
//   - The payload limits are those without a repeater (the larger ones).
package band
