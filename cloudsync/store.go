package cloudsync

import "github.com/sitegate/sitegate/store"

// Store is what the uplink needs of the gateway's database (a
// *store.Store): the outbox it drains and acknowledges, the records it
// queues itself (health, audit batches, config/reported), and its own
// state (the desired revision handled, a kept conflict, the audit cursor),
// which it changes in the transactions that need them together.
type Store interface {
	Peek(after uint64, max, maxBytes int) ([]store.Record, error)
	Ack(seqs ...uint64) (int, error)
	Enqueue(stream string, payloads ...[]byte) (uint64, error)
	Meta(key string) ([]byte, error)
	PutMeta(key string, value []byte) error
	View(fn func(tx *store.Tx) error) error
	Update(fn func(tx *store.Tx) error) error
	// Shared reads a value kept for queued records (a telemetry names
	// dictionary).
	Shared(key []byte) ([]byte, error)
	// Compact rewrites the database without its free pages (a secret that
	// was in clear must not survive in one).
	Compact() error
}

var _ Store = (*store.Store)(nil)
