// Package coap is the CoAP-over-DTLS driver of the field layer: a CoAP
// server (RFC 7252) on the site's coap.listen address, DTLS 1.2 only, to
// which constrained sensors push their readings. Each sensor has its own
// pre-shared key and identity (RFC 4279) in the site file.
//
// # Resources
//
//   - POST /v1/readings, a JSON (50) or CBOR (60) body: a map of point
//     names to a value (number, bool or text), to a sample {"v": value, "t":
//     seconds since 1970} (CBOR may tag t with tag 1), or to an array of
//     samples. Answered 2.04 Changed, or 4.00 with a diagnostic text.
//     Readings enter the field layer's one readings path as the sensor's
//     device (protocol coap).
//   - GET /v1/config: the sensor's own settings (Config, JSON),
//     observable (RFC 7641): observers are notified when the site changes
//     them.
//
// # Bounds and refusals
//
// Every refusal is counted (Counter, in health and `coap sensors`) and
// logged without any secret, at most MaxLogsPerSecond lines a second.
// Handshakes in progress are bounded in all (MaxHandshakes) and per source
// address (MaxHandshakesPerAddr), sessions in all (MaxSessions) and to one
// per identity; a handshake must end within HandshakeTimeout; only a
// datagram holding a ClientHello gets any state. An unknown identity is
// answered like a wrong key (RFC 4279 section 2: a random key stands in),
// so identities cannot be probed, but the two are counted apart. Bodies
// are bounded (MaxBodySize, MaxDepth, MaxItems, MaxSamples) and decoded by
// our own decoders (cbor.go from RFC 8949, jsonbody.go), fuzzed. DTLS
// drops replayed records (ReplayWindow); a reading whose own time is not
// newer than one accepted before for the point is dropped as a replay, and
// a body with a time outside MaxAge..MaxSkew of the gateway's clock is
// refused. A site change that removes a sensor or changes its key ends its
// session at once.
//
// # Cipher suites
//
// CipherSuites lists the PSK suites offered, checked against libcoap's
// coap-client-openssl by the interop test.
//
// # Caveats
//
//   - DTLS 1.2 only (pion/dtls has no DTLS 1.3), no connection IDs: a
//     sensor whose NAT mapping changes makes a new handshake.
//   - The configuration is offered as JSON only (Accept: cbor is 4.06).
//   - Readings without their own time take the gateway's arrival time and
//     are never treated as replays: CoAP's message-ID deduplication covers
//     retransmissions within a session.
//   - Points read gives the latest values: a sensor cannot be asked.
//   - pion/dtls keeps state for a source from its first ClientHello (its
//     cookie exchange is not stateless): a spoofed ClientHello holds a
//     handshake slot until HandshakeTimeout, which is why the slots are
//     bounded in all and per address. A flood from many spoofed addresses
//     can fill the 64 slots and delay real sensors' handshakes (they
//     retransmit), not their established sessions.
package coap
