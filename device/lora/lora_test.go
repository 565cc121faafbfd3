package lora

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sitegate/sitegate/device"
)

func TestRegions(t *testing.T) {
	rs := Regions()
	if len(rs) < 10 || rs[0] != device.RegionEU868 {
		t.Fatalf("%v", rs)
	}
	for _, r := range rs {
		if p, err := device.ParseLoRaRegion(r.String()); err != nil || p != r {
			t.Errorf("%v: %v", r, err)
		}
	}
}

func TestEUI(t *testing.T) {
	for _, in := range []string{"0016c001ff10a235", "00-16-C0-01-FF-10-A2-35", "00:16:c0:01:ff:10:a2:35"} {
		e, err := ParseEUI(in)
		if err != nil || e.String() != "0016c001ff10a235" {
			t.Errorf("%q: %v %v", in, e, err)
		}
		if err := CheckGatewayEUI(e.String()); err != nil {
			t.Error(err)
		}
	}
	for _, bad := range []string{"", "0016c001ff10a2", "0016c001ff10a2zz"} {
		if _, err := ParseEUI(bad); !errors.Is(err, ErrBadEUI) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if err := CheckGatewayEUI("xyz"); err == nil || !strings.HasPrefix(err.Error(), "lora.gateway_eui: ") {
		t.Error(err)
	}
	if err := CheckNetworkServer("ns.example.com:1700"); err != nil {
		t.Error(err)
	}
	if err := CheckNetworkServer("ns.example.com"); err == nil {
		t.Error("no port accepted")
	}
}

type siteBox struct {
	mu sync.Mutex
	s  *device.Site
}

func (b *siteBox) get() *device.Site { b.mu.Lock(); defer b.mu.Unlock(); return b.s.Clone() }
func (b *siteBox) set(f func(l *device.LoRa)) {
	b.mu.Lock()
	f(&b.s.LoRa)
	b.mu.Unlock()
}

func TestRadioStates(t *testing.T) {
	box := &siteBox{s: device.DefaultSite()}
	sim := &Sim{}
	r := New(box.get, sim)
	if st := r.Status(); st.State != StateDisabled {
		t.Fatalf("%+v", st)
	}
	box.set(func(l *device.LoRa) {
		*l = device.LoRa{Enabled: true, Region: device.RegionEU868, GatewayEUI: "0016c001ff10a235", NetworkServer: "ns.example.com:1700"}
	})
	st := r.Status()
	if st.State != StateRunning || st.Region != device.RegionEU868 || st.GatewayEUI != "0016c001ff10a235" || st.RxPackets == 0 {
		t.Fatalf("%+v", st)
	}
	if r.Status().RxPackets <= st.RxPackets {
		t.Error("sim packets do not grow")
	}
	box.set(func(l *device.LoRa) { l.Enabled, l.PermanentlyDisabled = false, true })
	if st := r.Status(); st.State != StatePermanentlyDisabled || !strings.Contains(st.Detail, "radio enable lora") {
		t.Fatalf("%+v", st)
	}
	if sim.Status().State != StateDisabled {
		t.Error("the backend still runs after a permanent disable")
	}
}

func TestLinuxHasNoConcentrator(t *testing.T) {
	box := &siteBox{s: device.DefaultSite()}
	box.set(func(l *device.LoRa) {
		*l = device.LoRa{Enabled: true, Region: device.RegionUS915, GatewayEUI: "0016c001ff10a235", NetworkServer: "ns.example.com:1700"}
	})
	missing := filepath.Join(t.TempDir(), "spidev9.9")
	st := New(box.get, Linux{Devices: []string{missing}}).Status()
	if st.State != StateNoConcentrator || !strings.Contains(st.Detail, missing) {
		t.Fatalf("%+v", st)
	}
	if b, _ := st.State.MarshalText(); string(b) != "no concentrator" {
		t.Errorf("%s", b)
	}
}
