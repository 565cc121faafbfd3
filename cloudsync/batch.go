package cloudsync

import (
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/telemetry"
	"github.com/sitegate/sitegate/store"
)

// Telemetry batching: consecutive frames of the outbox (one per group
// commit) are merged into one telemetry.Block and published as one message:
// on telemetry/v2 as the block's encoding (its seqs inside, so no "seq" is
// added), or with uplink.telemetry_format: json on telemetry as
// Block.JSON. A block is published when its oldest frame has waited
// uplink.batch_max_age, or when the next frame would make it too large;
// after its PUBACK every seq it carries is acknowledged.

// Bounds of one telemetry message.
const (
	// MaxBlockFrameBytes bounds the stored frames one block is built
	// from. A block comes out about the size of its frames (smaller for
	// slow signals, up to about 10 % larger for noise), so blocks stay
	// under the 128 KiB many cloud brokers accept.
	MaxBlockFrameBytes = 96 << 10
	// MaxJSONReadings bounds the readings of one JSON telemetry message
	// (about 120 bytes each, so about 120 KB). A frame is never split: a
	// message holds at least one whole frame, which on a large site is
	// more (2,000 readings a second make 240 KB frames at a 1 s commit
	// interval; a shorter interval makes smaller ones).
	MaxJSONReadings = 1000
	// settingsEvery is how often the batcher reads the site's uplink
	// settings again.
	settingsEvery = time.Second
)

// batcher builds telemetry messages from frames; one per connection's
// drain, used by that goroutine only.
type batcher struct {
	u      *Uplink
	fr     *device.FrameReader
	enc    telemetry.Encoder
	format device.TelemetryFormat
	maxAge time.Duration
	readAt time.Time

	blk        *telemetry.Block
	readings   int
	frameBytes int
	oldest     time.Time
}

func (u *Uplink) newBatcher() *batcher {
	b := &batcher{u: u, fr: device.NewFrameReader(u.st)}
	b.refresh()
	return b
}

// refresh reads the uplink settings of the site; a change of format
// applies from the next block.
func (b *batcher) refresh() {
	if time.Since(b.readAt) < settingsEvery {
		return
	}
	s := b.u.gw.UplinkSettings()
	b.format, b.maxAge, b.readAt = s.TelemetryFormat, s.BatchMaxAge.Std(), time.Now()
	if b.u.cfg.BatchMaxAge > 0 {
		b.maxAge = b.u.cfg.BatchMaxAge
	}
}

// add puts the frame r into the block. When r does not fit, the block so
// far is closed first and returned, to be sent before anything else.
func (b *batcher) add(r store.Record) *message {
	h, err := telemetry.ReadFrameHeader(r.Payload)
	if err != nil {
		b.skip(r, err)
		return nil
	}
	var closed *message
	if b.blk != nil && (b.readings+h.Samples > b.maxReadings() || b.frameBytes+len(r.Payload) > MaxBlockFrameBytes || len(b.blk.Seqs) == telemetry.MaxSeqs) {
		closed = b.close()
	}
	f, d, err := b.fr.Read(r)
	if err != nil {
		b.skip(r, err)
		return closed
	}
	if b.blk == nil {
		b.blk = &telemetry.Block{Gateway: b.u.gw.ID()}
		b.oldest = r.TS
	}
	if err := b.blk.AddFrame(r.Seq, d, f); err != nil {
		b.skip(r, err)
		return closed
	}
	b.readings += h.Samples
	b.frameBytes += len(r.Payload)
	return closed
}

func (b *batcher) maxReadings() int {
	if b.format == device.TelemetryJSON {
		return MaxJSONReadings
	}
	return telemetry.MaxSamples
}

// skip leaves a frame that cannot be read in the outbox (it stays until
// evicted, and is counted there), so that the rest keeps flowing.
func (b *batcher) skip(r store.Record, err error) {
	b.u.log.Error("uplink: a telemetry frame cannot be read; it stays queued until evicted", "seq", r.Seq, "err", err)
}

// due returns the block when its oldest frame has waited long enough.
func (b *batcher) due() (message, bool) {
	if b.blk == nil || time.Since(b.oldest) < b.maxAge {
		return message{}, false
	}
	m := b.close()
	if m == nil {
		return message{}, false
	}
	return *m, true
}

// wait returns how long the drain may sleep before the block is due.
func (b *batcher) wait(limit time.Duration) time.Duration {
	if b.blk == nil {
		return limit
	}
	return max(min(limit, time.Until(b.oldest.Add(b.maxAge))), time.Millisecond)
}

// close encodes the block as a message and starts a new one.
func (b *batcher) close() *message {
	blk, readings := b.blk, b.readings
	b.blk, b.readings, b.frameBytes = nil, 0, 0
	if blk == nil {
		return nil
	}
	m := &message{seqs: blk.Seqs, readings: readings}
	var err error
	if b.format == device.TelemetryJSON {
		m.topic = b.u.topic(string(device.StreamTelemetry))
		m.payload, err = blk.JSON()
	} else {
		m.topic = b.u.topic(TopicTelemetryV2)
		m.payload, err = b.enc.AppendBlock(nil, blk)
	}
	if err != nil {
		// Frames the codec wrote and read back always encode; if not,
		// they stay queued and are tried again on the next connection.
		b.u.log.Error("uplink: encode a telemetry block", "first_seq", blk.Seqs[0], "frames", len(blk.Seqs), "err", err)
		return nil
	}
	return m
}

// TopicTelemetryV2 is the compact telemetry topic under the gateway's root.
const TopicTelemetryV2 = "telemetry/v2"
