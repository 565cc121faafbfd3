package stack

import "errors"

// Errors returned by the decoders of this package. Callers test them with
// errors.Is; the returned errors wrap them with the layer and the field that
// was wrong ("decode npdu: dadr: short frame: need 6 octets, have 2").
var (
	// ErrShort means the frame ended before a field it announced.
	ErrShort = errors.New("short frame")
	// ErrTrailing means octets were left over after a complete message.
	ErrTrailing = errors.New("trailing octets")
	// ErrBadTag means a tag was not the one the service's grammar expects
	// there, or its length or class is impossible for its type.
	ErrBadTag = errors.New("unexpected tag")
	// ErrTooLong means a length exceeds this package's bounds (MaxTagLength,
	// MaxNesting) or the field's own limit.
	ErrTooLong = errors.New("length out of bounds")
	// ErrVersion means a BVLC type or NPDU protocol version other than 1.
	ErrVersion = errors.New("unsupported protocol version")
	// ErrUnknownFunction means a BVLC function, APDU type or MS/TP frame
	// type that this stack does not know.
	ErrUnknownFunction = errors.New("unknown function")
	// ErrRange means a value is outside what its field can hold (an object
	// instance above 4194303, a priority outside 1..16).
	ErrRange = errors.New("value out of range")
	// ErrCharset means a CharacterString in a character set this stack
	// cannot turn into UTF-8 (IBM/Microsoft DBCS, JIS X 0208).
	ErrCharset = errors.New("unsupported character set")
	// ErrType means a value of one application type was used as another
	// (an Enumerated where a Real was needed).
	ErrType = errors.New("wrong value type")
)
