package device

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sitegate/sitegate/store"
)

// ErrNoValue means a KV key holds nothing.
var ErrNoValue = errors.New("no value stored")

// MaxKVValue bounds one KV value: state records are small (a LoRaWAN
// session, a counter), never bulk data.
const MaxKVValue = 64 << 10

// KV is durable key/value state of one subsystem (a driver's sessions and
// counters) in the gateway's database. Put is durable when it returns.
type KV interface {
	Get(key string) ([]byte, error) // ErrNoValue when unset
	Put(key string, value []byte) error
	Delete(key string) error
	// Keys lists the keys that start with prefix, at most limit (<= 0: all).
	Keys(prefix string, limit int) ([]string, error)
}

// KV returns the durable state of the subsystem called namespace (letters,
// digits, '-' and '_'; e.g. "lora").
func (g *Gateway) KV(namespace string) KV {
	return kv{st: g.st, prefix: "kv." + namespace + "/"}
}

type kv struct {
	st     *store.Store
	prefix string
}

func (k kv) Get(key string) ([]byte, error) {
	v, err := k.st.Meta(k.prefix + key)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, fmt.Errorf("%s%s: %w", k.prefix, key, ErrNoValue)
	}
	return v, nil
}

func (k kv) Put(key string, value []byte) error {
	if len(value) > MaxKVValue {
		return fmt.Errorf("%s%s: %d bytes is over the %d byte bound of a state record", k.prefix, key, len(value), MaxKVValue)
	}
	return k.st.PutMeta(k.prefix+key, value)
}

func (k kv) Delete(key string) error { return k.st.DeleteMeta(k.prefix + key) }

func (k kv) Keys(prefix string, limit int) ([]string, error) {
	var out []string
	err := k.st.View(func(tx *store.Tx) error {
		for _, full := range tx.MetaKeys(k.prefix+prefix, limit) {
			out = append(out, strings.TrimPrefix(full, k.prefix))
		}
		return nil
	})
	return out, err
}
