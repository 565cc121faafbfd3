package device

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/telemetry"
	"github.com/sitegate/sitegate/store"
)

// Group commit of readings. The field hub hands every cycle's readings to
// the Committer, which keeps them in memory and, once per
// store.commit_interval, encodes all of them as one telemetry.Frame and
// queues it in one durable transaction (stream "telemetry", the frame's
// reading count as the record's items). The names dictionary the frames
// refer to is stored once, as a shared outbox value under its id. One
// fsync per interval instead of one per device cycle is what brings the
// disk writes from kilobytes to bytes per reading; the price is that a
// power loss can lose the readings of the interval not yet committed.
// Configuration, audit and account writes do not pass through here: they
// stay durable when their call returns.

// Bounds of the group commit.
const (
	// MaxPendingReadings bounds the readings waiting for their commit:
	// reaching it commits at once (a site far larger than 2,000 readings
	// per interval, or a committer that is not running). Twice as many
	// are never held: past that, new readings are dropped and counted,
	// which only happens while commits keep failing.
	MaxPendingReadings = telemetry.MaxSamples / 2
	// rateWindow is how far back the ingest rate behind health's outage
	// estimate looks.
	rateWindow = 10 * time.Minute
	// freeSpaceEvery is how often the outbox bound is checked against the
	// data directory's free space.
	freeSpaceEvery = time.Minute
	// maxDictionaryGrowth is how many series a dictionary may hold beyond
	// twice the site's before it is rebuilt from the site: series of
	// points the site no longer has stay in a grown dictionary.
	maxDictionaryGrowth = 256
)

// CommitStats are the group commit's figures since start.
type CommitStats struct {
	Interval   time.Duration // the current commit interval
	Commits    uint64        // frames committed
	Readings   uint64        // readings committed
	Bytes      uint64        // frame bytes committed
	Suppressed uint64        // readings not queued for the wire (report by exception)
	Dropped    uint64        // readings lost because commits kept failing
	LastError  string        // of the last failed commit, cleared by a good one
	// BytesPerSecond is the rate at which frames filled the outbox over
	// the last ten minutes (0 before the first commit).
	BytesPerSecond float64
}

// Committer is the gateway's group commit of readings (see above). Add is
// safe for concurrent use; Run commits on the interval until its context
// ends, then commits what is left.
type Committer struct {
	st      *store.Store
	log     atomic.Pointer[slog.Logger]
	running atomic.Bool
	kick    chan struct{} // commit now, or the interval changed

	mu       sync.Mutex // guards the fields below
	pending  []pendingSample
	spare    []pendingSample
	filters  map[telemetry.Series]*filterState
	interval time.Duration
	maxMB    int
	stats    CommitStats
	rate     []ratePoint

	// commitMu serialises commits and dictionary changes; it is taken
	// before mu, never after.
	commitMu   sync.Mutex
	dict       *telemetry.Dictionary // the current dictionary
	dictStored bool                  // dict is the store's current shared value
	siteSeries int
	enc        telemetry.Encoder
	buf        []byte
	counts     []int32 // encode's scratch space
	idx        []int32
	order      []telemetry.Sample
	frame      telemetry.Frame
}

type pendingSample struct {
	series telemetry.Series
	sample telemetry.Sample
}

type ratePoint struct {
	at    time.Time
	bytes int
}

// filterState is a point's report by exception: what was last sent.
type filterState struct {
	report field.Report
	sent   bool
	last   telemetry.Sample
}

func newCommitter(st *store.Store, site *Site) *Committer {
	c := &Committer{st: st, kick: make(chan struct{}, 1), filters: map[telemetry.Series]*filterState{}}
	c.SetLogger(nil)
	c.setSite(site)
	return c
}

