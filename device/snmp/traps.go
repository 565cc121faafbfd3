package snmp

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gosnmp/gosnmp"

	"github.com/sitegate/sitegate/device"
)

// Bounds of the trap receiver.
const (
	// MaxTrapBytes bounds a trap datagram read; a longer one is cut and
	// fails to decode (counted).
	MaxTrapBytes = 8192
	// MaxTrapVars bounds the varbinds of a trap looked at by the rules.
	MaxTrapVars = 64
	// TrapRetry is how long a receiver whose address could not be opened
	// waits before it tries again.
	TrapRetry = 10 * time.Second
	// resolveTimeout bounds looking up the devices' host names for the
	// receiver's sources, all of them together.
	resolveTimeout = 2 * time.Second
)

// OIDs of a v2c trap's first two varbinds (RFC 3416 4.2.6).
const (
	snmpTrapOID = "1.3.6.1.6.3.1.1.4.1.0"
)

// Reasons a trap is dropped (TrapStats.Dropped keys).
const (
	dropDecode    = "decode"         // not an SNMP message gosnmp can read
	dropVersion   = "version"        // v1 or v3 (only v2c is received)
	dropPDU       = "pdu"            // not an SNMPv2-Trap or InformRequest
	dropSource    = "unknown_source" // not from a site device's address
	dropCommunity = "community"      // wrong community
	dropNoTrapOID = "no_trap_oid"    // no snmpTrapOID.0 varbind
)

// errTrapDropped is wrapped with the reason a trap was not taken.
var errTrapDropped = errors.New("trap dropped")

// trapSource is a device traps may come from.
type trapSource struct {
	device    string
	community device.Secret // what its traps must carry
}

// trapConf is what the receiver checks traps against; replaced whole on
// every site change.
type trapConf struct {
	sources map[netip.Addr]trapSource
	rules   []device.SNMPTrapRule
}

// Trap is a trap that was taken, as the rules saw it.
type Trap struct {
	Device string    `json:"device"`
	From   string    `json:"from"`
	OID    string    `json:"trap_oid"`
	Inform bool      `json:"inform,omitempty"`
	Vars   []Var     `json:"vars"`
	At     time.Time `json:"ts"`
}

// TrapStats are the receiver's figures since it started.
type TrapStats struct {
	Listening string            `json:"listening,omitempty"` // the bound address; empty while not open
	Error     string            `json:"error,omitempty"`     // why it is not open
	Received  uint64            `json:"received"`
	Accepted  uint64            `json:"accepted"`
	Informs   uint64            `json:"informs_acknowledged"`
	Dropped   map[string]uint64 `json:"dropped"`
}

// receiver is the trap receiver on one address.
type receiver struct {
	drv    *Driver
	addr   string
	conf   atomic.Pointer[trapConf]
	key    string // trapKey of the site conf was built from (applyTraps' goroutine only)
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	stats TrapStats
}

// applyTraps starts, stops or reconfigures the receiver for the site.
func (d *Driver) applyTraps(ctx context.Context, n device.SNMP) {
	d.mu.Lock()
	r := d.traps
	d.mu.Unlock()
	if r != nil && (n.TrapListen == "" || r.addr != n.TrapListen) {
		r.stop()
		d.mu.Lock()
		d.traps = nil
		d.mu.Unlock()
		r = nil
	}
	if n.TrapListen == "" {
		return
	}
	key := trapKey(n)
	if r != nil && r.key == key {
		return // a change elsewhere in the site: no look-ups again
	}
	conf := d.trapConf(ctx, n)
	if r != nil {
		r.conf.Store(conf)
		r.key = key
		return
	}
	rctx, cancel := context.WithCancel(ctx)
	r = &receiver{drv: d, addr: n.TrapListen, cancel: cancel, done: make(chan struct{}),
		stats: TrapStats{Dropped: map[string]uint64{}}}
	r.conf.Store(conf)
	r.key = key
	d.mu.Lock()
	d.traps = r
	d.mu.Unlock()
	d.wg.Add(1)
	go func() { defer d.wg.Done(); r.run(rctx) }()
}

