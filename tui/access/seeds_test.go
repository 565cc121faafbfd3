package access_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
	"github.com/sitegate/sitegate/tui/access"
)

// Authenticator seeds live in the encrypted secret store: no seed ever
// enrolled is in the database file, in clear or base64, and a login with a
// code still works.
func TestTOTPSeedsAreNotInTheDatabaseFile(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	st := storetest.Open(t, dir, store.Options{Now: c.Now})
	gw, err := device.NewGateway(st, device.GatewayOptions{Clock: c})
	if err != nil {
		t.Fatal(err)
	}
	svc := access.New(gw, access.Options{Hasher: fastHasher, Clock: c})
	ctx := context.Background()
	var seeds []string
	for _, name := range []string{"alice", "bob"} {
		cr, err := svc.AddUser(ctx, device.LocalActor, access.NewUser{Name: name, Role: device.RoleAdmin, Password: goodPassword, TOTP: true, AcceptPrivacy: true})
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, cr.TOTPSecret)
	}
	code, _ := access.TOTPCode(seeds[0], c.Now())
	if _, err := svc.LoginPassword(ctx, "alice", goodPassword, code, true); err != nil {
		t.Fatalf("login with a code from the secret store: %v", err)
	}
	bob, _ := svc.AccountByName("bob")
	if err := svc.Delete(device.LocalActor, bob.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Secret(device.UserTOTPSecret(bob.ID)); err == nil {
		t.Fatal("a deleted account's seed is still in the secret store")
	}
	storetest.ScanForSecrets(t, dir, seeds)
}

// Accounts written before the secret store held their seed in the record:
// the access service moves it at start, and the code still works.
func TestLegacySeedsMoveToTheSecretStore(t *testing.T) {
	f := newFixture(t)
	cr := f.addUser(t, "carol", device.RoleInstaller, true)
	a, _ := f.svc.AccountByName("carol")
	// Write the record as an older sitegate did: the seed inside.
	var raw map[string]any
	_ = f.st.View(func(tx *store.Tx) error {
		rec, err := tx.User(a.ID)
		if err == nil {
			err = json.Unmarshal(rec.Data, &raw)
		}
		return err
	})
	raw["totp_secret"] = cr.TOTPSecret
	data, _ := json.Marshal(raw)
	if err := f.st.Update(func(tx *store.Tx) error {
		if err := tx.DeleteSecret(device.UserTOTPSecret(a.ID)); err != nil {
			return err
		}
		return tx.PutUser(store.UserRecord{ID: a.ID, Name: a.Name, Data: data})
	}); err != nil {
		t.Fatal(err)
	}
	svc := access.New(f.gw, access.Options{Hasher: fastHasher, Clock: f.clock})
	_ = f.st.View(func(tx *store.Tx) error {
		rec, _ := tx.User(a.ID)
		if strings.Contains(string(rec.Data), "totp_secret") {
			t.Error("the record still holds the seed")
		}
		if seed, _, err := tx.Secret(device.UserTOTPSecret(a.ID)); err != nil || string(seed) != cr.TOTPSecret {
			t.Errorf("seed in the secret store: %q %v", seed, err)
		}
		return nil
	})
	code, _ := access.TOTPCode(cr.TOTPSecret, f.clock.Now())
	if _, err := svc.LoginPassword(context.Background(), "carol", goodPassword, code, true); err != nil {
		t.Fatalf("login after the move: %v", err)
	}
}