// SetLogger sets where commit failures are logged (nil: nowhere).
func (c *Committer) SetLogger(l *slog.Logger) {
	if l == nil {
		l = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c.log.Store(l)
}

// setSite follows a site change: the interval, the outbox bound, the
// points' report by exception and the dictionary.
func (c *Committer) setSite(s *Site) {
	devices := s.FieldDevices()
	var series []telemetry.Series
	reports := map[telemetry.Series]field.Report{}
	for _, d := range devices {
		for _, p := range d.Points {
			sr := telemetry.Series{Device: d.Name, Point: p.Name}
			series = append(series, sr)
			if p.Report.ByException {
				reports[sr] = p.Report
			}
		}
	}
	c.commitMu.Lock()
	defer c.commitMu.Unlock()
	c.siteSeries = len(series)
	switch {
	case c.dict == nil || c.dict.Len() > 2*len(series)+maxDictionaryGrowth:
		d, err := telemetry.NewDictionary(series)
		if err != nil {
			c.log.Load().Error("telemetry: the site's points do not fit one dictionary; their readings are not queued", "err", err)
			d, _ = telemetry.NewDictionary(nil)
		}
		c.dict, c.dictStored = d, false
	default:
		d, err := c.dict.With(series...)
		if err != nil {
			c.log.Load().Error("telemetry: the site's points do not fit the dictionary", "err", err)
			break
		}
		if d != c.dict {
			c.dict, c.dictStored = d, false
		}
	}

	c.mu.Lock()
	changed := c.interval != s.Store.CommitInterval.Std()
	c.interval, c.maxMB = s.Store.CommitInterval.Std(), s.Store.OutboxMaxMB
	filters := make(map[telemetry.Series]*filterState, len(reports))
	for sr, r := range reports {
		f := c.filters[sr]
		if f == nil || f.report != r {
			f = &filterState{report: r}
		}
		filters[sr] = f
	}
	c.filters = filters
	c.mu.Unlock()
	if changed {
		c.poke()
	}
	c.applyLimit()
}

func (c *Committer) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Add takes a cycle's readings (field.HubOptions.Readings). Readings that
// report by exception and did not change enough are counted, not queued.
func (c *Committer) Add(readings []field.Reading) {
	c.mu.Lock()
	filter := len(c.filters) > 0
	for _, r := range readings {
		s := telemetry.Series{Device: r.Device, Point: r.Point}
		smp := toSample(r)
		if filter {
			if f := c.filters[s]; f != nil && !f.pass(smp) {
				c.stats.Suppressed++
				continue
			}
		}
		if len(c.pending) >= 2*MaxPendingReadings {
			c.stats.Dropped++
			continue
		}
		c.pending = append(c.pending, pendingSample{s, smp})
	}
	full := len(c.pending) >= MaxPendingReadings
	c.mu.Unlock()
	if !full {
		return
	}
	if c.running.Load() {
		c.poke()
		return
	}
	c.commitLogged()
}

// toSample is the codec's view of a reading.
func toSample(r field.Reading) telemetry.Sample {
	s := telemetry.Sample{Time: r.TS.UnixMilli(), Error: r.Error}
	switch {
	case !r.Value.Valid:
	case r.Value.IsBool:
		s.Value = telemetry.Boolean(r.Value.Bool)
	case r.Value.IsText:
		s.Value = telemetry.Text(r.Value.Text)
	default:
		s.Value = telemetry.Number(r.Value.Num)
	}
	switch r.Quality {
	case field.QualityGood:
	case field.QualityStale:
		s.Quality = telemetry.QualityStale
	default:
		q, err := telemetry.ParseQuality(string(r.Quality))
		if err != nil {
			q = telemetry.QualityError
		}
		s.Quality = q
	}
	return s
}

// pass says whether s is reported, and remembers it if so.
func (f *filterState) pass(s telemetry.Sample) bool {
	send := !f.sent || s.Quality != f.last.Quality || s.Error != f.last.Error || s.Value.Kind != f.last.Value.Kind ||
		f.report.Heartbeat > 0 && s.Time-f.last.Time >= f.report.Heartbeat.Milliseconds()
	if !send {
		switch s.Value.Kind {
		case telemetry.KindBool:
			send = s.Value.Bool != f.last.Value.Bool
		case telemetry.KindText:
			send = s.Value.Text != f.last.Value.Text
		case telemetry.KindNumber:
			a, b := s.Value.Num, f.last.Value.Num
			send = math.Abs(a-b) > f.report.Deadband || math.IsNaN(a) != math.IsNaN(b)
		}
	}
	if send {
		f.sent, f.last = true, s
	}
	return send
}

// Run commits the pending readings every interval until ctx ends, then
// once more, so that a clean stop loses nothing. The gateway starts it
// before the field drivers, so that it stops after them.
func (c *Committer) Run(ctx context.Context) error {
	c.running.Store(true)
	defer c.running.Store(false)
	c.applyLimit()
	t := time.NewTimer(c.Interval())
	defer t.Stop()
	space := time.NewTicker(freeSpaceEvery)
	defer space.Stop()
	for {
		select {
		case <-ctx.Done():
			c.commitLogged()
			return nil
		case <-space.C:
			c.applyLimit()
			continue
		case <-t.C:
		case <-c.kick:
		}
		c.commitLogged()
		t.Reset(c.Interval())
	}
}

// Interval returns the current commit interval.
func (c *Committer) Interval() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.interval
}

