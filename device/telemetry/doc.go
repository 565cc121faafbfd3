// Package telemetry encodes readings compactly: Frames for the gateway's
// store and Blocks for the wire (topic sitegate/v1/{gateway}/telemetry/v2).
// It imports no other sitegate package, so the cloud side can import it on
// its own. The formats below are a contract with the cloud: a change of
// layout needs a new version (the low nibble of the first byte).
//
// # Model
//
// A Sample is one reading: a time (Unix milliseconds), a Value (absent, a
// float64, a bool or a text), a Quality (good, stale, error) and an error
// text. A Series is a (device, point) pair. Decoding gives back exactly
// what was encoded: every float64 bit for bit (NaN payloads, -0, ±Inf),
// times of any int64 value in any order, qualities, error texts of up to
// MaxErrorLen bytes and text values of up to MaxTextLen bytes, any bytes
// (encoders cut longer ones with TruncateError and TruncateText).
//
// # Versions
//
// Version 2 of frames (0xF2) and blocks (0xB2) is version 1 with text
// values (SNMP's sysName, a firmware version). Encoders write version 2
// only when a frame or block holds a text value, so a site without texts
// keeps producing version 1, which decoders of version 1 read; decoders
// of this version read both. Below, "(v2)" marks what only version 2 has.
//
// A Dictionary is an ordered list of series; frames refer to series by
// index in it. Its DictID is the first 8 bytes of a SHA-256 of its names,
// so equal lists have equal ids and a store keeps each dictionary once.
// Dictionary.With adds series without moving the others, so older frames
// stay valid with the newer dictionary.
//
// A Frame is what the store keeps for one group commit (about 1 s of the
// whole site). It decodes on its own given its dictionary: any frame can be
// evicted or acknowledged independently, and a restart needs no state.
//
// A Block is what goes on the wire: the gateway id, the outbox seqs of the
// frames it carries, its own dictionary, and per series the samples of the
// batch window compressed along time (after Gorilla, VLDB 2015). The
// uplink builds one from decoded frames (Block.AddFrame). Block.JSON gives
// today's JSON contract.
//
// # Sizes
//
// Measured by BenchmarkSize (60 s of 100 devices × 20 points polled every
// second with the poller's jitter, 1 s frames, 10 s blocks), in bytes per
// reading; today's JSON costs 109–120:
//
//	workload                           frame   block
//	float32, as `sitegate sim` serves   2.96    2.38
//	temperature, int16 × 0.1            0.85    0.72
//	energy counter, uint32 × 0.01       3.32    0.92
//	noisy float32                       2.75    2.92
//
// # Common encodings
//
// uvarint is encoding/binary's unsigned varint; varint is a uvarint of the
// zig-zag value ((v << 1) ^ (v >> 63)). Time differences are computed
// modulo 2^64, so any int64 times round-trip. Every encoding ends with a
// CRC-32C (Castagnoli), little endian, of all bytes before it: a damaged
// or cut input fails with ErrCorrupt rather than decoding to wrong values.
//
// Decimal codes say a number is an integer m scaled by a power of ten, in
// one of two formulas, because the field layer computes raw × scale
// (3 × 0.1 = 0.30000000000000004) while a decimal is m / 10^p (3 / 10 = 0.3):
//
//	div p (p = 0..15):  float64(m) / 1e p
//	mul p (p = 1..15):  float64(m) * 1e-p   (1e-p: the float64 nearest 10^-p)
//
// Both are one correctly rounded IEEE operation on exact operands, so they
// decode identically everywhere. An encoder uses a code only after checking
// that it gives back the very bits (it tries p up to 6); else a binary32
// when the value is exactly one, else the raw binary64. Binary32 NaNs map
// to binary64 by shifting the payload 29 bits, defined here rather than by
// the hardware, so NaN payloads survive on every platform.
//
// # Dictionary (version 1)
//
//	byte     0xD1 (D: dictionary, 1: version)
//	uvarint  n, series (≤ MaxSeries)
//	byte     names encoding: 0 as they are, 1 DEFLATE (RFC 1951)
//	uvarint  if 1: the names' length before compression (≤ MaxNamesBytes)
//	...      the names, or their DEFLATE stream, up to the checksum
//	4 bytes  CRC-32C
//
// The names are front-coded: per series its device, then its point, each
// as a uvarint of the bytes it shares with the same name of the series
// before (0 for the first), a uvarint of the remaining length and those
// bytes; a name has at most MaxNameLen bytes and series are distinct. The
// id is SHA-256(0xD1 ‖ uvarint n ‖ front-coded names)[:8]. Encoders
// compress when that is smaller. The 2,000 series of the site take
// 41.9 KB as length-prefixed names, 5.3 KB DEFLATEd, 23.6 KB front-coded
// and 391 bytes front-coded and DEFLATEd (a device's name becomes "all 7
// bytes shared", which DEFLATE folds with the point names repeating per
// device).
//
// # Frame (versions 1 and 2)
//
//	byte     0xF1 (F: frame, 1: version), 0xF2 with text values
//	8 bytes  dictionary id
//	varint   base time (Unix ms): the first group's first time, 0 if empty
//	uvarint  N, samples (≤ MaxSamples)
//	byte     body encoding: 0 as it is, 1 DEFLATE
//	uvarint  if 1: the body's length before compression
//	...      the body, or its DEFLATE stream, up to the checksum
//	4 bytes  CRC-32C
//
// The header is never compressed: ReadFrameHeader gives the dictionary id
// and the sample count without decoding. The body:
//
//	uvarint  G, time groups
//	G ×      uvarint k ≥ 1, times per series
//	         k × varint: each time minus the one before (the first: minus the base time)
//	         uvarint R ≥ 1, runs of series indexes
//	         R × (varint: start minus cursor; uvarint: length − 1)
//	uvarint  C, value code runs
//	C ×      byte code, uvarint length − 1 (the runs cover the N samples)
//	...      per sample with a decimal code, in sample order: varint m
//	...      the float32 values as 4 byte planes: bits 31–24 of each in
//	         sample order, then bits 23–16, 15–8, 7–0
//	...      the float64 values as 8 byte planes likewise
//	...      the bools: bit i%8 of byte i/8 is the i-th bool (LSB first), padding 0
//	uvarint  (v2) T, text values; T × (uvarint length 0..MaxTextLen, bytes)
//	...      (v2) per sample with the text code, in sample order: uvarint
//	         its index in the text values (0..T−1)
//	uvarint  E, error texts; E × (uvarint length 1..MaxErrorLen, bytes)
//	uvarint  X, exceptions
//	X ×      uvarint gap, byte quality, uvarint error reference
//
// A time group is the series whose samples have the same times in the same
// order (a device's cycle: one group of 20 series and 1 time; a device
// polled twice in the frame, or points left stale with an older time, make
// groups of their own). The cursor starts at 0 and moves to the end of each
// run, across groups; each series index is below MaxSeries and appears
// once. Sample order is: groups in order, a group's series in run order, a
// series' k samples at the group's times in order. Decoded frames list
// series in index order.
//
// Value codes: 0x00 absent; 0x01 bool; 0x02 float32; 0x03 float64;
// 0x04 text (v2); 0x10|p decimal div p; 0x20|p decimal mul p. Byte planes put the sign and
// exponent bytes of a site's values side by side, where DEFLATE finds
// them: a float32 costs about 2.8 bytes instead of 4.
//
// Exceptions are the samples not good or with an error text: the first at
// position gap, each next at the previous position + 1 + gap; quality 0
// good, 1 stale, 2 error; reference 0 no text, i the i-th text of the
// table. A frame without exceptions spends 2 bytes on qualities and errors.
//
// # Block (versions 1 and 2)
//
//	byte     0xB1 (B: block, 1: version), 0xB2 with text values
//	uvarint  gateway id length (≤ MaxGatewayLen), bytes
//	uvarint  S, outbox seqs (≤ MaxSeqs); if S > 0: uvarint the first,
//	         then S−1 × uvarint: each minus the one before minus 1
//	uvarint  L, then L bytes: the block's dictionary (as above)
//	varint   base time: the first series' first time
//	uvarint  N, samples (≤ MaxSamples)
//	uvarint  E, error texts; E × (uvarint length 1..MaxErrorLen, bytes)
//	uvarint  (v2) T, text values; T × (uvarint length 0..MaxTextLen, bytes)
//	...      the bit stream, most significant bit first, zero-padded to a byte
//	4 bytes  CRC-32C
//
// The bit stream holds, per series of the dictionary in order:
//
//	vlc      time group: 0 the same as the series before; 1 new times follow;
//	         r ≥ 2 those of group r−2 (groups numbered as they appear)
//	         if new: vlc k−1, seq(times, base time)
//	1 bit    0: one 2-bit kind for all samples follows; 1: a 2-bit kind per
//	         sample (0 absent, 1 number, 2 bool, 3 text (v2))
//	         if any numbers, 2 bits of number mode and the numbers in order:
//	           0 XOR on 64 bits; 1 XOR on the binary32 bits;
//	           2 decimal: 1 bit (0 div, 1 mul), 4 bits p, seq(m, 0);
//	           3 bits as integers: 1 bit (0: binary32 as int32, 1: binary64
//	             as int64), seq(bits, 0)
//	         the bools, 1 bit each
//	         (v2) the texts: the first a vlc index into the text values;
//	         each next 0 when it is the text before, else 1 and a vlc index
//	1 bit    0: every sample good without error text; 1: per sample 0 as
//	         the sample before (at first: good, no text), or 1, vlc quality,
//	         vlc error reference (as in frames)
//
// Encoders pick, per series, the shortest number mode that fits.
// seq(v, ref) is a sequence of integers: 7 bits of length n and n bits of
// zig-zag(v0 − ref); if more follow, 1 bit: 1 all equal to v0 (done), else
// 1 bit mode (0 deltas, 1 deltas of deltas), 6 bits order k and each
// zig-zagged residual in an exponential-Golomb code of order k: with
// q = u >> k and n = bit length of q+1, n−1 zero bits, q+1 in n bits, then
// the k low bits of u. Encoders pick the mode and k that take the fewest
// bits; a 1 s poll with the poller's jitter costs about 9 bits per time.
//
// vlc is a prefix code for small counts: 0 → 0; 10 + 3 bits → 1..8;
// 110 + 6 bits → 9..72; 1110 + 9 bits → 73..584; 11110 + 16 bits →
// 585..66,120; 11111 + 64 bits → the value.
//
// XOR (Gorilla) on w bits: the first value raw; then per value 0 when it
// equals the one before; else the XOR x with the one before as 10 and its
// bits inside the previous window (w − leading − trailing bits of the
// window), or 11, 5 bits of leading zeros (at most 31), the length in 6
// bits (w = 64) or 5 bits (w = 32), 0 meaning w, and that many bits, which
// become the window.
//
// # JSON
//
// Block.JSON writes one object for the whole block, since its readings are
// merged across the frames it carries:
//
//	{"seq":45,"seqs":[41,44,45],"gateway":"gw-0001","readings":[
//	 {"device":"meter","point":"voltage_l1","value":229.875,"quality":"good","ts":"2025-03-01T08:00:00.003Z"},
//	 {"device":"ahu-1","point":"supply_temp","value":21.5,"quality":"stale","error":"timeout","ts":"2025-03-01T07:59:58Z"}]}
//
// "seq" is the last seq, "seqs" all of them (for gap detection), readings
// in time order. Fields and values are those of the JSON topic (device's
// telemetryPayload): value null when absent, NaN or infinite; error only
// when there is one; ts in UTC as Go's time.Time writes it (RFC 3339,
// fractional seconds without trailing zeros).
//
// # Caveats
//
//   - The encoders hold about 1 MiB of DEFLATE state: keep one Encoder
//     (and one Decoder) per goroutine. The package-level functions build a
//     new one per call.
//   - DEFLATE output is not guaranteed to be the same across Go versions:
//     the same samples may encode to other bytes (any decoder reads both).
//     The golden files use inputs small enough to stay uncompressed.
//   - Series without samples are left out; a frame merges several entries
//     of one series and lists series in index order.
//   - A decoder may allocate about 80 bytes per declared sample, up to
//     MaxSamples (20 MiB), even for a short input: a time group shared by
//     many series is legitimately small. Every count is checked against the
//     bounds and, where each element takes space, against the input left.
//   - Qualities after error are reserved: this version's decoders reject
//     them, so a new quality needs the cloud's decoder updated first.
//   - JSON fails for times outside the years 0–9999 (time.Time's JSON).
//   - The checksum detects damage, not tampering: the uplink's TLS does
//     that on the wire.
package telemetry
