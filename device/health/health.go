// Package health samples the gateway's own state and raises and clears
// alerts by rules (README requirement 14): frequent reboots, a failed
// firmware update, network changes, an unsynchronised clock, a nearly full
// outbox or audit store, SIM data near its limit, a field device offline.
//
// # Alerts
//
// An alert is raised when its rule starts to hold and cleared when it
// stops, each time with a timestamp; both go to the live screens (an
// EventAlert) and to the outbox's alerts stream, so the cloud sees them in
// seq order with everything else. Rules are evaluated every few seconds
// and when an event may change them.
//
// # Caveats
//
//   - Boot times are recorded when the gateway process starts: on this
//     software gateway a "reboot" is a restart of sitegate run.
//   - network.changed is an event rule: it is raised by a change and
//     cleared after NetworkQuiet without another one.
package health

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/field"
)

// Rule names (binding: alerts carry them).
const (
	RuleRebootsFrequent = "reboots.frequent"
	RuleFirmwareFailed  = "firmware.failed"
	RuleNetworkChanged  = "network.changed"
	RuleClockUnsynced   = "clock.unsynced"
	RuleOutboxHigh      = "outbox.high"
	RuleDataLimit       = "data.limit"
	RuleAuditCapacity   = "audit.capacity"
	RuleFieldOffline    = "field.offline" // a field device of any protocol offline; the detail names device and protocol
)

// Thresholds of the rules.
const (
	MaxStartsPerHour = 3
	// ClockUnsyncedAfter is how long the clock may go without a valid
	// synchronisation before clock.unsynced is raised: only the first
	// round of NTP queries after a start, so that the alert is up for as
	// long as the clock is not synchronised (README requirement 9).
	ClockUnsyncedAfter = 30 * time.Second
	FieldOfflineAfter  = 5 * time.Minute
	NetworkQuiet       = 10 * time.Minute
	DataWarnPercent    = 80
)

// Options connect the monitor to the subsystems it watches; nil functions
// mean "not available" and their rules never fire.
type Options struct {
	// Clock is the time source (default the system clock).
	Clock  clockwork.Clock
	Logger *slog.Logger
	// DataDir is measured for disk use.
	DataDir string
	// ClockUnsyncedFor returns how long the clock has gone without a
	// valid synchronisation (0 when synced).
	ClockUnsyncedFor func() time.Duration
	// FirmwareFailed tells whether the last firmware update failed, and why.
	FirmwareFailed func() (bool, string)
	// Every is the evaluation period (default 5 s).
	Every time.Duration
}

// Monitor evaluates the rules and keeps the raised alerts.
type Monitor struct {
	gw   *device.Gateway
	o    Options
	mu   sync.Mutex
	live map[string]device.Alert
	// sub is taken in New, so that no event between New and Run is lost;
	// Run closes it (a Monitor runs once).
	sub *device.Subscription
	// lastNetwork is the time of the last network change.
	lastNetwork time.Time
	boots       []time.Time

	// The data directory is walked at most every diskEvery: health is
	// asked for often (every console session, every second).
	diskAt    time.Time
	diskBytes int64
	diskFree  uint64
}

const diskEvery = 30 * time.Second

const metaBoots = "health.boots"

