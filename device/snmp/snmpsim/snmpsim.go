// Package snmpsim is a simulated SNMP v2c agent for the demo and for
// trying a site without hardware: a small UPS with its system group, two
// network interfaces (IF-MIB, 32- and 64-bit counters) and the UPS-MIB of
// RFC 1628, with values that move. It answers GET, GETNEXT and GETBULK.
//
// # Caveats
//
//   - v2c only (no v3, no SET, no traps), one community, read-only.
//   - It is a demo peer, not a reference: the driver's interop tests run
//     against Debian's snmpd.
package snmpsim

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gosnmp/gosnmp"
)

// Bounds of the simulator.
const (
	// MaxRepetitions bounds a GETBULK's rows answered.
	MaxRepetitions = 50
	// MaxRequestVars bounds the varbinds of a request answered.
	MaxRequestVars = 64
	// maxDatagram is the largest request read.
	maxDatagram = 65535
)

// Config describes the simulated agent.
type Config struct {
	Community string // required
	Name      string // sysName; default "sim-ups"
	Logger    *slog.Logger
	// Now is the clock the values move with (time.Now).
	Now func() time.Time
}

// Agent is the simulated agent on one UDP socket.
type Agent struct {
	conn  net.PacketConn
	cfg   Config
	start time.Time
}

// ErrNoCommunity means the configuration names no community.
var ErrNoCommunity = errors.New("snmpsim: a community is required")

// New serves conn; Run answers.
func New(conn net.PacketConn, cfg Config) (*Agent, error) {
	if cfg.Community == "" {
		return nil, ErrNoCommunity
	}
	if cfg.Name == "" {
		cfg.Name = "sim-ups"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Agent{conn: conn, cfg: cfg, start: cfg.Now()}, nil
}

// Addr is where the agent answers.
func (a *Agent) Addr() string { return a.conn.LocalAddr().String() }

// Run answers requests until ctx ends, then closes the socket.
func (a *Agent) Run(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = a.conn.Close() })
	defer stop()
	defer a.conn.Close()
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := a.conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("snmpsim: %w", err)
		}
		out, err := a.answer(buf[:n])
		if err != nil {
			a.cfg.Logger.Debug("snmpsim: request dropped", "from", from.String(), "why", err)
			continue
		}
		if _, err := a.conn.WriteTo(out, from); err != nil {
			a.cfg.Logger.Warn("snmpsim: answer", "to", from.String(), "err", err)
		}
	}
}

// answer decodes one request and encodes its response. A wrong
// community gets no answer, as from a real agent.
func (a *Agent) answer(b []byte) ([]byte, error) {
	dec := &gosnmp.GoSNMP{Version: gosnmp.Version2c, Community: a.cfg.Community}
	req, err := dec.SnmpDecodePacket(b)
	if err != nil {
		return nil, err
	}
	if req.Version != gosnmp.Version2c {
		return nil, fmt.Errorf("version %s", req.Version)
	}
	if subtle.ConstantTimeCompare([]byte(req.Community), []byte(a.cfg.Community)) != 1 {
		return nil, errors.New("wrong community")
	}
	vars := req.Variables[:min(len(req.Variables), MaxRequestVars)]
	mib := a.mib(a.cfg.Now())
	var out []gosnmp.SnmpPDU
	switch req.PDUType {
	case gosnmp.GetRequest:
		for _, v := range vars {
			out = append(out, mib.get(oidOf(v.Name)))
		}
	case gosnmp.GetNextRequest:
		for _, v := range vars {
			out = append(out, mib.next(oidOf(v.Name)))
		}
	case gosnmp.GetBulkRequest:
		nonRep := min(int(req.NonRepeaters), len(vars))
		for _, v := range vars[:nonRep] {
			out = append(out, mib.next(oidOf(v.Name)))
		}
		reps := min(int(req.MaxRepetitions), MaxRepetitions)
		cur := make([]string, 0, len(vars)-nonRep)
		for _, v := range vars[nonRep:] {
			cur = append(cur, oidOf(v.Name))
		}
		for range reps {
			ended := 0
			for i := range cur {
				pdu := mib.next(cur[i])
				out = append(out, pdu)
				cur[i] = oidOf(pdu.Name)
				if pdu.Type == gosnmp.EndOfMibView {
					ended++
				}
			}
			if ended == len(cur) {
				break // every column ran off the end: the answer may stop here (RFC 3416 4.2.3)
			}
		}
	default:
		return nil, fmt.Errorf("PDU %s", req.PDUType)
	}
	enc := &gosnmp.GoSNMP{Version: gosnmp.Version2c, Community: a.cfg.Community}
	enc.SetRequestID(req.RequestID - 1) // the encoder adds one
	return enc.SnmpEncodePacket(gosnmp.GetResponse, out, 0, 0)
}

