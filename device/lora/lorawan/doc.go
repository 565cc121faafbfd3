// Package lorawan is the LoRaWAN 1.0.x link layer, written from the
// LoRaWAN 1.0.2, 1.0.3 and 1.0.4 specifications: the frame codec, the
// MAC commands, the cryptography (AES-128 from crypto/aes, AES-CMAC after
// RFC 4493) and the join procedure. It knows nothing of gateways, sites or
// the field layer: bytes in, typed values out, and the reverse.
//
// # Layers
//
// One file per layer, each with golden frames and a fuzz target:
//
//   - phy.go: PHYPayload, MHDR and the data frame (FHDR, FCtrl, FOpts,
//     FPort, FRMPayload, MIC). DecodeData parses a frame as received;
//     Data.Encode builds one, encrypting FRMPayload and signing it.
//   - fcnt.go: the 16-bit FCnt on air back to the 32-bit counter, with
//     rollover, retransmissions and replay refusal (CheckUplink).
//   - mac.go: the MAC commands of 1.0.x carried in FOpts or in FRMPayload
//     on port 0. Parsing stops cleanly at the first command it does not
//     know, since the length of an unknown command cannot be known.
//   - crypto.go: AES-CMAC, the MIC of data frames (block B0), FRMPayload
//     encryption (blocks Ai) and the session key derivation.
//   - join.go: JoinRequest and JoinAccept (with its CFList), including the
//     join accept's "encryption" with AES decrypt that the specification
//     prescribes, so that a device only needs AES encrypt.
//
// # Byte order
//
// Multi-byte fields travel little-endian. The Go types hold them as people
// read them: an EUI64 prints as on a label (big-endian) and a DevAddr as a
// 32-bit number; the codec reverses the bytes on the wire.
//
// # Secrets
//
// A Key never shows its value: String, GoString, every fmt verb,
// MarshalText (and so JSON and YAML) and slog give "<set>". Reveal and
// Bytes are the only ways to the value, for the code that stores it. MICs
// are compared in constant time.
//
// # Caveats
//
//   - LoRaWAN 1.1 (separate network keys, encrypted FOpts, rejoin) is not
//     implemented; MType 6 (RejoinRequest in 1.1) is RFU here and refused.
//   - MAC commands beyond 1.0.4's list (class B beacons and ping slots)
//     stop the parse as unknown ones do; the commands before them are kept.
//   - The LoRaWAN 1.0.x specifications give no example frames; the goldens
//     are RFC 4493's vectors and frames checked against lora-packet (npm).
package lorawan
