package device

import (
	"errors"

	"github.com/sitegate/sitegate/store"
)

// UserRecord is a stored account: an opaque id, a unique name and data
// only the access rules interpret (tui/access).
type UserRecord = store.UserRecord

// AccountStore keeps the accounts of the gateway's users: records, the
// audit events of account changes and a little metadata, each transaction
// committing all of them or none. tui/access is its user; it never opens
// the store itself.
type AccountStore interface {
	// View runs fn in a read-only transaction.
	View(fn func(tx AccountTx) error) error
	// Update runs fn in a read-write transaction, committed when fn
	// returns nil and rolled back otherwise.
	Update(fn func(tx AccountTx) error) error
	// Dir returns the data directory (setup token files live there).
	Dir() string
}

// AccountTx is one transaction of an AccountStore. Records read in it are
// copies that stay valid after it ends.
type AccountTx interface {
	User(id string) (UserRecord, error)         // store.ErrNotFound when absent
	UserByName(name string) (UserRecord, error) // store.ErrNotFound when absent
	Users() ([]UserRecord, error)
	UserCount() int
	PutUser(rec UserRecord) error // a name owned by another record is refused
	DeleteUser(id string) error
	// Audit appends an audit event in this transaction.
	Audit(actor Actor, action Action, target string, result Result, detail string) error
	Meta(key string) []byte
	PutMeta(key string, value []byte) error
	DeleteMeta(key string) error
	// Secret reads an account secret (UserTOTPSecret) from the encrypted
	// secret store: nil and no error when it is not set.
	Secret(name string) ([]byte, error)
	// PutSecret stores an account secret; an empty value deletes it.
	PutSecret(name string, value []byte) error
}

// Accounts returns the gateway's account storage.
func (g *Gateway) Accounts() AccountStore { return accountStore{g.st} }

type accountStore struct{ st *store.Store }

func (a accountStore) View(fn func(AccountTx) error) error {
	return a.st.View(func(tx *store.Tx) error { return fn(accountTx{tx}) })
}

func (a accountStore) Update(fn func(AccountTx) error) error {
	return a.st.Update(func(tx *store.Tx) error { return fn(accountTx{tx}) })
}

func (a accountStore) Dir() string { return a.st.Dir() }

// accountTx narrows a store transaction to the account records.
type accountTx struct{ tx *store.Tx }

func (t accountTx) User(id string) (UserRecord, error)         { return t.tx.User(id) }
func (t accountTx) UserByName(name string) (UserRecord, error) { return t.tx.UserByName(name) }
func (t accountTx) Users() ([]UserRecord, error)               { return t.tx.Users() }
func (t accountTx) UserCount() int                             { return t.tx.UserCount() }
func (t accountTx) PutUser(rec UserRecord) error               { return t.tx.PutUser(rec) }
func (t accountTx) DeleteUser(id string) error                 { return t.tx.DeleteUser(id) }
func (t accountTx) Meta(key string) []byte                     { return t.tx.Meta(key) }
func (t accountTx) PutMeta(key string, value []byte) error     { return t.tx.PutMeta(key, value) }
func (t accountTx) DeleteMeta(key string) error                { return t.tx.DeleteMeta(key) }

func (t accountTx) Secret(name string) ([]byte, error) {
	v, _, err := t.tx.Secret(name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return v, err
}

func (t accountTx) PutSecret(name string, value []byte) error {
	if len(value) == 0 {
		err := t.tx.DeleteSecret(name)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	_, err := t.tx.PutSecret(name, value)
	return err
}

func (t accountTx) Audit(actor Actor, action Action, target string, result Result, detail string) error {
	_, err := t.tx.AppendAudit(auditEvent(actor, action, target, result, detail))
	return err
}

// WriteSecretFile writes a key, token or other secret of the data
// directory: mode 0600, atomically (the old file or the new one, never a
// mix).
func WriteSecretFile(path string, data []byte) error { return store.WriteSecretFile(path, data) }

// ShredFile overwrites a secret file with random bytes and removes it; a
// missing file is not an error.
func ShredFile(path string) error { return store.Shred(path) }
