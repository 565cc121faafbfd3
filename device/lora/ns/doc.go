// Package ns is an embedded LoRaWAN 1.0.x network server for a site's own
// class A sensors, so that they keep working with no network server
// beyond the gateway. It takes uplinks from the packet forwarder server
// (package semtech), authenticates and decrypts them, and hands each
// application payload on as an Uplink; it answers joins, acknowledges
// confirmed uplinks and sends queued downlinks in the class A windows.
//
// # What it does
//
//   - OTAA: JoinRequest MIC with the device's AppKey, DevNonce replay
//     refusal (the used nonces are persisted), DevAddr allocation within the
//     NetID, session keys derived from AppNonce/NetID/DevNonce, and the
//     join accept (with the plan's extra channels as CFList) in
//     JOIN_ACCEPT_DELAY1 (5 s) or 2 (6 s) after the request.
//   - ABP: sessions given in the device list.
//   - Uplinks: lookup by DevAddr (several devices may share one), MIC over
//     the 32-bit counter reconstructed from the 16 bits on air, replay
//     refusal, FRMPayload decryption, MAC commands (LinkCheckReq answered,
//     DevStatusAns recorded).
//   - De-duplication: copies of one frame from several demodulators within
//     Config.DedupWindow are one frame, with the best RSSI/SNR.
//   - Class A downlinks: acknowledgements, MAC answers and queued
//     application downlinks in RX1 (the uplink's channel, data rate minus
//     RX1DROffset) or RX2 (869.525 MHz, DR0 in EU868), timed from the
//     uplink's tmst (tmst + delay, wrapping at 32 bits).
//
// # State
//
// What must survive a restart goes through Store, a get/put of opaque
// bytes by key: per device, the session (DevAddr, keys, FCntUp, FCntDown,
// the last AppNonce) under "session/<DevEUI>" and the used DevNonces under
// "devnonce/<DevEUI>". A session is written before the frame that changed
// it is delivered or answered, and a join's before its accept is sent, so
// a restart never accepts a replayed frame or DevNonce.
//
// # Concurrency
//
// HandleRx may be called from any goroutine (it only queues); Run does
// the work on one goroutine and calls OnUplink and OnFrame from it.
// Devices, Stats, Enqueue and SetDevices are safe at any time.
//
// # Caveats
//
//   - Class A only, EU868 only, LoRaWAN 1.0.x only (no 1.1 keys).
//   - No ADR: LinkADRReq is never sent; devices keep their own data rate.
//   - Application downlinks are unconfirmed and not persisted: a restart
//     drops the queue.
//   - At most MaxDevNonces used DevNonces are kept per device (the oldest
//     are forgotten), which bounds the protection of 1.0.2/1.0.3 devices
//     with random nonces; 1.0.4 devices count up and are fully protected.
//   - A copy of a frame arriving after the window (slow backhaul) is a
//     frame of its own: a retransmission for data, a DevNonce replay for a
//     join, each counted as such.
package ns