// Flush commits the pending readings now and returns the commit's error.
func (c *Committer) Flush() error { return c.commit() }

func (c *Committer) commitLogged() {
	if err := c.commit(); err != nil {
		c.log.Load().Error("telemetry: commit readings", "err", err)
	}
}

// commit encodes the pending readings as one frame and queues it, with
// the dictionary when the store does not have it yet. On failure the
// readings stay pending for the next commit.
func (c *Committer) commit() error {
	c.commitMu.Lock()
	defer c.commitMu.Unlock()
	c.mu.Lock()
	batch := c.pending
	c.pending = c.spare[:0]
	c.spare = nil
	c.mu.Unlock()
	if len(batch) == 0 {
		c.giveBack(batch, nil)
		return nil
	}
	dict := c.dict
	var missing []telemetry.Series
	for _, p := range batch {
		if _, ok := dict.Index(p.series); !ok {
			missing = append(missing, p.series)
		}
	}
	if len(missing) > 0 {
		// Points the site does not list (a device naming its own).
		grown, err := dict.With(missing...)
		if err != nil {
			c.giveBack(nil, nil)
			c.mu.Lock()
			c.stats.Dropped += uint64(len(batch))
			c.mu.Unlock()
			return fmt.Errorf("add %d series to the dictionary: %w; %d readings dropped", len(missing), err, len(batch))
		}
		dict = grown
	}
	payload, err := c.encode(dict, batch)
	if err == nil {
		err = c.st.Update(func(tx *store.Tx) error {
			if dict != c.dict || !c.dictStored {
				id := dict.ID()
				raw, err := dict.MarshalBinary()
				if err != nil {
					return err
				}
				if err := tx.PutShared(id[:], raw); err != nil {
					return err
				}
			}
			_, err := tx.EnqueueBlock(string(StreamTelemetry), len(batch), payload)
			return err
		})
	}
	if err != nil {
		c.giveBack(nil, batch)
		c.mu.Lock()
		c.stats.LastError = err.Error()
		c.mu.Unlock()
		return fmt.Errorf("%d readings wait for the next commit: %w", len(batch), err)
	}
	c.dict, c.dictStored = dict, true
	c.mu.Lock()
	now := time.Now()
	c.stats.Commits++
	c.stats.Readings += uint64(len(batch))
	c.stats.Bytes += uint64(len(payload))
	c.stats.LastError = ""
	c.rate = append(c.rate, ratePoint{now, len(payload)})
	drop := 0
	for drop < len(c.rate) && now.Sub(c.rate[drop].at) > rateWindow {
		drop++
	}
	c.rate = append(c.rate[:0], c.rate[drop:]...)
	c.mu.Unlock()
	c.giveBack(batch, nil)
	return nil
}

// giveBack returns the batch's buffer for reuse, or, after a failed
// commit, puts its readings back in front of the pending ones.
func (c *Committer) giveBack(buf, failed []pendingSample) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if failed != nil {
		keep := min(len(failed), max(2*MaxPendingReadings-len(c.pending), 0))
		c.stats.Dropped += uint64(len(failed) - keep)
		c.pending = append(failed[len(failed)-keep:], c.pending...)
		return
	}
	if buf != nil {
		c.spare = buf[:0]
	}
}

