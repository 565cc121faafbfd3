package firmware

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store"
)

// MetaKey is the store metadata key of the firmware state (JSON).
const MetaKey = "firmware.state"

// DirName is the directory of the slot files inside the data directory.
const DirName = "firmware"

// DefaultMaxBootAttempts is how many starts a pending slot gets to complete
// its verification before the gateway gives up on it.
const DefaultMaxBootAttempts = 3

// maxDetail bounds the reason written into an audit event.
const maxDetail = 1024

// Audit actions written by the Manager.
const (
	ActionApply  = "firmware.apply"  // an image was written (Apply) or committed (Boot)
	ActionReject = "firmware.reject" // an image was refused, or failed at start
	ActionTrust  = "firmware.trust"  // a vendor key was pinned
)

// Slot names one of the two image slots.
type Slot string

// The two slots. The zero Slot means "none": the firmware the gateway was
// built with runs until the first image is committed.
const (
	SlotA Slot = "a"
	SlotB Slot = "b"
)

// Other returns the slot that is not s; for the zero Slot, SlotA.
func (s Slot) Other() Slot {
	if s == SlotA {
		return SlotB
	}
	return SlotA
}

// File returns the slot's file name inside DATA/firmware.
func (s Slot) File() string { return "slot-" + string(s) }

// SlotStatus is the state of a slot's image.
type SlotStatus string

// Slot states.
const (
	StatusPending   SlotStatus = "pending"   // written and verified by Apply; boots at the next start
	StatusCommitted SlotStatus = "committed" // verified at a start and made active
	StatusFailed    SlotStatus = "failed"    // failed its verification at a start
)

// slotRecord is what the state remembers of a slot.
type slotRecord struct {
	Version string     `json:"version"`
	Status  SlotStatus `json:"status"`
	// Key is the vendor key the image was verified with when it was
	// written: committed images are checked against it at every start,
	// so pinning a new vendor key does not orphan the running image.
	Key     []byte    `json:"key"`
	Written time.Time `json:"written"`
}

// state is the persisted firmware state (MetaKey).
type state struct {
	Active       Slot                `json:"active,omitempty"`
	Pending      Slot                `json:"pending,omitempty"`
	Slots        map[Slot]slotRecord `json:"slots,omitempty"`
	Floor        string              `json:"floor"`
	VendorKey    []byte              `json:"vendor_key,omitempty"`
	Hardware     string              `json:"hardware"`
	BootAttempts int                 `json:"boot_attempts,omitempty"`
	Failure      string              `json:"failure,omitempty"`
	FailedAt     time.Time           `json:"failed_at,omitzero"`
}

func (s state) clone() state {
	s.Slots = maps.Clone(s.Slots)
	return s
}

func (s state) floor() Version {
	v, err := ParseVersion(s.Floor)
	if err != nil {
		return Version{}
	}
	return v
}

func readState(tx *store.Tx) (state, error) {
	var s state
	raw := tx.Meta(MetaKey)
	if raw == nil {
		return s, nil
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return s, fmt.Errorf("firmware state in the store is unreadable: %w", err)
	}
	for _, sl := range []Slot{s.Active, s.Pending} {
		if sl != "" && sl != SlotA && sl != SlotB {
			return s, fmt.Errorf("firmware state in the store names slot %q", sl)
		}
	}
	if _, err := ParseVersion(s.Floor); s.Floor != "" && err != nil {
		return s, fmt.Errorf("firmware state in the store: floor: %w", err)
	}
	return s, nil
}

// Options configure a Manager. The zero value is usable.
type Options struct {
	// Hardware is the gateway's provisioned hardware id, recorded on the
	// first Open (default DefaultHardware). A different id on a later Open
	// is an error: hardware does not change under a data directory.
	Hardware string
	// BaseVersion is the version of the firmware that runs while no slot
	// is active: the program itself. Default "0.0.0".
	BaseVersion string
	// MaxBootAttempts is how many starts a pending slot gets (default
	// DefaultMaxBootAttempts).
	MaxBootAttempts int
	// Notify, when set, hears each decision after it is stored, as one
	// sentence (an image written, refused, committed or failed at start, a
	// key pinned) — for live screens, e.g. device.EventFirmware. It must
	// not block or call back into the Manager.
	Notify func(detail string)
}