func oidOf(name string) string { return strings.TrimPrefix(name, ".") }

// entry is one object instance.
type entry struct {
	oid   string
	parts []uint64
	typ   gosnmp.Asn1BER
	value any
}

type mib []entry

func (m mib) get(oid string) gosnmp.SnmpPDU {
	for _, e := range m {
		if e.oid == oid {
			return gosnmp.SnmpPDU{Name: "." + e.oid, Type: e.typ, Value: e.value}
		}
	}
	return gosnmp.SnmpPDU{Name: "." + oid, Type: gosnmp.NoSuchObject}
}

func (m mib) next(oid string) gosnmp.SnmpPDU {
	p := parts(oid)
	i, _ := slices.BinarySearchFunc(m, p, func(e entry, t []uint64) int { return slices.Compare(e.parts, t) })
	if i < len(m) && slices.Equal(m[i].parts, p) {
		i++
	}
	if i >= len(m) {
		return gosnmp.SnmpPDU{Name: "." + oid, Type: gosnmp.EndOfMibView}
	}
	return gosnmp.SnmpPDU{Name: "." + m[i].oid, Type: m[i].typ, Value: m[i].value}
}

func parts(oid string) []uint64 {
	var out []uint64
	for _, s := range strings.Split(oid, ".") {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			break
		}
		out = append(out, n)
	}
	return out
}