// encode builds the frame: the samples grouped by series (a counting sort
// on the dictionary index, keeping each series' samples in order) and
// encoded with the committer's encoder.
func (c *Committer) encode(dict *telemetry.Dictionary, batch []pendingSample) ([]byte, error) {
	n := dict.Len()
	if cap(c.counts) < n+1 {
		c.counts = make([]int32, n+1)
	}
	counts := c.counts[:n+1]
	clear(counts)
	if cap(c.idx) < len(batch) {
		c.idx = make([]int32, len(batch))
		c.order = make([]telemetry.Sample, len(batch))
	}
	idx, order := c.idx[:len(batch)], c.order[:len(batch)]
	for i, p := range batch {
		j, _ := dict.Index(p.series)
		idx[i] = int32(j)
		counts[j+1]++
	}
	for j := 1; j <= n; j++ {
		counts[j] += counts[j-1]
	}
	// next[j] is where series j's next sample goes; once every sample is
	// placed, it is where series j ends.
	next := counts[:n]
	for i, p := range batch {
		order[next[idx[i]]] = p.sample
		next[idx[i]]++
	}
	c.frame.Dict = dict.ID()
	c.frame.Series = c.frame.Series[:0]
	start := int32(0)
	for j, end := range next {
		if end > start {
			c.frame.Series = append(c.frame.Series, telemetry.SeriesSamples{Index: j, Samples: order[start:end]})
		}
		start = end
	}
	var err error
	c.buf, err = c.enc.AppendFrame(c.buf[:0], &c.frame)
	if err != nil {
		return nil, fmt.Errorf("encode frame: %w", err)
	}
	return c.buf, nil
}

// Stats returns the group commit's figures.
func (c *Committer) Stats() CommitStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	s.Interval = c.interval
	if len(c.rate) > 1 {
		total := 0
		for _, p := range c.rate[1:] {
			total += p.bytes
		}
		if d := c.rate[len(c.rate)-1].at.Sub(c.rate[0].at); d > 0 {
			s.BytesPerSecond = float64(total) / d.Seconds()
		}
	}
	return s
}

// applyLimit sets the outbox's byte bound: store.outbox_max_mb, but never
// more than half of what the outbox could take of the file system (its
// free space plus what the outbox holds now).
func (c *Committer) applyLimit() {
	c.mu.Lock()
	limit := int64(c.maxMB) << 20
	c.mu.Unlock()
	if limit <= 0 {
		return
	}
	var fs syscall.Statfs_t
	if syscall.Statfs(c.st.Dir(), &fs) == nil {
		room := int64(fs.Bavail)*int64(fs.Bsize) + int64(c.st.OutboxStats().Bytes)
		limit = min(limit, room/2)
	}
	c.st.SetOutboxMaxBytes(limit)
}

// fillOutbox adds the byte bound, the readings and the group commit's
// figures to the outbox section of health.
func (c *Committer) fillOutbox(out *OutboxHealth, o store.OutboxStats) {
	s := c.Stats()
	out.Bytes, out.MaxBytes, out.Readings, out.EvictedReadings = o.Bytes, o.MaxBytes, o.Items, o.EvictedItems
	out.Suppressed, out.Dropped = s.Suppressed, s.Dropped
	out.IngestBytesPerS = math.Round(s.BytesPerSecond*10) / 10
	if s.BytesPerSecond > 0 {
		left := float64(o.MaxBytes-min(o.Bytes, o.MaxBytes)) / s.BytesPerSecond / 3600
		left = math.Round(left*10) / 10
		out.OutageHoursLeft = &left
		perGiB := math.Round(float64(1<<30)/s.BytesPerSecond/3600*10) / 10
		out.OutageHoursPerGiB = &perGiB
	}
}

// Committer returns the group commit of readings: a service the daemon
// runs (Run) before the field drivers start and stops after them.
func (g *Gateway) Committer() *Committer { return g.commit }