// trapKey is what a trap configuration is built from: the receiver's
// community and rules, and each device's name, address and community.
func trapKey(n device.SNMP) string {
	type src struct {
		Name, Address string
		Community     device.Secret
	}
	srcs := make([]src, len(n.Devices))
	for i, dev := range n.Devices {
		srcs[i] = src{dev.Name, dev.EffectiveAddress(), dev.Community}
	}
	b, _ := json.Marshal(struct {
		Community device.Secret
		Rules     []device.SNMPTrapRule
		Sources   []src
	}{n.TrapCommunity, n.TrapRules, srcs})
	return string(b)
}

// trapConf resolves the devices' addresses into trap sources.
func (d *Driver) trapConf(ctx context.Context, n device.SNMP) *trapConf {
	c := &trapConf{sources: map[netip.Addr]trapSource{}, rules: n.TrapRules}
	// One deadline for all the look-ups: a site of host names whose DNS
	// is down must not hold up the site change.
	rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	for _, dev := range n.Devices {
		community := n.TrapCommunity
		if !community.IsSet() {
			community = dev.Community
		}
		host, _, err := net.SplitHostPort(dev.EffectiveAddress())
		if err != nil {
			continue
		}
		addrs := []netip.Addr{}
		if a, err := netip.ParseAddr(host); err == nil {
			addrs = append(addrs, a)
		} else {
			found, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
			if err != nil {
				d.log.Warn("resolve snmp device for traps", "device", dev.Name, "host", host, "err", err)
			}
			addrs = append(addrs, found...)
		}
		for _, a := range addrs {
			if _, taken := c.sources[a.Unmap()]; !taken {
				c.sources[a.Unmap()] = trapSource{device: dev.Name, community: community}
			}
		}
	}
	return c
}

func (r *receiver) stop() {
	r.cancel()
	<-r.done
}

// run opens the address and serves it until ctx ends, opening it again
// after TrapRetry when it cannot.
func (r *receiver) run(ctx context.Context) {
	defer close(r.done)
	for {
		conn, err := r.drv.o.Listen(ctx, r.addr)
		if err != nil {
			if r.setOpen("", err) {
				// Logged when the reason changes, not every TrapRetry.
				r.drv.log.Error("open snmp trap receiver", "addr", r.addr, "err", err)
			}
			if !r.pause(ctx) {
				return
			}
			continue
		}
		r.setOpen(conn.LocalAddr().String(), nil)
		r.drv.log.Info("snmp trap receiver listening", "addr", conn.LocalAddr().String())
		r.serve(ctx, conn)
		r.setOpen("", nil)
		// A socket that failed under us is opened again, not at once.
		if !r.pause(ctx) {
			return
		}
	}
}

// pause waits TrapRetry; false when ctx ended first.
func (r *receiver) pause(ctx context.Context) bool {
	t := r.drv.o.Clock.NewTimer(TrapRetry)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

// setOpen records the receiver's state and reports whether the error
// is new.
func (r *receiver) setOpen(addr string, err error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := r.stats.Error
	r.stats.Listening, r.stats.Error = addr, ""
	if err != nil {
		r.stats.Error = err.Error()
	}
	return r.stats.Error != prev
}

func (r *receiver) serve(ctx context.Context, conn net.PacketConn) {
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	defer conn.Close()
	buf := make([]byte, MaxTrapBytes)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() == nil {
				r.drv.log.Warn("snmp trap receiver", "err", err)
			}
			return
		}
		ua, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		src := ua.AddrPort()
		r.count(func(s *TrapStats) { s.Received++ })
		conf := r.conf.Load() // one configuration for the trap's source and its rules
		trap, resp, err := decodeTrap(buf[:n], src, conf, r.drv.o.Clock.Now())
		if err != nil {
			reason := strings.TrimPrefix(err.Error(), errTrapDropped.Error()+": ")
			reason, _, _ = strings.Cut(reason, ":")
			r.count(func(s *TrapStats) { s.Dropped[reason]++ })
			r.drv.log.Debug("snmp trap dropped", "from", src.String(), "why", err)
			continue
		}
		if resp != nil {
			if _, err := conn.WriteTo(resp, from); err != nil {
				r.drv.log.Warn("acknowledge snmp inform", "to", src.String(), "err", err)
			} else {
				r.count(func(s *TrapStats) { s.Informs++ })
			}
		}
		r.count(func(s *TrapStats) { s.Accepted++ })
		r.drv.takeTrap(trap, conf.rules)
	}
}

func (r *receiver) count(f func(*TrapStats)) {
	r.mu.Lock()
	f(&r.stats)
	r.mu.Unlock()
}