// mib is the agent's objects at now, sorted.
func (a *Agent) mib(now time.Time) mib {
	t := now.Sub(a.start).Seconds()
	wave := func(period, amp float64) float64 { return amp * math.Sin(2*math.Pi*t/period) }
	ticks := uint32(int64(t*100) & math.MaxUint32)
	var m mib
	add := func(oid string, typ gosnmp.Asn1BER, v any) {
		m = append(m, entry{oid: oid, parts: parts(oid), typ: typ, value: v})
	}
	add("1.3.6.1.2.1.1.1.0", gosnmp.OctetString, "sitegate simulated UPS")
	add("1.3.6.1.2.1.1.2.0", gosnmp.ObjectIdentifier, ".1.3.6.1.4.1.8072.3.2.10")
	add("1.3.6.1.2.1.1.3.0", gosnmp.TimeTicks, ticks)
	add("1.3.6.1.2.1.1.4.0", gosnmp.OctetString, "facilities@example.com")
	add("1.3.6.1.2.1.1.5.0", gosnmp.OctetString, a.cfg.Name)
	add("1.3.6.1.2.1.1.6.0", gosnmp.OctetString, "plant room")
	add("1.3.6.1.2.1.2.1.0", gosnmp.Integer, 2)
	ifs := []struct {
		name string
		bps  float64
	}{{"eth0", 2e6}, {"eth1", 5e4}}
	cols := []struct {
		col int
		typ gosnmp.Asn1BER
		val func(i int) any
	}{
		{1, gosnmp.Integer, func(i int) any { return i + 1 }},
		{2, gosnmp.OctetString, func(i int) any { return ifs[i].name }},
		{3, gosnmp.Integer, func(int) any { return 6 }},
		{5, gosnmp.Gauge32, func(int) any { return uint(1e8) }},
		{6, gosnmp.OctetString, func(i int) any { return []byte{0x02, 0x00, 0x5e, 0x10, 0x00, byte(i + 1)} }},
		{7, gosnmp.Integer, func(int) any { return 1 }},
		{8, gosnmp.Integer, func(int) any { return 1 }},
		{10, gosnmp.Counter32, func(i int) any { return uint(uint32(int64(t*ifs[i].bps/8) & math.MaxUint32)) }},
		{14, gosnmp.Counter32, func(int) any { return uint(0) }},
		{16, gosnmp.Counter32, func(i int) any { return uint(uint32(int64(t*ifs[i].bps/16) & math.MaxUint32)) }},
		{20, gosnmp.Counter32, func(int) any { return uint(0) }},
	}
	for _, c := range cols {
		for i := range ifs {
			add(fmt.Sprintf("1.3.6.1.2.1.2.2.1.%d.%d", c.col, i+1), c.typ, c.val(i))
		}
	}
	// upsIdent, upsBattery, upsInput, upsOutput, upsAlarm (RFC 1628).
	load := 30 + wave(300, 5)
	add("1.3.6.1.2.1.33.1.1.1.0", gosnmp.OctetString, "sitegate")
	add("1.3.6.1.2.1.33.1.1.2.0", gosnmp.OctetString, "SIM-UPS 3000")
	add("1.3.6.1.2.1.33.1.2.1.0", gosnmp.Integer, 2) // batteryNormal
	add("1.3.6.1.2.1.33.1.2.2.0", gosnmp.Integer, 0)
	add("1.3.6.1.2.1.33.1.2.3.0", gosnmp.Integer, int(60-load/2))
	add("1.3.6.1.2.1.33.1.2.4.0", gosnmp.Integer, int(98+wave(600, 2)))
	add("1.3.6.1.2.1.33.1.2.5.0", gosnmp.Integer, int(545+wave(120, 3)))
	add("1.3.6.1.2.1.33.1.2.7.0", gosnmp.Integer, int(25+wave(900, 1)))
	add("1.3.6.1.2.1.33.1.3.2.0", gosnmp.Integer, 1)
	add("1.3.6.1.2.1.33.1.3.3.1.2.1", gosnmp.Integer, int(500+wave(60, 1)))
	add("1.3.6.1.2.1.33.1.3.3.1.3.1", gosnmp.Integer, int(230+wave(90, 4)))
	add("1.3.6.1.2.1.33.1.4.1.0", gosnmp.Integer, 3) // normal
	add("1.3.6.1.2.1.33.1.4.2.0", gosnmp.Integer, 500)
	add("1.3.6.1.2.1.33.1.4.3.0", gosnmp.Integer, 1)
	add("1.3.6.1.2.1.33.1.4.4.1.2.1", gosnmp.Integer, 230)
	add("1.3.6.1.2.1.33.1.4.4.1.5.1", gosnmp.Integer, int(load))
	add("1.3.6.1.2.1.33.1.6.1.0", gosnmp.Gauge32, uint(0))
	// ifXTable: names, 64-bit counters and speed.
	for _, c := range []struct {
		col int
		typ gosnmp.Asn1BER
		val func(i int) any
	}{
		{1, gosnmp.OctetString, func(i int) any { return ifs[i].name }},
		{6, gosnmp.Counter64, func(i int) any { return uint64(t * ifs[i].bps / 8) }},
		{10, gosnmp.Counter64, func(i int) any { return uint64(t * ifs[i].bps / 16) }},
		{15, gosnmp.Gauge32, func(int) any { return uint(100) }},
	} {
		for i := range ifs {
			add(fmt.Sprintf("1.3.6.1.2.1.31.1.1.1.%d.%d", c.col, i+1), c.typ, c.val(i))
		}
	}
	slices.SortFunc(m, func(x, y entry) int { return slices.Compare(x.parts, y.parts) })
	return m
}
