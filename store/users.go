package store

import (
	"encoding/json"
	"fmt"
	"sort"
)

// UserRecord is a stored account: an opaque id, a unique name and data the
// store does not interpret (the access package owns its meaning).
type UserRecord struct {
	ID   string
	Name string
	Data []byte
}

type userValue struct {
	Name string `json:"name"`
	Data []byte `json:"data"`
}

// PutUser creates or replaces the record with rec.ID. The name must not
// belong to another record (ErrNameTaken); renaming frees the old name.
func (t *Tx) PutUser(rec UserRecord) error {
	if rec.ID == "" || rec.Name == "" {
		return fmt.Errorf("put user: %w: id and name are required", ErrInvalid)
	}
	users := t.tx.Bucket(bucketUsers)
	names := t.tx.Bucket(bucketUserNames)
	if owner := names.Get([]byte(rec.Name)); owner != nil && string(owner) != rec.ID {
		return fmt.Errorf("user name %q: %w", rec.Name, ErrNameTaken)
	}
	if old := users.Get([]byte(rec.ID)); old != nil {
		var ov userValue
		if err := json.Unmarshal(old, &ov); err == nil && ov.Name != rec.Name {
			if err := names.Delete([]byte(ov.Name)); err != nil {
				return err
			}
		}
	}
	v, err := json.Marshal(userValue{Name: rec.Name, Data: rec.Data})
	if err != nil {
		return err
	}
	if err := users.Put([]byte(rec.ID), v); err != nil {
		return fmt.Errorf("put user %s: %w", rec.ID, err)
	}
	return names.Put([]byte(rec.Name), []byte(rec.ID))
}

func decodeUser(id, v []byte) (UserRecord, error) {
	var uv userValue
	if err := json.Unmarshal(v, &uv); err != nil {
		return UserRecord{}, fmt.Errorf("user %s: %w: %v", id, ErrCorrupt, err)
	}
	return UserRecord{ID: string(id), Name: uv.Name, Data: uv.Data}, nil
}

// User returns the record with id, or ErrNotFound.
func (t *Tx) User(id string) (UserRecord, error) {
	v := t.tx.Bucket(bucketUsers).Get([]byte(id))
	if v == nil {
		return UserRecord{}, fmt.Errorf("user %s: %w", id, ErrNotFound)
	}
	return decodeUser([]byte(id), v)
}

// UserByName returns the record named name, or ErrNotFound.
func (t *Tx) UserByName(name string) (UserRecord, error) {
	id := t.tx.Bucket(bucketUserNames).Get([]byte(name))
	if id == nil {
		return UserRecord{}, fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	return t.User(string(id))
}

// Users returns every record, sorted by name.
func (t *Tx) Users() ([]UserRecord, error) {
	var out []UserRecord
	err := t.tx.Bucket(bucketUsers).ForEach(func(k, v []byte) error {
		u, err := decodeUser(k, v)
		if err != nil {
			return err
		}
		out = append(out, u)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// UserCount returns the number of user records.
func (t *Tx) UserCount() int {
	return countKeys(t.tx.Bucket(bucketUsers).Cursor())
}

// DeleteUser removes the record with id, or returns ErrNotFound.
func (t *Tx) DeleteUser(id string) error {
	u, err := t.User(id)
	if err != nil {
		return err
	}
	if err := t.tx.Bucket(bucketUserNames).Delete([]byte(u.Name)); err != nil {
		return err
	}
	return t.tx.Bucket(bucketUsers).Delete([]byte(id))
}