// New records this start as a boot and returns a monitor; Start runs it.
func New(gw *device.Gateway, o Options) (*Monitor, error) {
	if o.Clock == nil {
		o.Clock = clockwork.System
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Every <= 0 {
		o.Every = 5 * time.Second
	}
	m := &Monitor{gw: gw, o: o, live: map[string]device.Alert{}, sub: gw.SubscribeTo(64, device.EventNetwork, device.EventSite, device.EventUplink, device.EventFirmware)}
	if err := m.recordBoot(); err != nil {
		m.sub.Close()
		return nil, err
	}
	gw.AddHealthSource(m.fill)
	return m, nil
}

// recordBoot appends this start to the persisted boot history (kept for a
// day, at most 500 entries).
func (m *Monitor) recordBoot() error {
	st := m.gw.Store()
	raw, _ := st.Meta(metaBoots)
	var boots []time.Time
	_ = json.Unmarshal(raw, &boots)
	now := m.o.Clock.Now().UTC()
	boots = append(boots, now)
	cut := now.Add(-24 * time.Hour)
	kept := boots[:0]
	for _, b := range boots {
		if b.After(cut) {
			kept = append(kept, b)
		}
	}
	if len(kept) > 500 {
		kept = kept[len(kept)-500:]
	}
	m.boots = kept
	var total uint64
	if b, _ := st.Meta(metaBoots + ".total"); len(b) > 0 {
		_, _ = fmt.Sscan(string(b), &total)
	}
	b, _ := json.Marshal(kept)
	if err := st.PutMeta(metaBoots, b); err != nil {
		return err
	}
	return st.PutMeta(metaBoots+".total", []byte(fmt.Sprint(total+1)))
}

// Run evaluates the rules every Every and on events that may change them,
// until ctx ends.
func (m *Monitor) Run(ctx context.Context) error {
	sub := m.sub
	defer sub.Close()
	t := m.o.Clock.NewTicker(m.o.Every)
	defer t.Stop()
	m.Evaluate()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C():
			m.Evaluate()
		case ev, ok := <-sub.C():
			if !ok {
				return nil
			}
			if m.onEvent(ev) {
				m.Evaluate()
			}
		}
	}
}

// networkSections are the parts of the site that configure the network.
func networkSections(s *device.Site) string {
	b, _ := json.Marshal(struct {
		W device.WAN
		C device.Cellular
		F device.WiFi
		L device.LoRa
	}{s.WAN, s.Cellular, s.WiFi, s.LoRa})
	return string(b)
}

// onEvent notes what events mean for the rules; true means re-evaluate.
func (m *Monitor) onEvent(ev device.Event) bool {
	switch ev.Kind {
	case device.EventNetwork:
		m.noteNetwork(ev.Detail)
		return true
	case device.EventSite:
		// A change of the network configuration counts as a network
		// change: the requirement is about "network-configuration
		// changes".
		hist, _ := m.gw.Store().ConfigHistory(device.SiteDoc, 2)
		if len(hist) == 2 {
			var a, b device.Site
			if json.Unmarshal(hist[0].Body, &a) == nil && json.Unmarshal(hist[1].Body, &b) == nil && networkSections(&a) != networkSections(&b) {
				m.noteNetwork("network configuration changed in site revision " + fmt.Sprint(hist[0].Rev))
			}
		}
		return true
	case device.EventUplink, device.EventFirmware:
		return true
	}
	return false
}

func (m *Monitor) noteNetwork(detail string) {
	m.mu.Lock()
	m.lastNetwork = m.o.Clock.Now()
	m.mu.Unlock()
	m.set(RuleNetworkChanged, true, "warning", detail)
}

