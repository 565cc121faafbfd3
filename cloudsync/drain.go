package cloudsync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store"
)

// drain publishes the outbox whenever a connection is up.
func (u *Uplink) drain(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-u.wake:
		}
		u.drainConnection(ctx)
	}
}

func (u *Uplink) currentCM() *autopaho.ConnectionManager {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.connected || u.cut {
		return nil
	}
	return u.cm
}

// errRefused means the broker answered a publish with a failure reason.
var errRefused = errors.New("refused by the broker")

// Drain bounds: what one pass over the outbox reads.
const (
	peekRecords = 256
	peekBytes   = 1 << 20
)

// drainConnection publishes queued records in seq order, Window messages
// at a time, and acknowledges them in the store as their PUBACKs arrive.
// Telemetry frames are batched into blocks (batch.go); every other record
// is a message of its own. It returns when the connection fails; the next
// connection starts again from the oldest record still queued.
func (u *Uplink) drainConnection(ctx context.Context) {
	st := u.st
	window := u.cfg.Window
	sem := make(chan struct{}, window)
	acks := make(chan []uint64, 2*window)
	failed := make(chan error, 1)
	ackDone := make(chan struct{})
	go func() {
		defer close(ackDone)
		u.acker(acks)
	}()
	defer func() {
		for i := 0; i < window; i++ { // wait for every publish in flight
			sem <- struct{}{}
		}
		close(acks)
		<-ackDone
	}()

	b := u.newBatcher()
	var after uint64
	idle := time.NewTimer(0)
	defer idle.Stop()
	for {
		cm := u.currentCM()
		if cm == nil {
			return
		}
		select {
		case err := <-failed:
			if errors.Is(err, errRefused) {
				// The broker is up but refused a record: retry the round
				// later rather than dropping the record.
				u.waitOrDone(ctx, 5*time.Second)
			}
			return
		case <-ctx.Done():
			return
		default:
		}
		send := func(m message) bool {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return false
			}
			go func() {
				defer func() { <-sem }()
				if err := u.publish(ctx, cm, m); err != nil {
					select {
					case failed <- err:
					default:
					}
					return
				}
				acks <- m.seqs
			}()
			return true
		}
		b.refresh()
		recs, err := st.Peek(after, peekRecords, peekBytes)
		if err != nil {
			u.log.Error("uplink: read outbox", "err", err)
			u.waitOrDone(ctx, time.Second)
			return
		}
		for _, r := range recs {
			after = r.Seq
			if device.IsFrame(r) {
				if m := b.add(r); m != nil && !send(*m) {
					return
				}
				continue
			}
			if !send(message{topic: u.topic(r.Stream), payload: withSeq(r.Payload, r.Seq), retain: r.Stream == "config/reported", seqs: []uint64{r.Seq}}) {
				return
			}
		}
		if m, ok := b.due(); ok {
			if !send(m) {
				return
			}
		}
		if len(recs) == 0 {
			idle.Reset(b.wait(100 * time.Millisecond))
			select {
			case <-ctx.Done():
				return
			case err := <-failed:
				_ = err
				return
			case <-idle.C:
			}
		}
	}
}

func (u *Uplink) waitOrDone(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// acker removes delivered records from the outbox in batches: each batch
// is one durable transaction, so acknowledging costs little per record.
// A crash between a PUBACK and its batch only re-sends that message.
func (u *Uplink) acker(acks <-chan []uint64) {
	st := u.st
	batch := make([]uint64, 0, 256)
	messages := 0
	flush := func() {
		if len(batch) == 0 {
			return
		}
		// Counted before the records leave the outbox, so that an empty
		// outbox never shows fewer messages published than it held.
		u.published.Add(uint64(messages))
		if _, err := st.Ack(batch...); err != nil {
			u.log.Error("uplink: acknowledge outbox records", "err", err)
		}
		u.mu.Lock()
		u.lastPub = time.Now()
		u.mu.Unlock()
		batch, messages = batch[:0], 0
	}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case seqs, ok := <-acks:
			if !ok {
				flush()
				return
			}
			batch = append(batch, seqs...)
			messages++
			if len(batch) >= cap(batch) {
				flush()
			}
		case <-t.C:
			flush()
		}
	}
}

// message is one PUBLISH and the outbox records its PUBACK acknowledges.
type message struct {
	topic    string
	payload  []byte
	retain   bool
	seqs     []uint64
	readings int
}

// publish sends one message and waits for the PUBACK.
func (u *Uplink) publish(ctx context.Context, cm *autopaho.ConnectionManager, m message) error {
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := cm.Publish(pctx, &paho.Publish{Topic: m.topic, QoS: 1, Payload: m.payload, Retain: m.retain})
	if err != nil {
		return err
	}
	if resp != nil && resp.ReasonCode >= 0x80 {
		u.log.Warn("uplink: the broker refused a message", "seqs", len(m.seqs), "first_seq", m.seqs[0], "topic", m.topic, "reason", resp.ReasonCode)
		return fmt.Errorf("%w: reason code %#x", errRefused, resp.ReasonCode)
	}
	u.readings.Add(uint64(m.readings))
	return nil
}