// decodeTrap reads one datagram from src: a v2c trap or inform from a
// site device with the right community. It returns the trap and, for an
// inform, the acknowledgement to send; or an error wrapping
// errTrapDropped with the reason.
func decodeTrap(b []byte, src netip.AddrPort, conf *trapConf, now time.Time) (Trap, []byte, error) {
	drop := func(reason string, err error) (Trap, []byte, error) {
		if err != nil {
			return Trap{}, nil, fmt.Errorf("%w: %s: %v", errTrapDropped, reason, err)
		}
		return Trap{}, nil, fmt.Errorf("%w: %s", errTrapDropped, reason)
	}
	if v, ok := messageVersion(b); ok && v != int(gosnmp.Version2c) {
		// gosnmp would fail to decode a v3 message without USM users; say
		// what it is instead.
		return drop(dropVersion, fmt.Errorf("SNMP message version %d (only v2c traps are received)", v))
	}
	params := &gosnmp.GoSNMP{Version: gosnmp.Version2c}
	pkt, err := params.UnmarshalTrap(b, false)
	if err != nil {
		return drop(dropDecode, err)
	}
	if pkt.Version != gosnmp.Version2c {
		return drop(dropVersion, fmt.Errorf("SNMP %s (only v2c traps are received)", pkt.Version))
	}
	if pkt.PDUType != gosnmp.SNMPv2Trap && pkt.PDUType != gosnmp.InformRequest {
		return drop(dropPDU, fmt.Errorf("%s", pkt.PDUType))
	}
	source, ok := conf.sources[src.Addr().Unmap()]
	if !ok {
		return drop(dropSource, fmt.Errorf("%s is no SNMP device of the site", src.Addr()))
	}
	want := source.community.Reveal()
	if want == "" || subtle.ConstantTimeCompare([]byte(pkt.Community), []byte(want)) != 1 {
		return drop(dropCommunity, fmt.Errorf("from %s (device %s)", src.Addr(), source.device))
	}
	t := Trap{Device: source.device, From: src.String(), Inform: pkt.PDUType == gosnmp.InformRequest, At: now}
	for _, p := range pkt.Variables[:min(len(pkt.Variables), MaxTrapVars)] {
		v := decodeVar(p)
		if v.OID == snmpTrapOID {
			t.OID = strings.TrimPrefix(v.Text, ".")
		}
		t.Vars = append(t.Vars, v)
	}
	if t.OID == "" {
		return drop(dropNoTrapOID, nil)
	}
	var resp []byte
	if t.Inform {
		pkt.PDUType, pkt.Error, pkt.ErrorIndex = gosnmp.GetResponse, gosnmp.NoError, 0
		if resp, err = pkt.MarshalMsg(); err != nil {
			return drop(dropDecode, fmt.Errorf("encode the inform's response: %w", err))
		}
	}
	return t, resp, nil
}

// messageVersion reads the msgVersion INTEGER at the start of an SNMP
// message (SEQUENCE { version INTEGER, ... }; 0 v1, 1 v2c, 3 v3).
func messageVersion(b []byte) (int, bool) {
	if len(b) < 2 || b[0] != 0x30 {
		return 0, false
	}
	i := 2
	if b[1]&0x80 != 0 {
		n := int(b[1] & 0x7f)
		if n == 0 || n > 4 {
			return 0, false
		}
		i += n
	}
	if len(b) < i+3 || b[i] != 0x02 || b[i+1] != 1 {
		return 0, false // every version number is one octet
	}
	return int(b[i+2]), true
}

// matchRule returns the first rule that matches t.
func matchRule(t Trap, rules []device.SNMPTrapRule) (device.SNMPTrapRule, bool) {
	for _, r := range rules {
		if strings.TrimPrefix(r.Trap, ".") != t.OID || r.Device != "" && r.Device != t.Device {
			continue
		}
		if r.Match != nil && !slices.ContainsFunc(t.Vars, func(v Var) bool { return varMatches(v, *r.Match) }) {
			continue
		}
		return r, true
	}
	return device.SNMPTrapRule{}, false
}

func varMatches(v Var, m device.SNMPVarMatch) bool {
	oid := strings.TrimPrefix(m.OID, ".")
	if v.OID != oid && !strings.HasPrefix(v.OID, oid+".") {
		return false
	}
	return m.Value == "" || v.Text == m.Value
}

