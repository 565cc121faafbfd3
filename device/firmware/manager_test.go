package firmware

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
)

var installer = device.Actor{ID: "u-7f3a", Role: "admin"}

// rig is a gateway's data directory with a Manager and a vendor key.
type rig struct {
	t    *testing.T
	st   *store.Store
	m    *Manager
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newRig(t *testing.T, trusted bool) *rig {
	t.Helper()
	st := storetest.New(t)
	m, err := Open(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pub, priv := newKey(t)
	r := &rig{t, st, m, pub, priv}
	if trusted {
		if err := m.Trust(pub, device.LocalActor); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func (r *rig) image(version, min string) []byte {
	return image(r.t, r.priv, version, min, "sitegate", payloadOf(256<<10, uint64(len(version))))
}

func (r *rig) apply(img []byte) (Manifest, error) {
	return r.m.Apply(context.Background(), bytes.NewReader(img), installer, nil)
}

// install applies and boots an image, which must commit.
func (r *rig) install(version, min string) {
	r.t.Helper()
	if _, err := r.apply(r.image(version, min)); err != nil {
		r.t.Fatalf("apply %s: %v", version, err)
	}
	rep, err := r.m.Boot()
	if err != nil || !rep.Committed || rep.Version != version {
		r.t.Fatalf("boot %s: %+v %v", version, rep, err)
	}
}

// audit returns the events with the given action, oldest first.
func (r *rig) audit(action string) []store.AuditEvent {
	r.t.Helper()
	all, err := r.st.ListAudit(store.AuditFilter{})
	if err != nil {
		r.t.Fatal(err)
	}
	var out []store.AuditEvent
	for _, e := range all {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

func (r *rig) lastAudit(action string) store.AuditEvent {
	r.t.Helper()
	es := r.audit(action)
	if len(es) == 0 {
		r.t.Fatalf("no %s event", action)
	}
	return es[len(es)-1]
}

// noLeftovers checks that the firmware directory holds only slot files.
func (r *rig) noLeftovers() {
	r.t.Helper()
	entries, _ := os.ReadDir(r.m.Dir())
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "slot-") {
			r.t.Errorf("left in the firmware directory: %s", e.Name())
		}
	}
}

func TestFirmwareOpenPreparesPrivateDirectoryAndDefaults(t *testing.T) {
	r := newRig(t, false)
	fi, err := os.Stat(filepath.Join(r.st.Dir(), DirName))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("firmware directory: %v %v", fi, err)
	}
	if got := r.m.Info(); got != (device.FirmwareInfo{Version: "0.0.0", Floor: "0.0.0"}) {
		t.Errorf("info %+v", got)
	}
	if s := r.m.Status(); s.Hardware != "sitegate" || s.VendorKey != "" {
		t.Errorf("status %+v", s)
	}
	var h device.Health
	r.m.HealthSource()(&h)
	if h.Firmware.Version != "0.0.0" {
		t.Errorf("health firmware %+v", h.Firmware)
	}
}

func TestFirmwareUntrustedGatewayRefusesEveryImage(t *testing.T) {
	r := newRig(t, false)
	_, err := r.apply(r.image("1.0.0", "0.0.0"))
	if !errors.Is(err, ErrUntrusted) {
		t.Fatalf("got %v", err)
	}
	e := r.lastAudit(ActionReject)
	if e.Actor != installer.ID || e.Role != installer.Role || device.Result(e.Result) != device.ResultDenied || !strings.Contains(e.Detail, "no vendor key") {
		t.Errorf("audit %+v", e)
	}
	if _, err := os.Stat(filepath.Join(r.m.Dir(), "slot-a")); err == nil {
		t.Error("a slot was written")
	}
	r.noLeftovers()
}

func TestFirmwareTrustIsAudited(t *testing.T) {
	r := newRig(t, true)
	if err := r.m.Trust(r.pub, device.LocalActor); err != nil {
		t.Fatal(err)
	}
	other, _ := newKey(t)
	if err := r.m.Trust(other, device.LocalActor); err != nil {
		t.Fatal(err)
	}
	es := r.audit(ActionTrust)
	if len(es) != 3 {
		t.Fatalf("%d trust events", len(es))
	}
	if es[0].Result != "ok" || es[1].Result != "unchanged" || es[2].Result != "ok" || !strings.Contains(es[2].Detail, "replaces vendor key "+KeyID(r.pub)) || es[2].Actor != "local" {
		t.Errorf("trust events %+v", es)
	}
	if r.m.Status().VendorKey != KeyID(other) {
		t.Error("new key not pinned")
	}
	if err := r.m.Trust(other[:10], device.LocalActor); !errors.Is(err, ErrBadKey) {
		t.Errorf("short key: %v", err)
	}
}

// Every refusal leaves the gateway as it was, writes no slot, and is
// audited firmware.reject with the reason.
func TestFirmwareApplyRefusalsAreAuditedAndChangeNothing(t *testing.T) {
	r := newRig(t, true)
	r.install("1.0.0", "1.0.0")
	before := r.m.Status()
	slotA, _ := os.ReadFile(filepath.Join(r.m.Dir(), "slot-a"))
	_, otherPriv := newKey(t)
	good := r.image("1.1.0", "1.0.0")
	off, n := manifestAt(good)
	mod := func(fn func(b []byte)) []byte { b := bytes.Clone(good); fn(b); return b }
	for _, tc := range []struct {
		name   string
		img    []byte
		want   error
		detail string
	}{
		{"tampered payload", mod(func(b []byte) { b[len(b)-1] ^= 0xff }), ErrPayloadHash, "version 1.1.0: firmware payload does not match"},
		{"tampered manifest", mod(func(b []byte) {
			copy(b[off:off+n], bytes.Replace(b[off:off+n], []byte(`"min_version":"1.0.0"`), []byte(`"min_version":"0.0.0"`), 1))
		}), ErrBadSignature, "altered"},
		{"wrong key", image(t, otherPriv, "1.1.0", "1.0.0", "sitegate", payloadOf(1000, 9)), ErrWrongKey, "signed by another key"},
		{"wrong hardware", image(t, r.priv, "1.1.0", "1.0.0", "sitegate-pro", payloadOf(1000, 9)), ErrWrongHardware, `for "sitegate-pro", this gateway is "sitegate"`},
		{"truncated file", good[:len(good)/2], ErrTruncated, "payload ends after"},
		{"downgrade below the floor", r.image("0.9.9", "0.0.0"), ErrBelowFloor, "version 0.9.9 is below the floor 1.0.0"},
		{"not an image", []byte("hello"), ErrNotImage, "not a sitegate firmware image"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(r.audit(ActionReject))
			_, err := r.apply(tc.img)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			es := r.audit(ActionReject)
			if len(es) != n+1 {
				t.Fatalf("%d new reject events", len(es)-n)
			}
			e := es[len(es)-1]
			if device.Result(e.Result) != device.ResultDenied || e.Actor != installer.ID || e.Target != "slot-b" || !strings.Contains(e.Detail, tc.detail) {
				t.Errorf("audit %+v, want detail %q", e, tc.detail)
			}
			if got := r.m.Status(); got.Pending != "" || got.Active != before.Active || got.Floor != before.Floor {
				t.Errorf("state changed: %+v", got)
			}
			if _, err := os.Stat(filepath.Join(r.m.Dir(), "slot-b")); err == nil {
				t.Error("slot-b was written")
			}
			r.noLeftovers()
		})
	}
	if len(r.audit(ActionApply)) != 2 {
		t.Errorf("apply events: %+v", r.audit(ActionApply))
	}
	if now, _ := os.ReadFile(filepath.Join(r.m.Dir(), "slot-a")); !bytes.Equal(now, slotA) {
		t.Error("the active slot changed")
	}
	if rep, err := r.m.Boot(); err != nil || rep.Slot != SlotA || rep.Version != "1.0.0" || rep.FellBack {
		t.Errorf("boot after refusals: %+v %v", rep, err)
	}
}

func TestFirmwarePendingCommitsAtBootAndFloorRises(t *testing.T) {
	r := newRig(t, true)
	var last [2]int64
	m, err := r.m.Apply(context.Background(), bytes.NewReader(r.image("1.0.0", "0.5.0")), installer, func(done, total int64) { last = [2]int64{done, total} })
	if err != nil {
		t.Fatal(err)
	}
	if last[0] != m.Size || last[1] != m.Size {
		t.Errorf("progress ended at %v, size %d", last, m.Size)
	}
	// Pending: the base firmware still runs until the next start.
	if s := r.m.Status(); s.Pending != SlotA || s.Active != "" || s.Running != "0.0.0" || s.Slots[SlotA].Status != StatusPending {
		t.Fatalf("after apply: %+v", s)
	}
	e := r.lastAudit(ActionApply)
	if e.Actor != installer.ID || e.Target != "slot-a" || !strings.Contains(e.Detail, "version 1.0.0 written, pending") {
		t.Errorf("apply audit %+v", e)
	}
	rep, err := r.m.Boot()
	if err != nil || !rep.Committed || rep.Slot != SlotA || rep.Version != "1.0.0" {
		t.Fatalf("boot: %+v %v", rep, err)
	}
	if got := r.m.Info(); got != (device.FirmwareInfo{Version: "1.0.0", Slot: "a", Floor: "0.5.0"}) {
		t.Errorf("info %+v", got)
	}
	e = r.lastAudit(ActionApply)
	if e.Actor != "system" || !strings.Contains(e.Detail, "committed (was 0.0.0); anti-rollback floor 0.5.0") {
		t.Errorf("commit audit %+v", e)
	}
	// The next image goes to the other slot; its floor is adopted.
	r.install("2.0.0", "1.5.0")
	if got := r.m.Info(); got != (device.FirmwareInfo{Version: "2.0.0", Slot: "b", Floor: "1.5.0"}) {
		t.Errorf("info %+v", got)
	}
	// A lower min_version never lowers the floor.
	r.install("2.1.0", "1.0.0")
	if got := r.m.Info(); got.Floor != "1.5.0" || got.Slot != "a" {
		t.Errorf("info %+v", got)
	}
	// Below the floor: refused. At the floor: a downgrade, allowed and said.
	if _, err := r.apply(r.image("1.4.9", "0.0.0")); !errors.Is(err, ErrBelowFloor) {
		t.Fatalf("below floor: %v", err)
	}
	if _, err := r.apply(r.image("1.5.0", "0.0.0")); err != nil {
		t.Fatal(err)
	}
	if e := r.lastAudit(ActionApply); !strings.Contains(e.Detail, "a downgrade within the floor 1.5.0") {
		t.Errorf("downgrade audit %+v", e)
	}
	// Applying again replaces the pending image; a reinstall says so.
	if _, err := r.apply(r.image("2.1.0", "0.0.0")); err != nil {
		t.Fatal(err)
	}
	if e := r.lastAudit(ActionApply); !strings.Contains(e.Detail, "reinstall") {
		t.Errorf("reinstall audit %+v", e)
	}
	if rep, err := r.m.Boot(); err != nil || !rep.Committed || rep.Slot != SlotB || rep.Version != "2.1.0" {
		t.Fatalf("boot: %+v %v", rep, err)
	}
	// A start without a pending image re-verifies and keeps the active one.
	if rep, err := r.m.Boot(); err != nil || rep.Committed || rep.FellBack || rep.Slot != SlotB {
		t.Fatalf("plain boot: %+v %v", rep, err)
	}
	if failed, _ := r.m.Failed(); failed {
		t.Error("failed after clean updates")
	}
}

func TestFirmwareCorruptedPendingSlotFallsBack(t *testing.T) {
	r := newRig(t, true)
	r.install("1.0.0", "1.0.0")
	if _, err := r.apply(r.image("1.1.0", "1.1.0")); err != nil {
		t.Fatal(err)
	}
	// The slot file is damaged on disk after Apply verified it.
	path := filepath.Join(r.m.Dir(), "slot-b")
	b, _ := os.ReadFile(path)
	b[len(b)-10] ^= 1
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := r.m.Boot()
	if err != nil {
		t.Fatal(err)
	}
	if !rep.FellBack || rep.Committed || rep.Slot != SlotA || rep.Version != "1.0.0" || !strings.Contains(rep.Problem, "payload does not match") {
		t.Fatalf("boot: %+v", rep)
	}
	if got := r.m.Info(); got != (device.FirmwareInfo{Version: "1.0.0", Slot: "a", Floor: "1.0.0"}) {
		t.Errorf("floor rose for a failed image: %+v", got)
	}
	failed, why := r.m.Failed()
	if !failed || !strings.Contains(why, "pending version 1.1.0 in slot-b failed at start") || !strings.Contains(why, "staying on version 1.0.0 in slot-a") {
		t.Errorf("Failed() = %v, %q", failed, why)
	}
	e := r.lastAudit(ActionReject)
	if e.Actor != "system" || e.Target != "slot-b" || device.Result(e.Result) != device.ResultFailed || e.Detail != why {
		t.Errorf("audit %+v", e)
	}
	if s := r.m.Status(); s.Pending != "" || s.Slots[SlotB].Status != StatusFailed {
		t.Errorf("status %+v", s)
	}
	// The failure stays for the health rule across starts, until an image
	// commits.
	if rep, err := r.m.Boot(); err != nil || rep.FellBack || rep.Slot != SlotA {
		t.Fatalf("second boot: %+v %v", rep, err)
	}
	if failed, _ := r.m.Failed(); !failed {
		t.Error("failure forgotten at the next start")
	}
	r.install("1.1.0", "1.1.0")
	if failed, _ := r.m.Failed(); failed {
		t.Error("failure kept after a successful update")
	}
}

// A pending slot whose file was swapped for another validly signed image
// fails: the version must be the one that was applied.
func TestFirmwareSwappedPendingSlotFallsBack(t *testing.T) {
	r := newRig(t, true)
	r.install("1.0.0", "0.0.0")
	if _, err := r.apply(r.image("1.2.0", "0.0.0")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.m.Dir(), "slot-b"), r.image("1.3.0", "0.0.0"), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, _ := r.m.Boot()
	if !rep.FellBack || !strings.Contains(rep.Problem, "holds version 1.3.0, but version 1.2.0 was installed") {
		t.Fatalf("boot: %+v", rep)
	}
}

func TestFirmwarePendingSlotGivesUpAfterMaxBootAttempts(t *testing.T) {
	r := newRig(t, true)
	r.install("1.0.0", "0.0.0")
	if _, err := r.apply(r.image("1.1.0", "0.0.0")); err != nil {
		t.Fatal(err)
	}
	// Three starts died while verifying.
	if err := r.m.update(func(s *state, tx *store.Tx) error { s.BootAttempts = DefaultMaxBootAttempts; return nil }); err != nil {
		t.Fatal(err)
	}
	rep, err := r.m.Boot()
	if err != nil || !rep.FellBack || rep.Slot != SlotA || !strings.Contains(rep.Problem, "did not complete its verification in 3 starts") {
		t.Fatalf("boot: %+v %v", rep, err)
	}
}

func TestFirmwareCorruptedActiveSlotFallsBackToOtherCommittedSlot(t *testing.T) {
	r := newRig(t, true)
	r.install("1.0.0", "1.0.0")
	r.install("1.1.0", "1.0.0")
	if err := os.WriteFile(filepath.Join(r.m.Dir(), "slot-b"), []byte("zeroed by a bad sector"), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := r.m.Boot()
	if err != nil || !rep.FellBack || rep.Slot != SlotA || rep.Version != "1.0.0" || !strings.Contains(rep.Problem, "running version 1.0.0 from slot-a instead") {
		t.Fatalf("boot: %+v %v", rep, err)
	}
	if failed, _ := r.m.Failed(); !failed {
		t.Error("not reported as failed")
	}
	if e := r.lastAudit(ActionReject); e.Target != "slot-b" || e.Actor != "system" {
		t.Errorf("audit %+v", e)
	}
}

// The other slot is not booted when it is below the floor: anti-rollback
// wins over availability.
func TestFirmwareCorruptedActiveSlotNeverFallsBackBelowFloor(t *testing.T) {
	r := newRig(t, true)
	r.install("1.0.0", "0.0.0")
	r.install("2.0.0", "2.0.0")
	if err := os.Truncate(filepath.Join(r.m.Dir(), "slot-b"), 100); err != nil {
		t.Fatal(err)
	}
	rep, err := r.m.Boot()
	if err != nil || rep.FellBack || rep.Slot != SlotB || !strings.Contains(rep.Problem, "no other slot holds a verified image at or above the floor") {
		t.Fatalf("boot: %+v %v", rep, err)
	}
	if failed, why := r.m.Failed(); !failed || !strings.Contains(why, "truncated") {
		t.Errorf("Failed() = %v %q", failed, why)
	}
}

// Pinning a new vendor key keeps the running image verifiable and makes
// the new key the one new images need.
func TestFirmwareKeyRotation(t *testing.T) {
	r := newRig(t, true)
	r.install("1.0.0", "0.0.0")
	pub2, priv2 := newKey(t)
	if err := r.m.Trust(pub2, device.LocalActor); err != nil {
		t.Fatal(err)
	}
	if rep, err := r.m.Boot(); err != nil || rep.FellBack {
		t.Fatalf("boot after rotation: %+v %v", rep, err)
	}
	if _, err := r.apply(r.image("1.1.0", "0.0.0")); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("old key after rotation: %v", err)
	}
	if _, err := r.apply(image(t, priv2, "1.1.0", "0.0.0", "sitegate", []byte("new"))); err != nil {
		t.Fatal(err)
	}
}

func TestFirmwareStatePersistsAndHardwareIsFixed(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open(st, Options{Hardware: "sg-edge-2"})
	if err != nil {
		t.Fatal(err)
	}
	pub, priv := newKey(t)
	if err := m.Trust(pub, device.LocalActor); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(context.Background(), bytes.NewReader(image(t, priv, "3.0.0", "2.0.0", "sg-edge-2", []byte("x"))), installer, nil); err != nil {
		t.Fatal(err)
	}
	st.Close()

	st = storetest.Open(t, dir)
	if _, err := Open(st, Options{Hardware: "sitegate"}); err == nil || !strings.Contains(err.Error(), "does not match this data directory's hardware id sg-edge-2") {
		t.Fatalf("other hardware id: %v", err)
	}
	m, err = Open(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s := m.Status(); s.Hardware != "sg-edge-2" || s.Pending != SlotA || s.VendorKey != KeyID(pub) {
		t.Fatalf("status after reopen: %+v", s)
	}
	if rep, err := m.Boot(); err != nil || !rep.Committed || m.Info().Floor != "2.0.0" {
		t.Fatalf("boot after reopen: %+v %v", rep, err)
	}
}

func TestFirmwareApplyCancelledIsAuditedAsFailed(t *testing.T) {
	r := newRig(t, true)
	img := image(t, r.priv, "1.0.0", "0.0.0", "sitegate", payloadOf(8<<20, 5))
	ctx, cancel := context.WithCancel(context.Background())
	_, err := r.m.Apply(ctx, bytes.NewReader(img), installer, func(done, total int64) {
		if done > 2<<20 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	if e := r.lastAudit(ActionReject); device.Result(e.Result) != device.ResultFailed || !strings.Contains(e.Detail, "interrupted after") {
		t.Errorf("audit %+v", e)
	}
	if s := r.m.Status(); s.Pending != "" {
		t.Errorf("pending after cancel: %+v", s)
	}
	r.noLeftovers()
}

func TestFirmwareConcurrentApplyIsRefused(t *testing.T) {
	r := newRig(t, true)
	img := r.image("1.0.0", "0.0.0")
	pr, pw := io.Pipe()
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	var firstErr error
	go func() {
		defer wg.Done()
		_, firstErr = r.m.Apply(context.Background(), pr, installer, func(done, total int64) {
			select {
			case <-started:
			default:
				close(started)
			}
		})
	}()
	if _, err := pw.Write(img[:len(img)/2]); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("first apply did not start")
	}
	if _, err := r.apply(img); !errors.Is(err, ErrBusy) {
		t.Fatalf("second apply: %v", err)
	}
	if _, err := pw.Write(img[len(img)/2:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	if e := r.lastAudit(ActionReject); !strings.Contains(e.Detail, "in progress") {
		t.Errorf("busy audit %+v", e)
	}
}

// A very long reason is cut so that the audit event stays within bounds.
func TestFirmwareRejectDetailIsBounded(t *testing.T) {
	r := newRig(t, true)
	err := r.m.reject(installer, SlotA, Manifest{}, errors.New(strings.Repeat("x", 10000)))
	if err == nil {
		t.Fatal("no error")
	}
	if e := r.lastAudit(ActionReject); len(e.Detail) > maxDetail {
		t.Errorf("detail of %d bytes", len(e.Detail))
	}
}

func TestFirmwareNotifyHearsEveryDecision(t *testing.T) {
	st := storetest.New(t)
	var heard []string
	m, err := Open(st, Options{Notify: func(d string) { heard = append(heard, d) }})
	if err != nil {
		t.Fatal(err)
	}
	pub, priv := newKey(t)
	if err := m.Trust(pub, device.LocalActor); err != nil {
		t.Fatal(err)
	}
	img := image(t, priv, "1.0.0", "0.0.0", "sitegate", []byte("payload"))
	if _, err := m.Apply(context.Background(), bytes.NewReader(img[:30]), installer, nil); err == nil {
		t.Fatal("truncated image applied")
	}
	if _, err := m.Apply(context.Background(), bytes.NewReader(img), installer, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Boot(); err != nil {
		t.Fatal(err)
	}
	want := []string{"vendor key " + KeyID(pub) + " trusted", "firmware refused for slot-a", "version 1.0.0 written, pending", "committed"}
	if len(heard) != len(want) {
		t.Fatalf("heard %q", heard)
	}
	for i, w := range want {
		if !strings.Contains(heard[i], w) {
			t.Errorf("heard[%d] = %q, want %q in it", i, heard[i], w)
		}
	}
}