// withSeq puts "seq" first into a record's JSON object.
func withSeq(payload []byte, seq uint64) []byte {
	trimmed := bytes.TrimSpace(payload)
	head := `{"seq":` + strconv.FormatUint(seq, 10)
	if len(trimmed) < 2 || trimmed[0] != '{' {
		// Not an object (never produced by this gateway): wrap it.
		return []byte(head + `,"payload":` + string(mustJSON(trimmed)) + `}`)
	}
	rest := bytes.TrimSpace(trimmed[1:])
	if len(rest) > 0 && rest[0] == '}' {
		return []byte(head + "}")
	}
	return append([]byte(head+","), rest...)
}

func mustJSON(b []byte) []byte {
	if json.Valid(b) {
		return b
	}
	out, _ := json.Marshal(string(b))
	return out
}

// produce puts health and audit records into the outbox, connected or not.
func (u *Uplink) produce(ctx context.Context) {
	audit := time.NewTicker(u.cfg.AuditEvery)
	defer audit.Stop()
	check := time.NewTicker(5 * time.Second)
	defer check.Stop()
	var lastHealth time.Time
	var lastSig string
	u.batchAudit()
	for {
		select {
		case <-ctx.Done():
			return
		case <-audit.C:
			u.batchAudit()
		case <-check.C:
			h := u.gw.Health()
			sig := healthSignature(h)
			if time.Since(lastHealth) >= u.cfg.HealthEvery || sig != lastSig {
				if err := u.enqueueHealth(h); err != nil {
					u.log.Error("uplink: queue health", "err", err)
				}
				lastHealth, lastSig = time.Now(), sig
			}
		}
	}
}

// healthSignature is what makes health worth sending before its period:
// states, not counters.
func healthSignature(h device.Health) string {
	sig := fmt.Sprintf("%v|%s|%d/%d|%v|%v", h.Uplink.Connected, h.WAN.Active, h.Modbus.DevicesOnline, h.Modbus.DevicesTotal, h.Clock.Synced, h.Outbox.NearFull)
	for _, a := range h.Alerts {
		sig += "|" + a.Rule
	}
	return sig
}

func (u *Uplink) enqueueHealth(h device.Health) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	_, err = u.st.Enqueue("health", b)
	return err
}

const (
	metaAuditCursor      = "cloudsync.audit_cursor"
	metaCheckpointCursor = "cloudsync.checkpoint_cursor"
	auditBatch           = 500
)

// auditRecord is the payload of an audit record: the events not sent yet
// and the signed checkpoints of the chain head that they reach (see
// store.Checkpoint). Checkpoints is left out when there is none; a record
// may carry checkpoints only (one signed at a clean shutdown, say), with
// an empty events list.
type auditRecord struct {
	Events      []store.AuditEvent `json:"events"`
	Checkpoints []store.Checkpoint `json:"checkpoints,omitempty"`
}

// batchAudit queues the audit events and checkpoints not yet queued, in
// batches; the cursors move in the same transaction as the enqueue, so
// every event and every checkpoint is queued exactly once. A checkpoint
// goes with the batch that holds the event it names, or a later one, so
// the cloud can check it when it arrives.
func (u *Uplink) batchAudit() {
	limit := auditBatch
	for {
		more, tooBig := false, false
		err := u.st.Update(func(tx *store.Tx) error {
			cursor := metaUint(tx, metaAuditCursor)
			cpCursor := metaUint(tx, metaCheckpointCursor)
			events, err := tx.ListAudit(store.AuditFilter{AfterSeq: cursor, Limit: limit})
			if err != nil {
				return err
			}
			reach := cursor
			if len(events) > 0 {
				reach = events[len(events)-1].Seq
			}
			cps, err := tx.Checkpoints(cpCursor, limit)
			if err != nil {
				return err
			}
			n := 0
			for n < len(cps) && cps[n].Seq <= reach {
				n++
			}
			cps = cps[:n]
			if len(events) == 0 && len(cps) == 0 {
				return nil
			}
			if events == nil {
				events = []store.AuditEvent{}
			}
			payload, err := json.Marshal(auditRecord{Events: events, Checkpoints: cps})
			if err != nil {
				return err
			}
			if len(payload) > store.MaxPayload && limit > 1 {
				// Events with long details: fewer per record.
				tooBig = true
				return nil
			}
			if _, err := tx.Enqueue("audit", payload); err != nil {
				return err
			}
			more = len(events) == limit || len(cps) == limit
			if err := tx.PutMeta(metaAuditCursor, []byte(strconv.FormatUint(reach, 10))); err != nil {
				return err
			}
			if len(cps) > 0 {
				return tx.PutMeta(metaCheckpointCursor, []byte(strconv.FormatUint(cps[len(cps)-1].Seq, 10)))
			}
			return nil
		})
		if err != nil {
			u.log.Error("uplink: queue audit events", "err", err)
			return
		}
		if tooBig {
			limit /= 2
			continue
		}
		if !more {
			return
		}
	}
}

// metaUint reads a counter kept as decimal text in the store's metadata.
func metaUint(tx *store.Tx, key string) uint64 {
	v, _ := strconv.ParseUint(string(tx.Meta(key)), 10, 64)
	return v
}
