package telemetry

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// Reading is one sample of one series: a block flattened.
type Reading struct {
	Series
	Sample
}

// Readings returns the block's samples in time order (samples with equal
// times in block order: series order, then sample order).
func (b *Block) Readings() []Reading {
	out := make([]Reading, 0, b.Len())
	for _, s := range b.Series {
		for _, x := range s.Samples {
			out = append(out, Reading{s.Series, x})
		}
	}
	slices.SortStableFunc(out, func(a, b Reading) int {
		switch {
		case a.Time < b.Time:
			return -1
		case a.Time > b.Time:
			return 1
		}
		return 0
	})
	return out
}

// jsonBlock is the JSON contract of the telemetry topic (DESIGN.md, and
// device's telemetryPayload), plus "seqs": a block carries several outbox
// records, and their readings are merged, so "seq" is the last of them and
// "seqs" lists them all for gap detection.
type jsonBlock struct {
	Seq      uint64        `json:"seq"`
	Seqs     []uint64      `json:"seqs"`
	Gateway  string        `json:"gateway"`
	Readings []jsonReading `json:"readings"`
}

type jsonReading struct {
	Device  string    `json:"device"`
	Point   string    `json:"point"`
	Value   jsonValue `json:"value"`
	Quality Quality   `json:"quality"`
	Error   string    `json:"error,omitempty"`
	TS      time.Time `json:"ts"`
}

type jsonValue Value

// MarshalJSON writes what field.Value writes: a number, true/false, a
// string, or null for no value and for NaN and infinities, which JSON
// cannot hold.
func (v jsonValue) MarshalJSON() ([]byte, error) {
	switch {
	case v.Kind == KindBool:
		return strconv.AppendBool(nil, v.Bool), nil
	case v.Kind == KindText:
		return json.Marshal(v.Text) // invalid UTF-8 becomes U+FFFD
	case v.Kind != KindNumber, math.IsNaN(v.Num), math.IsInf(v.Num, 0):
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, v.Num, 'g', -1, 64), nil
}

// JSON returns the block as one JSON object of today's telemetry contract:
// {"seq","seqs","gateway","readings":[{"device","point","value","quality",
// "error","ts"}]}, readings in time order, ts in UTC to the millisecond.
func (b *Block) JSON() ([]byte, error) {
	out := jsonBlock{Seqs: b.Seqs, Gateway: b.Gateway, Readings: make([]jsonReading, 0, b.Len())}
	if out.Seqs == nil {
		out.Seqs = []uint64{}
	}
	if n := len(b.Seqs); n > 0 {
		out.Seq = b.Seqs[n-1]
	}
	for _, r := range b.Readings() {
		if !r.Quality.Valid() {
			return nil, fmt.Errorf("block as JSON: %s: %w", r.Series, ErrInvalid)
		}
		out.Readings = append(out.Readings, jsonReading{
			Device: r.Device, Point: r.Point, Value: jsonValue(r.Value),
			Quality: r.Quality, Error: r.Error, TS: time.UnixMilli(r.Time).UTC(),
		})
	}
	j, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("block as JSON: %w", err)
	}
	return j, nil
}
