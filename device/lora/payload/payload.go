package payload

import (
	"errors"
	"fmt"
)

// Errors returned by this package.
var (
	// ErrTruncated means the payload ends inside a value.
	ErrTruncated = errors.New("payload truncated")
	// ErrUnknownType means a Cayenne LPP type this package does not know.
	ErrUnknownType = errors.New("unknown Cayenne LPP type")
	// ErrInvalidCodec means a declarative codec definition has problems;
	// the error is a *ValidationError listing them.
	ErrInvalidCodec = errors.New("invalid codec")
)

// MaxPayload is the largest application payload of LoRaWAN in EU868
// (DR4 and up): no field can lie beyond it.
const MaxPayload = 242

// Value is one named value decoded from a payload.
type Value struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
}

// Codec turns a payload received on fport into values.
type Codec interface {
	// Name is the codec's name in the site file.
	Name() string
	// Decode decodes a whole payload or returns an error saying where it
	// went wrong; it never returns part of a payload with an error.
	Decode(fport uint8, b []byte) ([]Value, error)
}

func truncated(what string, at, need, have int) error {
	return fmt.Errorf("%s at byte %d needs %d bytes, %d left: %w", what, at, need, have, ErrTruncated)
}
