package device_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
)

func newGateway(t *testing.T) (*device.Gateway, *store.Store) {
	t.Helper()
	st := storetest.New(t)
	gw, err := device.NewGateway(st, device.GatewayOptions{GatewayID: "gw-test"})
	if err != nil {
		t.Fatal(err)
	}
	return gw, st
}

var installer = device.Actor{ID: "u-inst", Role: "installer"}

// Two installers save changes based on the same revision at once: exactly
// one is stored, the other is refused as stale, saying who changed what.
func TestConcurrentChangesBasedOnOneRevisionOneWins(t *testing.T) {
	for round := 0; round < 20; round++ {
		gw, _ := newGateway(t)
		base := gw.Rev()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, _ := gw.Site()
				s.Site.Name = []string{"North wing", "South wing"}[i]
				actor := device.Actor{ID: []string{"u-a", "u-b"}[i], Role: "installer"}
				_, errs[i] = gw.ApplySite(device.Edit{Actor: actor, Action: device.ActionConfigChange, Base: base}, s)
			}()
		}
		wg.Wait()
		ok, stale := 0, 0
		var se *device.StaleError
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.As(err, &se):
				stale++
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if ok != 1 || stale != 1 {
			t.Fatalf("round %d: %d stored, %d stale: %v", round, ok, stale, errs)
		}
		if se.Base != base || se.Current != gw.Rev() || (se.Author != "u-a" && se.Author != "u-b") {
			t.Fatalf("stale error %+v", se)
		}
		if !slicesContain(se.Changed, "site.name") {
			t.Fatalf("changed paths %v do not name site.name", se.Changed)
		}
		if !errors.Is(errs[0], device.ErrStale) && !errors.Is(errs[1], device.ErrStale) {
			t.Fatal("errors.Is(ErrStale) false")
		}
	}
}

func slicesContain(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// A site file carries the revision it was exported from: importing it after
// someone else's change is refused with a clear message; Force applies it,
// audited as forced; a file without revision applies as before.
func TestImportOfAStaleFile(t *testing.T) {
	gw, st := newGateway(t)
	if _, err := gw.EditSite(installer, device.ActionConfigChange, func(s *device.Site) error { s.Site.Name = "One"; return nil }); err != nil {
		t.Fatal(err)
	}
	exported, err := gw.ExportYAML()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(exported), "revision: 1\n") && !strings.Contains(string(exported), "\nrevision: 1\n") {
		t.Fatalf("export does not carry its revision:\n%s", exported)
	}
	if _, err := gw.EditSite(installer, device.ActionConfigChange, func(s *device.Site) error { s.Clock.Timezone = "Europe/Paris"; return nil }); err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(exported), "name: One", "name: Two", 1)
	_, err = gw.ImportYAML(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigImport}, []byte(edited))
	want := "the site changed since this file was exported (revision 1, now 2): run config diff, or import with --force"
	if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, device.ErrStale) {
		t.Fatalf("stale import: %v", err)
	}
	if s, _ := gw.Site(); s.Site.Name != "One" {
		t.Fatal("a refused import changed the site")
	}
	ch, err := gw.ImportYAML(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigImport, Force: true}, []byte(edited))
	if err != nil || ch.Rev != 3 {
		t.Fatalf("forced import: %+v %v", ch, err)
	}
	events, _ := st.ListAudit(store.AuditFilter{Newest: true, Limit: 1})
	if len(events) != 1 || events[0].Action != string(device.ActionConfigImport) || !strings.Contains(events[0].Detail, "forced over revision 2") {
		t.Fatalf("forced import audit: %+v", events)
	}
	noRev := strings.Replace(edited, "revision: 1\n", "", 1)
	noRev = strings.Replace(noRev, "name: Two", "name: Three", 1)
	if _, err := gw.ImportYAML(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigImport}, []byte(noRev)); err != nil {
		t.Fatalf("import without revision: %v", err)
	}
}

