package device_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
)

// syncBuffer is a log destination the probation's goroutine and the test
// share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func probationGateway(t *testing.T) (*device.Gateway, *store.Store, *clockwork.Fake, *syncBuffer) {
	t.Helper()
	clk := clockwork.NewFake(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	st := storetest.New(t, store.Options{Now: clk.Now})
	logs := &syncBuffer{}
	gw, err := device.NewGateway(st, device.GatewayOptions{GatewayID: "gw-test", Clock: clk, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return gw, st, clk, logs
}

// riskyChange stores a new WAN priority as installer and puts it on
// probation, as the console does.
func riskyChange(t *testing.T, gw *device.Gateway) {
	t.Helper()
	before, rev := gw.Site()
	after := before.Clone()
	after.WAN.Priority = []device.LinkKind{device.LinkWiFi, device.LinkEthernet, device.LinkCellular}
	if _, err := gw.ApplySite(device.Edit{Actor: installer, Action: device.ActionConfigChange, Base: rev}, after); err != nil {
		t.Fatal(err)
	}
	stored, _ := gw.Site()
	if err := gw.StartProbation(installer, before, stored, "WAN priority: wan.priority"); err != nil {
		t.Fatal(err)
	}
}

func auditTrail(t *testing.T, st *store.Store) string {
	t.Helper()
	events, err := st.ListAudit(store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range events {
		out = append(out, e.Action+":"+e.Result)
	}
	return strings.Join(out, " ")
}

func TestProbationRollsBackWhenNotConfirmed(t *testing.T) {
	gw, st, clk, logs := probationGateway(t)
	riskyChange(t, gw)
	if p := gw.Probation(); !p.Active || p.By != installer || p.Remaining != device.ProbationWindow {
		t.Fatalf("probation %+v", p)
	}
	devicetest.Eventually(t, 5*time.Second, "the countdown armed", func() bool { return clk.Waiters() > 0 })
	clk.Advance(device.ProbationWindow)
	devicetest.Eventually(t, 5*time.Second, "the rollback", func() bool { return gw.Probation().Last.RolledBack })
	if site, _ := gw.Site(); site.WAN.Priority[0] != device.LinkCellular {
		t.Fatalf("not rolled back: %v", site.WAN.Priority)
	}
	if p := gw.Probation(); p.Active || !p.Last.Expired || p.Last.Err != nil {
		t.Fatalf("after expiry %+v", p)
	}
	if got := auditTrail(t, st); !strings.Contains(got, "config.probation:ok") || !strings.Contains(got, "config.rollback:ok") {
		t.Fatalf("audit %s", got)
	}
	if !strings.Contains(logs.String(), "not confirmed in time") {
		t.Fatalf("log: %s", logs.String())
	}
}

func TestProbationConfirmKeepsTheChange(t *testing.T) {
	gw, st, clk, _ := probationGateway(t)
	riskyChange(t, gw)
	if err := gw.ConfirmProbation(installer); err != nil {
		t.Fatal(err)
	}
	if err := gw.ConfirmProbation(installer); !errors.Is(err, device.ErrNoProbation) {
		t.Fatalf("second confirm: %v", err)
	}
	clk.Advance(2 * device.ProbationWindow)
	if site, _ := gw.Site(); site.WAN.Priority[0] != device.LinkWiFi {
		t.Fatalf("confirmed change lost: %v", site.WAN.Priority)
	}
	if p := gw.Probation(); p.Active || !p.Last.Confirmed {
		t.Fatalf("after confirm %+v", p)
	}
	if got := auditTrail(t, st); !strings.Contains(got, "config.confirm:ok") || strings.Contains(got, "config.rollback") {
		t.Fatalf("audit %s", got)
	}
}

// A rollback that a later change makes impossible changes nothing, and is
// logged, audited and kept for the console to show with its reason.
func TestProbationRollbackConflictIsLoggedAndKept(t *testing.T) {
	gw, st, _, logs := probationGateway(t)
	riskyChange(t, gw)
	site, rev := gw.Site()
	site.WAN.Priority = []device.LinkKind{device.LinkEthernet, device.LinkWiFi, device.LinkCellular}
	other := device.Actor{ID: "u-other", Role: "installer"}
	if _, err := gw.ApplySite(device.Edit{Actor: other, Action: device.ActionConfigChange, Base: rev}, site); err != nil {
		t.Fatal(err)
	}
	err := gw.RollbackProbation(installer)
	var conflict *device.RevertConflictError
	if !errors.As(err, &conflict) || conflict.Paths[0] != "wan.priority" {
		t.Fatalf("rollback over a later change: %v", err)
	}
	if now, _ := gw.Site(); now.WAN.Priority[0] != device.LinkEthernet {
		t.Fatalf("the later change was overwritten: %v", now.WAN.Priority)
	}
	p := gw.Probation()
	if p.Active || p.Last.RolledBack || !errors.As(p.Last.Err, &conflict) {
		t.Fatalf("state %+v", p)
	}
	if got := auditTrail(t, st); !strings.Contains(got, "config.rollback:failed") {
		t.Fatalf("audit %s", got)
	}
	if !strings.Contains(logs.String(), "probation rollback failed") {
		t.Fatalf("log: %s", logs.String())
	}
}
