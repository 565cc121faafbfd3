// Package stack is the BACnet wire format, written from ASHRAE 135: the
// BACnet/IP virtual link layer (Annex J), the network layer (clause 6),
// the application layer headers (clause 20.1), the tag encoding of every
// primitive type (clause 20.2) and the services the gateway speaks
// (Who-Is/I-Am, ReadProperty, ReadPropertyMultiple, WriteProperty,
// SubscribeCOV and the COV notifications), with the clause 21
// enumerations as typed values.
//
// # Layers
//
// One file per layer: bvlc.go, npdu.go, apdu.go, tags.go, services.go,
// enums.go. Each layer decodes its header and hands the rest on as a
// payload slice, so a frame is parsed once without copying; decoded
// slices alias the input. Encoders are Append functions that add to a
// caller's buffer.
//
// Service decoders read with a Reader whose methods follow the ASN.1
// productions (ContextObject(0), ContextUnsigned(1), Open(3)...). A
// property value is a list of Values: application-tagged primitives are
// decoded, context-tagged and constructed elements are kept encoded
// (TypeRaw) because only the property's definition says what they mean.
//
// # Bad input
//
// Every decoder returns an error wrapping one of the sentinel errors
// (ErrShort, ErrBadTag, ErrRange...) and naming the layer and the field,
// and never panics: fuzz targets cover each one. A length is checked
// against the octets actually present before anything is sliced or
// allocated; nesting is bounded by MaxNesting, integers by MaxIntLength,
// addresses by MaxMACLength and B/IP frames by MaxBVLCLength.
//
// # Caveats
//
//   - CharacterStrings in IBM/Microsoft DBCS or JIS X 0208 are refused
//     (ErrCharset); UTF-8, UCS-2, UCS-4 and ISO 8859-1 are read, and
//     invalid UTF-8 octets are replaced rather than refused.
//   - Enumeration names cover the values a building gateway meets; any
//     other value prints and parses as its number.
//   - Segmentation is not done here: APDU carries the segment fields and
//     the node package reassembles.
package stack
