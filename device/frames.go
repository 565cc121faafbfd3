package device

import (
	"errors"
	"fmt"

	"github.com/sitegate/sitegate/device/telemetry"
	"github.com/sitegate/sitegate/store"
)

// maxCachedDictionaries bounds the dictionaries a FrameReader keeps
// decoded; a site changes its points rarely.
const maxCachedDictionaries = 16

// IsFrame reports whether an outbox record is a telemetry frame of the
// group commit (rather than a JSON record, or another stream). Telemetry
// records queued before group commit are JSON objects.
func IsFrame(r store.Record) bool {
	return r.Stream == string(StreamTelemetry) && telemetry.IsFrame(r.Payload)
}

// FrameReader decodes the outbox's telemetry frames with the dictionaries
// the store keeps for them. It is not safe for concurrent use.
type FrameReader struct {
	st    SharedReader
	dec   telemetry.Decoder
	dicts map[telemetry.DictID]*telemetry.Dictionary
}

// NewFrameReader returns a reader of st's frames.
func NewFrameReader(st SharedReader) *FrameReader {
	return &FrameReader{st: st, dicts: map[telemetry.DictID]*telemetry.Dictionary{}}
}

// SharedReader reads the values kept for queued records (a *store.Store).
type SharedReader interface {
	Shared(key []byte) ([]byte, error)
}

// Read decodes a frame record and returns it with its dictionary.
func (fr *FrameReader) Read(r store.Record) (*telemetry.Frame, *telemetry.Dictionary, error) {
	h, err := telemetry.ReadFrameHeader(r.Payload)
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry record %d: %w", r.Seq, err)
	}
	d, err := fr.Dictionary(h.Dict)
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry record %d: %w", r.Seq, err)
	}
	f, err := fr.dec.DecodeFrame(r.Payload)
	if err != nil {
		return nil, nil, fmt.Errorf("telemetry record %d: %w", r.Seq, err)
	}
	return f, d, nil
}

// Dictionary returns the stored dictionary id.
func (fr *FrameReader) Dictionary(id telemetry.DictID) (*telemetry.Dictionary, error) {
	if d, ok := fr.dicts[id]; ok {
		return d, nil
	}
	raw, err := fr.st.Shared(id[:])
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("dictionary %s is not stored: %w", id, err)
	}
	if err != nil {
		return nil, err
	}
	d, err := fr.dec.DecodeDictionary(raw)
	if err != nil {
		return nil, fmt.Errorf("stored dictionary %s: %w", id, err)
	}
	if len(fr.dicts) >= maxCachedDictionaries {
		clear(fr.dicts)
	}
	fr.dicts[id] = d
	return d, nil
}

// Readings decodes a frame record into its readings, in time order.
func (fr *FrameReader) Readings(r store.Record) ([]telemetry.Reading, error) {
	f, d, err := fr.Read(r)
	if err != nil {
		return nil, err
	}
	var b telemetry.Block
	if err := b.AddFrame(r.Seq, d, f); err != nil {
		return nil, fmt.Errorf("telemetry record %d: %w", r.Seq, err)
	}
	return b.Readings(), nil
}