// alertKey is one device's alert of one trap OID.
type alertKey struct{ device, oid string }

// alertBook holds the raised trap alerts.
type alertBook struct {
	mu   sync.Mutex
	live map[alertKey]device.Alert
}

// takeTrap applies the rules to a trap: a raise or clear that changes a
// device's alert is audited, announced and shown in health.
func (d *Driver) takeTrap(t Trap, rules []device.SNMPTrapRule) {
	d.log.Debug("snmp trap", "device", t.Device, "trap", t.OID, "inform", t.Inform)
	rule, ok := matchRule(t, rules)
	if !ok {
		return
	}
	key := alertKey{t.Device, rule.AlertOID()}
	name := device.SNMPTrapAlertPrefix + key.oid
	d.alerts.mu.Lock()
	cur, was := d.alerts.live[key]
	var state device.AlertState
	switch {
	case rule.Action == device.SNMPTrapRaise && !was:
		cur, state = device.Alert{Rule: name, Severity: rule.EffectiveSeverity(), Since: t.At.UTC(), Detail: trapDetail(t)}, device.AlertRaised
		d.alerts.live[key] = cur
	case rule.Action == device.SNMPTrapRaise:
		cur.Detail = trapDetail(t)
		d.alerts.live[key] = cur
	case rule.Action == device.SNMPTrapClear && was:
		delete(d.alerts.live, key)
		state = device.AlertCleared
	}
	d.alerts.mu.Unlock()
	if state == "" {
		return
	}
	what := "raised " + name
	if rule.Action == device.SNMPTrapClear {
		what = "cleared " + name + " by trap " + t.OID
	}
	// To the cloud's alerts stream like every other alert,
	// then the audit event (a test that sees it sees the alert queued).
	if err := d.gw.AlertChanged(cur, state, t.At, t.Device); err != nil {
		d.log.Error("queue snmp trap alert", "device", t.Device, "err", err)
	}
	if err := d.gw.AuditDetail(device.SystemActor, device.ActionSNMPTrap, t.Device, device.ResultOK, truncateTo(what, 200)); err != nil {
		d.log.Error("audit snmp trap", "device", t.Device, "err", err)
	}
	d.log.Warn("snmp trap alert "+strings.Fields(what)[0], "device", t.Device, "rule", name)
}

// trapDetail describes a trap for its alert: the device and up to a few
// varbinds besides sysUpTime and snmpTrapOID.
func trapDetail(t Trap) string {
	var sb strings.Builder
	sb.WriteString(t.Device + ": trap " + t.OID)
	n := 0
	for _, v := range t.Vars {
		if v.OID == snmpTrapOID || v.OID == sysUpTimeOID {
			continue
		}
		if n == 4 {
			sb.WriteString(" …")
			break
		}
		sb.WriteString(" " + v.OID + "=" + shortText(v.Text))
		n++
	}
	return truncateTo(sb.String(), 300)
}

// forget drops the alerts of devices that are gone.
func (b *alertBook) forget(devices map[string]device.SNMPDevice) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.live {
		if _, ok := devices[k.device]; !ok {
			delete(b.live, k)
		}
	}
}

// Alerts returns the raised trap alerts, oldest first.
func (d *Driver) Alerts() []device.Alert {
	d.alerts.mu.Lock()
	defer d.alerts.mu.Unlock()
	out := make([]device.Alert, 0, len(d.alerts.live))
	for _, a := range d.alerts.live {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Since.Equal(out[j].Since) {
			return out[i].Since.Before(out[j].Since)
		}
		return out[i].Detail < out[j].Detail
	})
	return out
}

// FillHealth adds the raised trap alerts to a health report. Register it
// after the health monitor's source, which sets the alerts list.
func (d *Driver) FillHealth(h *device.Health) {
	h.Alerts = append(h.Alerts, d.Alerts()...)
}

// TrapStats returns the receiver's figures; false when none runs.
func (d *Driver) TrapStats() (TrapStats, bool) {
	d.mu.Lock()
	r := d.traps
	d.mu.Unlock()
	if r == nil {
		return TrapStats{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.Dropped = make(map[string]uint64, len(r.stats.Dropped))
	for k, v := range r.stats.Dropped {
		s.Dropped[k] = v
	}
	return s, true
}
