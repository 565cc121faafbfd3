package ns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/sitegate/sitegate/device/lora/lorawan"
)

// Store keeps what the network server must not forget across a restart.
// Values are opaque bytes; the network server encodes them. Put must be
// durable when it returns (the bbolt store commits a transaction).
type Store interface {
	// Get returns the value of key, or an error wrapping ErrNotFound.
	Get(key string) ([]byte, error)
	// Put sets the value of key.
	Put(key string, value []byte) error
}

// ErrNotFound is what Store.Get wraps for a key without a value.
var ErrNotFound = errors.New("not found")

// ErrCorrupt means a stored record does not decode; the error names the key.
var ErrCorrupt = errors.New("stored LoRaWAN state is damaged")

// MemStore is an in-memory Store, for tests and the demo. It is safe for
// concurrent use.
type MemStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{m: map[string][]byte{}} }

// Get returns a copy of the value of key.
func (s *MemStore) Get(key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	return append([]byte(nil), v...), nil
}

// Put stores a copy of value.
func (s *MemStore) Put(key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = append([]byte(nil), value...)
	return nil
}

// Len returns the number of keys, for tests.
func (s *MemStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func sessionKey(e lorawan.EUI64) string  { return "session/" + e.String() }
func devNonceKey(e lorawan.EUI64) string { return "devnonce/" + e.String() }

// session is a device's current LoRaWAN session.
type session struct {
	DevAddr     lorawan.DevAddr
	Keys        lorawan.SessionKeys
	FCntUp      uint32 // next expected uplink counter
	FCntDown    uint32 // next downlink counter
	RX1DROffset uint8
	RX2DataRate uint8
	RxDelay     uint8 // seconds; 0 means 1
}

// record is what is stored under "session/<DevEUI>".
type record struct {
	HasSession bool
	Session    session
	// JoinNonce is the last AppNonce sent to the device (OTAA).
	JoinNonce lorawan.JoinNonce
}

const recordVersion = 1

// recordSize is version, flags, DevAddr, two keys, two counters, three
// settings bytes and the join nonce.
const recordSize = 1 + 1 + 4 + 2*lorawan.KeySize + 4 + 4 + 3 + 4

func (r record) encode() []byte {
	b := make([]byte, 0, recordSize)
	b = append(b, recordVersion)
	var flags byte
	if r.HasSession {
		flags = 1
	}
	b = append(b, flags)
	s := r.Session
	b = binary.BigEndian.AppendUint32(b, uint32(s.DevAddr))
	b = append(b, s.Keys.NwkSKey[:]...)
	b = append(b, s.Keys.AppSKey[:]...)
	b = binary.BigEndian.AppendUint32(b, s.FCntUp)
	b = binary.BigEndian.AppendUint32(b, s.FCntDown)
	b = append(b, s.RX1DROffset, s.RX2DataRate, s.RxDelay)
	return binary.BigEndian.AppendUint32(b, uint32(r.JoinNonce))
}

func decodeRecord(b []byte) (record, error) {
	var r record
	if len(b) != recordSize || b[0] != recordVersion || b[1] > 1 {
		return r, fmt.Errorf("session record of %d bytes: %w", len(b), ErrCorrupt)
	}
	r.HasSession = b[1] == 1
	s := &r.Session
	s.DevAddr = lorawan.DevAddr(binary.BigEndian.Uint32(b[2:]))
	copy(s.Keys.NwkSKey[:], b[6:22])
	copy(s.Keys.AppSKey[:], b[22:38])
	s.FCntUp = binary.BigEndian.Uint32(b[38:])
	s.FCntDown = binary.BigEndian.Uint32(b[42:])
	s.RX1DROffset, s.RX2DataRate, s.RxDelay = b[46], b[47], b[48]
	r.JoinNonce = lorawan.JoinNonce(binary.BigEndian.Uint32(b[49:]))
	return r, nil
}

// encodeNonces stores the used DevNonces: version, then two bytes each.
func encodeNonces(n []lorawan.DevNonce) []byte {
	b := make([]byte, 0, 1+2*len(n))
	b = append(b, recordVersion)
	for _, v := range n {
		b = binary.BigEndian.AppendUint16(b, uint16(v))
	}
	return b
}

func decodeNonces(b []byte) ([]lorawan.DevNonce, error) {
	if len(b) < 1 || b[0] != recordVersion || len(b)%2 != 1 || (len(b)-1)/2 > MaxDevNonces {
		return nil, fmt.Errorf("devnonce record of %d bytes: %w", len(b), ErrCorrupt)
	}
	out := make([]lorawan.DevNonce, 0, (len(b)-1)/2)
	for i := 1; i < len(b); i += 2 {
		out = append(out, lorawan.DevNonce(binary.BigEndian.Uint16(b[i:])))
	}
	return out, nil
}