// A probationary change is reverted alone: changes others made meanwhile
// stay; a later change to the same setting makes the revert refuse.
func TestRevertChangeKeepsOtherPeoplesWork(t *testing.T) {
	gw, _ := newGateway(t)
	before, _ := gw.Site()
	if _, err := gw.EditSite(installer, device.ActionConfigChange, func(s *device.Site) error {
		s.WAN.Priority = []device.LinkKind{device.LinkWiFi, device.LinkEthernet, device.LinkCellular}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	after, _ := gw.Site()
	admin := device.Actor{ID: "u-admin", Role: "admin"}
	if _, err := gw.EditSite(admin, device.ActionConfigChange, func(s *device.Site) error {
		s.Access.PasswordMaxLength = 20
		s.Access.Require2FA = []device.Role{device.RoleAdmin, device.RoleInstaller, device.RoleSupport, device.RoleViewer}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := gw.RevertChange(device.SystemActor, device.ActionConfigRollback, before, after); err != nil {
		t.Fatal(err)
	}
	now, _ := gw.Site()
	if now.WAN.Priority[0] != device.LinkCellular {
		t.Fatalf("priority not reverted: %v", now.WAN.Priority)
	}
	if now.Access.PasswordMaxLength != 20 || len(now.Access.Require2FA) != 4 {
		t.Fatalf("the admin's access change was reverted too: %+v", now.Access)
	}

	// Now a change whose setting someone changed again since.
	before, _ = gw.Site()
	if _, err := gw.EditSite(installer, device.ActionConfigChange, func(s *device.Site) error { s.WAN.Probe.Interval = device.Duration(20e9); return nil }); err != nil {
		t.Fatal(err)
	}
	after, _ = gw.Site()
	if _, err := gw.EditSite(admin, device.ActionConfigChange, func(s *device.Site) error { s.WAN.Probe.Interval = device.Duration(30e9); return nil }); err != nil {
		t.Fatal(err)
	}
	_, err := gw.RevertChange(device.SystemActor, device.ActionConfigRollback, before, after)
	var rc *device.RevertConflictError
	if !errors.As(err, &rc) || len(rc.Paths) != 1 || rc.Paths[0] != "wan.probe.interval" {
		t.Fatalf("revert over a later change: %v", err)
	}
}

// A radio disabled for good while a Wi-Fi change is on probation does not
// make the rollback fail: the radio's settings stay, the rest goes back.
func TestRevertWithARadioDisabledMeanwhile(t *testing.T) {
	gw, _ := newGateway(t)
	before, _ := gw.Site()
	if _, err := gw.EditSite(installer, device.ActionConfigChange, func(s *device.Site) error {
		s.WAN.Priority = []device.LinkKind{device.LinkWiFi, device.LinkEthernet, device.LinkCellular}
		s.WiFi.Interface = "wlan1"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	after, _ := gw.Site()
	if _, err := gw.EditSite(installer, device.ActionConfigChange, func(s *device.Site) error { s.WiFi.PermanentlyDisabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := gw.RevertChange(device.SystemActor, device.ActionConfigRollback, before, after); err != nil {
		t.Fatal(err)
	}
	now, _ := gw.Site()
	if now.WAN.Priority[0] != device.LinkCellular || !now.WiFi.PermanentlyDisabled {
		t.Fatalf("after revert: priority %v, wifi %+v", now.WAN.Priority, now.WiFi)
	}
}

func TestKVIsDurableAndNamespaced(t *testing.T) {
	dir := t.TempDir()
	st := storetest.Open(t, dir)
	gw, err := device.NewGateway(st, device.GatewayOptions{GatewayID: "gw-kv"})
	if err != nil {
		t.Fatal(err)
	}
	a, b := gw.KV("lora"), gw.KV("coap")
	if _, err := a.Get("session/1"); !errors.Is(err, device.ErrNoValue) {
		t.Fatalf("unset key: %v", err)
	}
	for _, k := range []string{"session/1", "session/2", "nonce/1"} {
		if err := a.Put(k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Put("session/9", []byte("x")); err != nil {
		t.Fatal(err)
	}
	keys, err := a.Keys("session/", 0)
	if err != nil || strings.Join(keys, ",") != "session/1,session/2" {
		t.Fatalf("keys %v %v", keys, err)
	}
	if err := a.Put("big", make([]byte, device.MaxKVValue+1)); err == nil {
		t.Fatal("an oversized value was stored")
	}
	if err := a.Delete("session/1"); err != nil {
		t.Fatal(err)
	}
	if v, err := a.Get("session/2"); err != nil || string(v) != "session/2" {
		t.Fatalf("get %q %v", v, err)
	}
}
