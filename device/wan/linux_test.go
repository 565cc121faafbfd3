//go:build linux

package wan

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/wifi"
)

// fakeTools answers tool invocations from a table and records them.
type fakeTools struct {
	have    map[string]bool
	answers map[string]string // "name args..." -> stdout; "!" prefix: fails
	calls   []string
}

func (f *fakeTools) LookPath(name string) (string, error) {
	if f.have[name] {
		return "/usr/bin/" + name, nil
	}
	return "", fmt.Errorf("%s: not found", name)
}

func (f *fakeTools) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	call := strings.Join(append([]string{name}, args...), " ")
	f.calls = append(f.calls, call)
	a, ok := f.answers[call]
	if ok && !strings.HasPrefix(a, "!") {
		return []byte(a), nil
	}
	// Like ExecRunner, the error carries the command line.
	return nil, fmt.Errorf("%s: exit status 1: %s", call, strings.TrimPrefix(a, "!"))
}

func newTestLinux(t *testing.T, tools *fakeTools) *Linux {
	t.Helper()
	b, err := NewLinux(LinuxOptions{Runner: tools, WPADir: t.TempDir(), ProcSys: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// An interface name that no test machine has, so that nothing real is
// touched.
const noIface = "sgtest9"

func TestLinuxSelectSIMThroughModemManager(t *testing.T) {
	tools := &fakeTools{have: map[string]bool{"mmcli": true}, answers: map[string]string{
		"mmcli -m any --set-primary-sim-slot=2":                  "successfully requested primary SIM switch",
		"mmcli -m any --simple-connect=apn=m2m.example,pin=4321": "!error: couldn't connect: PIN 4321 wrong",
		"mmcli -m any --simple-connect=apn=internet":             "successfully connected the modem",
		"mmcli -m any --set-primary-sim-slot=1":                  "ok",
		"mmcli -m any --signal-get --output-keyvalue":            "modem.signal.refresh.rate : 30\nmodem.signal.lte.rssi : -71.00\nmodem.signal.gsm.rssi : --\n",
	}}
	b := newTestLinux(t, tools)
	ctx := context.Background()
	l := Link{Kind: device.LinkCellular, Interface: noIface, SIM: 2}
	err := b.SelectSIM(ctx, l, device.SIM{Slot: 2, APN: "m2m.example", PIN: "4321"})
	if err == nil || strings.Contains(err.Error(), "4321") {
		t.Fatalf("a refused connect: %v", err)
	}
	l.SIM = 1
	if err := b.SelectSIM(ctx, l, device.SIM{Slot: 1, APN: "internet"}); err != nil {
		t.Fatal(err)
	}
	st := b.Status(ctx, l)
	if st.Signal == nil || *st.Signal != -71 || !strings.Contains(st.Detail, "interface "+noIface+" not found") {
		t.Fatalf("status %+v", st)
	}
}

func TestLinuxWithoutModemManager(t *testing.T) {
	b := newTestLinux(t, &fakeTools{})
	l := Link{Kind: device.LinkCellular, Interface: noIface, SIM: 1}
	if err := b.SelectSIM(context.Background(), l, device.SIM{Slot: 1, APN: "internet"}); !errors.Is(err, ErrNotAvailable) {
		t.Fatalf("SelectSIM: %v", err)
	}
	if st := b.Status(context.Background(), l); !strings.Contains(st.Detail, "ModemManager not available") || st.Signal != nil {
		t.Fatalf("status %+v", st)
	}
	if _, err := b.Counters(context.Background(), l); err == nil {
		t.Fatal("counters of a missing interface")
	}
}

func TestLinuxConfigureWritesWPAOnceAndLoosensRPFilter(t *testing.T) {
	tools := &fakeTools{have: map[string]bool{"wpa_cli": true}, answers: map[string]string{}}
	b := newTestLinux(t, tools)
	for name, v := range map[string]string{noIface: "1\n", "sgtest8": "0\n"} {
		dir := filepath.Join(b.o.ProcSys, "net", "ipv4", "conf", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "rp_filter"), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := device.DefaultSite()
	s.WAN.Ethernet.Interface = "sgtest8"
	s.WiFi = device.WiFi{Enabled: true, Interface: noIface, SSID: "SiteNet", Security: device.SecurityWPA2PSK, Passphrase: "correct horse"}
	ctx := context.Background()
	if err := b.Configure(ctx, s); err != nil {
		t.Fatal(err)
	}
	path := wifi.SupplicantPath(b.o.WPADir, noIface)
	conf, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(conf), "psk=") || strings.Contains(string(conf), "correct horse") {
		t.Fatalf("wpa config: %v\n%s", err, conf)
	}
	if len(tools.calls) != 1 || tools.calls[0] != "wpa_cli -p /run/wpa_supplicant -i "+noIface+" reconfigure" {
		t.Fatalf("calls %q", tools.calls)
	}
	rp := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(b.o.ProcSys, "net", "ipv4", "conf", name, "rp_filter"))
		return strings.TrimSpace(string(b))
	}
	if rp(noIface) != "2" || rp("sgtest8") != "0" {
		t.Errorf("rp_filter %s %s", rp(noIface), rp("sgtest8"))
	}
	// A change elsewhere does not touch Wi-Fi again.
	s.Cellular.FailoverAfter = device.Duration(60e9)
	if err := b.Configure(ctx, s); err != nil || len(tools.calls) != 1 {
		t.Fatalf("reconfigured Wi-Fi for a cellular change: %v %q", err, tools.calls)
	}
	// Permanently disabled: the network goes.
	s.WiFi.Enabled, s.WiFi.PermanentlyDisabled = false, true
	if err := b.Configure(ctx, s); err != nil {
		t.Fatal(err)
	}
	conf, _ = os.ReadFile(path)
	if strings.Contains(string(conf), "network=") || len(tools.calls) != 2 {
		t.Fatalf("after a permanent disable: %q\n%s", tools.calls, conf)
	}
	st := b.Status(ctx, Link{Kind: device.LinkWiFi, Interface: noIface})
	if st.Signal != nil || !strings.Contains(st.Detail, "not found") {
		t.Fatalf("status %+v", st)
	}
}

// acceptAndClose answers every connection to ln by closing it, the least
// a probe target must do, until ln is closed.
func acceptAndClose(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

func TestLinuxProbeIsBoundToItsInterface(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go acceptAndClose(ln)
	b := newTestLinux(t, &fakeTools{})
	ctx := context.Background()
	target := []string{"192.0.2.1:9", ln.Addr().String()}
	err = b.Probe(ctx, Link{Kind: device.LinkEthernet, Interface: "lo"}, target)
	if errors.Is(err, syscall.EPERM) {
		t.Skip("binding to a device is not permitted here")
	}
	if err != nil {
		t.Fatalf("probe through lo: %v", err)
	}
	err = b.Probe(ctx, Link{Kind: device.LinkEthernet, Interface: noIface}, []string{ln.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "bind to "+noIface) {
		t.Fatalf("probe through a missing interface: %v", err)
	}
	if err := b.Probe(ctx, Link{Kind: device.LinkEthernet, Interface: "lo"}, nil); err != nil {
		t.Fatalf("carrier of lo: %v", err)
	}
	if err := b.Probe(ctx, Link{Kind: device.LinkEthernet, Interface: noIface}, nil); err == nil {
		t.Fatal("carrier of a missing interface")
	}
}

func TestParseMMSignal(t *testing.T) {
	for in, want := range map[string]int{
		"modem.signal.5g.rssi : --\nmodem.signal.lte.rssi : -88.50\n": -88,
		"modem.signal.umts.rssi : -95.00\n":                           -95,
		"modem.signal.lte.rssi : 12\n":                                0,
		"":                                                            0,
	} {
		got, ok := parseMMSignal([]byte(in))
		if got != want || ok != (want != 0) {
			t.Errorf("%q: %d %v", in, got, ok)
		}
	}
}