// Manager installs images into the A/B slots of a data directory and
// decides at each start which slot runs. It is safe for concurrent use;
// one Apply or Boot runs at a time. There must be one Manager per store.
type Manager struct {
	st   *store.Store
	dir  string
	opts Options
	base Version

	op sync.Mutex // held by Apply, Boot and Trust

	mu sync.RWMutex
	s  state // copy of the committed state
}

// Open prepares DATA/firmware (mode 0700), removes what an interrupted
// Apply left there and loads the firmware state from st.
func Open(st *store.Store, opts Options) (*Manager, error) {
	if opts.BaseVersion == "" {
		opts.BaseVersion = "0.0.0"
	}
	base, err := ParseVersion(opts.BaseVersion)
	if err != nil {
		return nil, fmt.Errorf("base firmware version: %w", err)
	}
	if opts.Hardware != "" {
		if err := checkHardware(opts.Hardware); err != nil {
			return nil, err
		}
	}
	if opts.MaxBootAttempts <= 0 {
		opts.MaxBootAttempts = DefaultMaxBootAttempts
	}
	m := &Manager{st: st, dir: filepath.Join(st.Dir(), DirName), opts: opts, base: base}
	if err := os.MkdirAll(m.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create firmware directory: %w", err)
	}
	if err := os.Chmod(m.dir, 0o700); err != nil {
		return nil, fmt.Errorf("firmware directory: %w", err)
	}
	// Temporary files are only written under m.op by the one process that
	// holds the store, so any left now are from an interrupted Apply.
	stale, _ := filepath.Glob(filepath.Join(m.dir, ".tmp-*"))
	for _, p := range stale {
		_ = os.Remove(p)
	}
	var s state
	if err := st.View(func(tx *store.Tx) (err error) { s, err = readState(tx); return err }); err != nil {
		return nil, err
	}
	switch {
	case s.Hardware == "":
		err = m.update(func(s *state, tx *store.Tx) error {
			s.Hardware = opts.Hardware
			if s.Hardware == "" {
				s.Hardware = DefaultHardware
			}
			if s.Floor == "" {
				s.Floor = Version{}.String()
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("store firmware state: %w", err)
		}
	case opts.Hardware != "" && opts.Hardware != s.Hardware:
		return nil, fmt.Errorf("hardware id %s does not match this data directory's hardware id %s", opts.Hardware, s.Hardware)
	default:
		m.s = s
	}
	return m, nil
}

// update changes the state in one store transaction, in which fn may also
// append audit events; the cached copy changes only after the commit.
func (m *Manager) update(fn func(s *state, tx *store.Tx) error) error {
	var next state
	err := m.st.Update(func(tx *store.Tx) error {
		s, err := readState(tx)
		if err != nil {
			return err
		}
		if s.Slots == nil {
			s.Slots = map[Slot]slotRecord{}
		}
		if err := fn(&s, tx); err != nil {
			return err
		}
		raw, err := json.Marshal(s)
		if err != nil {
			return err
		}
		next = s
		return tx.PutMeta(MetaKey, raw)
	})
	if err == nil {
		m.mu.Lock()
		m.s = next
		m.mu.Unlock()
	}
	return err
}

func (m *Manager) snapshot() state {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.s.clone()
}

func (m *Manager) running(s state) Version {
	if s.Active != "" {
		if v, err := ParseVersion(s.Slots[s.Active].Version); err == nil {
			return v
		}
	}
	return m.base
}

func (m *Manager) notify(detail string) {
	if m.opts.Notify != nil {
		m.opts.Notify(detail)
	}
}

func (m *Manager) slotPath(s Slot) string { return filepath.Join(m.dir, s.File()) }

func appendAudit(tx *store.Tx, actor device.Actor, action device.Action, target string, result device.Result, detail string) error {
	if len(detail) > maxDetail {
		detail = detail[:maxDetail-3] + "..."
	}
	_, err := tx.AppendAudit(device.AuditEvent(actor, action, target, result, detail))
	return err
}

// refusal reports whether err is a refusal of the image (audited as
// denied) rather than a failure to read or write it.
func refusal(err error) bool {
	for _, e := range []error{ErrNotImage, ErrTruncated, ErrMalformed, ErrWrongKey, ErrBadSignature, ErrPayloadHash, ErrUntrusted, ErrWrongHardware, ErrBelowFloor, ErrBusy} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// reject audits a refused or failed Apply and returns err.
func (m *Manager) reject(actor device.Actor, slot Slot, mf Manifest, err error) error {
	result := device.ResultFailed
	if refusal(err) {
		result = device.ResultDenied
	}
	detail := err.Error()
	if mf.Version != "" {
		detail = "version " + mf.Version + ": " + detail
	}
	target := "firmware"
	if slot != "" {
		target = slot.File()
	}
	aerr := m.st.Update(func(tx *store.Tx) error {
		return appendAudit(tx, actor, ActionReject, target, result, detail)
	})
	if aerr != nil {
		return errors.Join(err, fmt.Errorf("audit the refusal: %w", aerr))
	}
	m.notify("firmware refused for " + target + ": " + detail)
	return err
}

// crashPoint lets tests stop the process at the points where a crash is
// most interesting ("written": the temporary slot file is complete and
// synced; "renamed": the slot file is in place, the state not yet
// updated).
var crashPoint = func(string) {}

// Apply verifies an image while streaming it from r into the inactive
// slot, and marks that slot pending: the next Boot verifies it again from
// disk and commits it. Nothing is believed before the manifest's signature
// verifies with the pinned vendor key; the hardware id and the
// anti-rollback floor are checked before the payload is read, and the
// payload's size and SHA-256 while it is written to a temporary file, which
// replaces the slot file only once all of it verified (synced, renamed,
// directory synced). Versions at or above the floor install, including a
// reinstall or a downgrade within the floor: the floor is the vendor's
// statement of what is still safe to run.
//
// progress, when not nil, is called with payload bytes done and total. ctx
// stops the transfer between chunks. Every refusal or failure is audited
// firmware.reject with its reason, a written image firmware.apply; actor
// is who asked.
func (m *Manager) Apply(ctx context.Context, r io.Reader, actor device.Actor, progress func(done, total int64)) (Manifest, error) {
	if !m.op.TryLock() {
		return Manifest{}, m.reject(actor, "", Manifest{}, ErrBusy)
	}
	defer m.op.Unlock()
	s := m.snapshot()
	slot := s.Active.Other()
	if len(s.VendorKey) == 0 {
		return Manifest{}, m.reject(actor, slot, Manifest{}, ErrUntrusted)
	}
	tmp, err := os.CreateTemp(m.dir, ".tmp-"+slot.File()+"-*")
	if err != nil {
		return Manifest{}, m.reject(actor, slot, Manifest{}, fmt.Errorf("create slot file: %w", err))
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	rd, err := NewReader(io.TeeReader(r, slotWriter{tmp, slot}), s.VendorKey)
	if err != nil {
		return Manifest{}, m.reject(actor, slot, Manifest{}, err)
	}
	mf := rd.Manifest()
	if mf.Hardware != s.Hardware {
		return Manifest{}, m.reject(actor, slot, mf, fmt.Errorf("%w: the image is for %q, this gateway is %q", ErrWrongHardware, mf.Hardware, s.Hardware))
	}
	v := MustParseVersion(mf.Version)
	if floor := s.floor(); v.Less(floor) {
		return Manifest{}, m.reject(actor, slot, mf, fmt.Errorf("%w: version %s is below the floor %s", ErrBelowFloor, v, floor))
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if err := drain(ctx, rd, progress); err != nil {
		return Manifest{}, m.reject(actor, slot, mf, err)
	}
	if err := tmp.Sync(); err != nil {
		return Manifest{}, m.reject(actor, slot, mf, fmt.Errorf("sync %s: %w", slot.File(), err))
	}
	if err := tmp.Close(); err != nil {
		return Manifest{}, m.reject(actor, slot, mf, fmt.Errorf("close %s: %w", slot.File(), err))
	}
	crashPoint("written")
	if err := os.Rename(tmp.Name(), m.slotPath(slot)); err != nil {
		return Manifest{}, m.reject(actor, slot, mf, fmt.Errorf("install %s: %w", slot.File(), err))
	}
	renamed = true
	store.SyncDir(m.dir)
	crashPoint("renamed")

	running := m.running(s)
	detail := fmt.Sprintf("version %s written, pending: it is verified again and runs from the next start (running %s", v, running)
	switch v.Compare(running) {
	case 0:
		detail += ", a reinstall)"
	case -1:
		detail += ", a downgrade within the floor " + s.floor().String() + ")"
	default:
		detail += ")"
	}
	err = m.update(func(s *state, tx *store.Tx) error {
		s.Slots[slot] = slotRecord{Version: mf.Version, Status: StatusPending, Key: s.VendorKey, Written: m.st.Now().UTC()}
		s.Pending = slot
		s.BootAttempts = 0
		return appendAudit(tx, actor, ActionApply, slot.File(), device.ResultOK, detail)
	})
	if err != nil {
		// The slot file is written but not pending: the next start keeps
		// the active slot, so this is a failed update, not a broken one.
		return Manifest{}, m.reject(actor, slot, mf, fmt.Errorf("mark %s pending: %w", slot.File(), err))
	}
	m.notify("firmware " + slot.File() + ": " + detail)
	return mf, nil
}

// slotWriter names the slot in write errors (a full disk, typically).
type slotWriter struct {
	f    *os.File
	slot Slot
}

func (w slotWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = fmt.Errorf("write %s: %w", w.slot.File(), err)
	}
	return n, err
}

// BootReport says what Boot decided.
type BootReport struct {
	Slot      Slot   // the slot running now; "" for the base firmware
	Version   string // the version running now
	Committed bool   // a pending image verified and is now active
	FellBack  bool   // an image failed and another one runs instead
	Problem   string // what failed, when something did
}

// Boot decides which slot runs; call it at every start, before anything
// else uses the firmware state. A pending slot is verified again from disk
// (signature with the pinned vendor key, SHA-256, hardware, version) and
// committed: it becomes active and the anti-rollback floor rises to its
// min_version. If it fails, or has been given MaxBootAttempts starts
// without completing, it is marked failed and the active slot stays. The
// slot that ends up active is verified too (with the key it was installed
// with); if it fails, the other slot runs when it holds a committed image
// at or above the floor that verifies. Every decision is audited; a
// failure is remembered for Failed until an image commits. Boot returns an
// error only when the store cannot be written.
func (m *Manager) Boot() (BootReport, error) {
	m.op.Lock()
	defer m.op.Unlock()
	s := m.snapshot()
	var rep BootReport
	if p := s.Pending; p != "" {
		attempts := s.BootAttempts + 1
		// Counted before the work, so a start that dies while verifying
		// still counts.
		if err := m.update(func(s *state, tx *store.Tx) error { s.BootAttempts = attempts; return nil }); err != nil {
			return rep, fmt.Errorf("store firmware boot attempt: %w", err)
		}
		rec := s.Slots[p]
		var mf Manifest
		var verr error
		if attempts > m.opts.MaxBootAttempts {
			verr = fmt.Errorf("it did not complete its verification in %d starts", attempts-1)
		} else {
			mf, verr = m.verifySlot(p, s.VendorKey, rec.Version, s)
		}
		if verr == nil {
			from := m.running(s)
			floor := s.floor()
			if mv := MustParseVersion(mf.MinVersion); floor.Less(mv) {
				floor = mv
			}
			detail := fmt.Sprintf("version %s verified at start and committed (was %s); anti-rollback floor %s", mf.Version, from, floor)
			err := m.update(func(s *state, tx *store.Tx) error {
				rec.Status = StatusCommitted
				s.Slots[p] = rec
				s.Active, s.Pending, s.BootAttempts = p, "", 0
				s.Floor = floor.String()
				s.Failure, s.FailedAt = "", time.Time{}
				return appendAudit(tx, device.SystemActor, ActionApply, p.File(), device.ResultOK, detail)
			})
			if err != nil {
				return rep, fmt.Errorf("commit firmware %s: %w", p.File(), err)
			}
			m.notify("firmware " + p.File() + ": " + detail)
			return BootReport{Slot: p, Version: mf.Version, Committed: true}, nil
		}
		problem := fmt.Sprintf("pending version %s in %s failed at start: %v; %s", rec.Version, p.File(), verr, m.describeRunning(s))
		err := m.update(func(s *state, tx *store.Tx) error {
			rec.Status = StatusFailed
			s.Slots[p] = rec
			s.Pending, s.BootAttempts = "", 0
			s.Failure, s.FailedAt = problem, m.st.Now().UTC()
			return appendAudit(tx, device.SystemActor, ActionReject, p.File(), device.ResultFailed, problem)
		})
		if err != nil {
			return rep, fmt.Errorf("record firmware fallback: %w", err)
		}
		m.notify("firmware update failed: " + problem)
		rep.FellBack, rep.Problem = true, problem
		s = m.snapshot()
	}
	rep.Slot, rep.Version = s.Active, m.running(s).String()
	if s.Active == "" {
		return rep, nil
	}
	rec := s.Slots[s.Active]
	_, verr := m.verifySlot(s.Active, rec.Key, rec.Version, s)
	if verr == nil {
		return rep, nil
	}
	problem := fmt.Sprintf("active version %s in %s failed verification at start: %v", rec.Version, s.Active.File(), verr)
	next := s.Active
	other := s.Active.Other()
	if o, ok := s.Slots[other]; ok && o.Status == StatusCommitted {
		if ov, err := ParseVersion(o.Version); err == nil && !ov.Less(s.floor()) {
			if _, err := m.verifySlot(other, o.Key, o.Version, s); err == nil {
				next = other
				problem += fmt.Sprintf("; running version %s from %s instead", o.Version, other.File())
			}
		}
	}
	if next == s.Active {
		problem += "; no other slot holds a verified image at or above the floor, so it keeps running: reinstall the firmware"
	}
	failed := s.Active
	if rep.Problem != "" {
		problem = rep.Problem + "; then " + problem
	}
	err := m.update(func(s *state, tx *store.Tx) error {
		r := s.Slots[failed]
		r.Status = StatusFailed
		s.Slots[failed] = r
		s.Active = next
		s.Failure, s.FailedAt = problem, m.st.Now().UTC()
		return appendAudit(tx, device.SystemActor, ActionReject, failed.File(), device.ResultFailed, problem)
	})
	if err != nil {
		return rep, fmt.Errorf("record firmware failure: %w", err)
	}
	m.notify("firmware failed: " + problem)
	s = m.snapshot()
	return BootReport{Slot: s.Active, Version: m.running(s).String(), FellBack: next != failed || rep.FellBack, Problem: problem}, nil
}

// describeRunning says what runs while no pending image does.
func (m *Manager) describeRunning(s state) string {
	if s.Active == "" {
		return fmt.Sprintf("staying on the base firmware %s", m.base)
	}
	return fmt.Sprintf("staying on version %s in %s", m.running(s), s.Active.File())
}

// verifySlot verifies a slot file from disk with key and checks that it
// holds the version its record says, for this hardware, at or above the
// floor.
func (m *Manager) verifySlot(slot Slot, key ed25519.PublicKey, version string, s state) (Manifest, error) {
	if len(key) == 0 {
		return Manifest{}, ErrUntrusted
	}
	f, err := os.Open(m.slotPath(slot))
	if err != nil {
		return Manifest{}, fmt.Errorf("open slot: %w", err)
	}
	defer f.Close()
	mf, err := Verify(f, key)
	if err != nil {
		return mf, err
	}
	if mf.Hardware != s.Hardware {
		return mf, fmt.Errorf("%w: the image is for %q, this gateway is %q", ErrWrongHardware, mf.Hardware, s.Hardware)
	}
	if mf.Version != version {
		return mf, fmt.Errorf("the slot holds version %s, but version %s was installed there", mf.Version, version)
	}
	if v, floor := MustParseVersion(mf.Version), s.floor(); v.Less(floor) {
		return mf, fmt.Errorf("%w: version %s is below the floor %s", ErrBelowFloor, v, floor)
	}
	return mf, nil
}

// Trust pins pub as the vendor key that images must be signed with,
// replacing an earlier one (images already committed keep verifying with
// the key they were installed with). Callers offer it only to someone with
// physical access to the gateway — the local command line — never over a
// remote session. Audited firmware.trust.
func (m *Manager) Trust(pub ed25519.PublicKey, actor device.Actor) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("%w: public key has %d bytes, want %d", ErrBadKey, len(pub), ed25519.PublicKeySize)
	}
	m.op.Lock()
	defer m.op.Unlock()
	id := KeyID(pub)
	err := m.update(func(s *state, tx *store.Tx) error {
		switch {
		case bytes.Equal(s.VendorKey, pub):
			return appendAudit(tx, actor, ActionTrust, "key "+id, device.ResultUnchanged, "already the trusted vendor key")
		case len(s.VendorKey) > 0:
			old := KeyID(s.VendorKey)
			s.VendorKey = append([]byte(nil), pub...)
			return appendAudit(tx, actor, ActionTrust, "key "+id, device.ResultOK, "replaces vendor key "+old)
		default:
			s.VendorKey = append([]byte(nil), pub...)
			return appendAudit(tx, actor, ActionTrust, "key "+id, device.ResultOK, "first vendor key")
		}
	})
	if err != nil {
		return fmt.Errorf("pin vendor key: %w", err)
	}
	m.notify("firmware vendor key " + id + " trusted")
	return nil
}

// Info returns the running firmware for health.
func (m *Manager) Info() device.FirmwareInfo {
	s := m.snapshot()
	return device.FirmwareInfo{Version: m.running(s).String(), Slot: string(s.Active), Floor: s.floor().String()}
}

// Failed reports whether the last firmware update failed at start (or the
// active image failed its verification), with the reason, for the health
// rule firmware.failed. It clears when an image commits.
func (m *Manager) Failed() (bool, string) {
	s := m.snapshot()
	return s.Failure != "", s.Failure
}

// HealthSource fills the firmware section of health.
func (m *Manager) HealthSource() device.HealthSource {
	return func(h *device.Health) { h.Firmware = m.Info() }
}

// SlotInfo describes one slot.
type SlotInfo struct {
	Version string     `json:"version"`
	Status  SlotStatus `json:"status"`
	KeyID   string     `json:"key_id"`
	Written time.Time  `json:"written"`
}

// Status is the whole firmware state, for display.
type Status struct {
	Running   string            `json:"running"`
	Active    Slot              `json:"active,omitempty"`
	Pending   Slot              `json:"pending,omitempty"`
	Slots     map[Slot]SlotInfo `json:"slots"`
	Floor     string            `json:"floor"`
	Hardware  string            `json:"hardware"`
	VendorKey string            `json:"vendor_key,omitempty"` // key id; "" when none is pinned
	Failure   string            `json:"failure,omitempty"`
	FailedAt  time.Time         `json:"failed_at,omitzero"`
}

// Status returns the firmware state.
func (m *Manager) Status() Status {
	s := m.snapshot()
	st := Status{
		Running: m.running(s).String(), Active: s.Active, Pending: s.Pending, Slots: map[Slot]SlotInfo{},
		Floor: s.floor().String(), Hardware: s.Hardware, Failure: s.Failure, FailedAt: s.FailedAt,
	}
	if len(s.VendorKey) > 0 {
		st.VendorKey = KeyID(s.VendorKey)
	}
	for sl, r := range s.Slots {
		info := SlotInfo{Version: r.Version, Status: r.Status, Written: r.Written}
		if len(r.Key) > 0 {
			info.KeyID = KeyID(r.Key)
		}
		st.Slots[sl] = info
	}
	return st
}

// Dir returns the directory of the slot files: what a bootloader would
// read.
func (m *Manager) Dir() string { return m.dir }