// Evaluate checks every rule now.
func (m *Monitor) Evaluate() {
	now := m.o.Clock.Now()
	h := m.gw.Health()

	starts := 0
	for _, b := range m.boots {
		if now.Sub(b) <= time.Hour {
			starts++
		}
	}
	m.set(RuleRebootsFrequent, starts > MaxStartsPerHour, "warning", fmt.Sprintf("%d starts in the last hour", starts))

	if m.o.FirmwareFailed != nil {
		failed, why := m.o.FirmwareFailed()
		m.set(RuleFirmwareFailed, failed, "critical", why)
	}

	m.mu.Lock()
	quiet := !m.lastNetwork.IsZero() && now.Sub(m.lastNetwork) >= NetworkQuiet
	m.mu.Unlock()
	if quiet {
		m.set(RuleNetworkChanged, false, "warning", "")
	}

	if m.o.ClockUnsyncedFor != nil {
		d := m.o.ClockUnsyncedFor()
		m.set(RuleClockUnsynced, d >= ClockUnsyncedAfter, "warning", fmt.Sprintf("the clock is not synchronised (no valid NTP answer for %s)", d.Round(time.Second)))
	}

	m.set(RuleOutboxHigh, h.Outbox.NearFull, "warning", fmt.Sprintf("%d of %d records, %d of %d MiB queued", h.Outbox.Depth, h.Outbox.Capacity, h.Outbox.Bytes>>20, h.Outbox.MaxBytes>>20))
	m.set(RuleAuditCapacity, h.Store.AuditNearFull, "warning", fmt.Sprintf("%d of %d audit events stored", h.Store.AuditEvents, h.Store.AuditCapacity))

	var over []string
	for _, l := range h.WAN.Links {
		if l.LimitMB > 0 && l.UsageMB*100 >= float64(l.LimitMB*DataWarnPercent) {
			over = append(over, fmt.Sprintf("%s %.0f of %d MB", l.Name, l.UsageMB, l.LimitMB))
		}
	}
	m.set(RuleDataLimit, len(over) > 0, "warning", strings.Join(over, ", "))

	var offline []string
	for _, s := range m.gw.DeviceStatuses() {
		if s.State == field.StateOffline && now.Sub(s.Since) >= FieldOfflineAfter {
			offline = append(offline, s.Device+" ("+s.Protocol.String()+")")
		}
	}
	m.set(RuleFieldOffline, len(offline) > 0, "warning", "offline: "+strings.Join(offline, ", "))
}

// set raises or clears rule. A raised alert keeps its first time; its
// detail follows the latest evaluation.
func (m *Monitor) set(rule string, on bool, severity, detail string) {
	now := m.o.Clock.Now().UTC()
	m.mu.Lock()
	cur, was := m.live[rule]
	var changed device.Alert
	var state device.AlertState
	switch {
	case on && !was:
		changed, state = device.Alert{Rule: rule, Severity: severity, Since: now, Detail: detail}, device.AlertRaised
		m.live[rule] = changed
	case on && was:
		cur.Detail = detail
		m.live[rule] = cur
	case !on && was:
		delete(m.live, rule)
		changed, state = cur, device.AlertCleared
	}
	m.mu.Unlock()
	if state == "" {
		return
	}
	if err := m.gw.AlertChanged(changed, state, now, ""); err != nil {
		m.o.Logger.Error("queue alert", "rule", rule, "err", err)
	}
	m.o.Logger.Warn("alert "+string(state), "rule", rule, "detail", changed.Detail)
}

// Alerts returns the raised alerts, oldest first.
func (m *Monitor) Alerts() []device.Alert {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]device.Alert, 0, len(m.live))
	for _, a := range m.live {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Since.Equal(out[j].Since) {
			return out[i].Rule < out[j].Rule
		}
		return out[i].Since.Before(out[j].Since)
	})
	return out
}

// fill adds the alerts and the system figures to health.
func (m *Monitor) fill(h *device.Health) {
	h.Alerts = m.Alerts()
	now := m.o.Clock.Now()
	var hour, day int
	for _, b := range m.boots {
		if now.Sub(b) <= time.Hour {
			hour++
		}
		if now.Sub(b) <= 24*time.Hour {
			day++
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h.System = device.SystemHealth{StartsLastHour: hour, StartsLastDay: day, MemoryBytes: ms.Sys, Goroutines: runtime.NumGoroutine()}
	if raw, _ := m.gw.Store().Meta(metaBoots + ".total"); len(raw) > 0 {
		_, _ = fmt.Sscan(string(raw), &h.System.Starts)
	}
	if m.o.DataDir != "" {
		m.mu.Lock()
		if m.diskAt.IsZero() || time.Since(m.diskAt) >= diskEvery {
			m.diskBytes = dirSize(m.o.DataDir)
			var fsst syscall.Statfs_t
			if syscall.Statfs(m.o.DataDir, &fsst) == nil {
				m.diskFree = fsst.Bavail * uint64(fsst.Bsize)
			}
			m.diskAt = time.Now()
		}
		h.System.DataBytes, h.System.DiskFreeBytes = m.diskBytes, m.diskFree
		m.mu.Unlock()
	}
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
