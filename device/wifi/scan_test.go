package wifi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device"
)

const wpaCliScan = "bssid / frequency / signal level / flags / ssid\n" +
	"02:5a:11:00:00:01\t2437\t-54\t[WPA2-PSK-CCMP][ESS]\tSiteNet\n" +
	"02:5a:11:00:00:09\t5180\t-48\t[WPA2-PSK-CCMP][ESS]\tSiteNet\n" +
	"02:5a:11:00:00:02\t5180\t-61\t[WPA2-PSK+SAE-CCMP][ESS]\tPlantRoom-IoT\n" +
	"02:5a:11:00:00:03\t2412\t-67\t[ESS]\tGuest\\x20Wi\\xc3\\xa9\n" +
	"02:5a:11:00:00:04\t5240\t-72\t[WPA2-EAP-CCMP][ESS]\tCorp\n" +
	"02:5a:11:00:00:05\t2462\t-75\t[WPA2-PSK-CCMP][ESS]\t\n" +
	"02:5a:11:00:00:06\t2462\t-80\t[WPA-PSK-TKIP][ESS]\tOld\n" +
	"garbage line\n"

func TestParseScanResults(t *testing.T) {
	got := ParseScanResults([]byte(wpaCliScan))
	want := []struct {
		ssid   string
		signal int
		sec    []device.WiFiSecurity
		open   bool
		ent    bool
	}{
		{"SiteNet", -48, []device.WiFiSecurity{device.SecurityWPA2PSK}, false, false},
		{"PlantRoom-IoT", -61, []device.WiFiSecurity{device.SecurityWPA3SAE, device.SecurityWPA2PSK}, false, false},
		{"Guest Wié", -67, nil, true, false},
		{"Corp", -72, nil, false, true},
		{"", -75, []device.WiFiSecurity{device.SecurityWPA2PSK}, false, false},
		{"Old", -80, nil, false, false},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d networks: %+v", len(got), got)
	}
	for i, w := range want {
		g := got[i]
		if g.SSID != w.ssid || g.Signal != w.signal || !slices.Equal(g.Security, w.sec) || g.Open != w.open || g.Enterprise != w.ent {
			t.Errorf("[%d] = %+v, want %+v", i, g, w)
		}
	}
	if got[0].BSSID != "02:5a:11:00:00:09" || got[0].FrequencyMHz != 5180 {
		t.Errorf("SiteNet should keep its strongest access point: %+v", got[0])
	}
	if !got[1].Usable() || got[2].Usable() || got[4].Usable() || got[1].Best() != device.SecurityWPA3SAE {
		t.Error("Usable/Best")
	}
}

const iwScan = `BSS 02:5a:11:00:00:01(on wlan0) -- associated
	last seen: 120 ms ago
	freq: 2437
	signal: -54.00 dBm
	capability: ESS Privacy ShortSlotTime (0x0411)
	SSID: SiteNet
	RSN:	 * Version: 1
		 * Group cipher: CCMP
		 * Pairwise ciphers: CCMP
		 * Authentication suites: PSK
		 * Capabilities: 1-PTKSA-RC 1-GTKSA-RC (0x0000)
BSS 02:5a:11:00:00:02(on wlan0)
	freq: 5180.0
	signal: -61.40 dBm
	capability: ESS Privacy (0x0011)
	SSID: PlantRoom\x2dIoT
	RSN:	 * Version: 1
		 * Authentication suites: PSK SAE
BSS 02:5a:11:00:00:03(on wlan0)
	freq: 2412
	signal: -67.00 dBm
	capability: ESS (0x0401)
	SSID: Guest
BSS 02:5a:11:00:00:04(on wlan0)
	freq: 5240
	signal: -72.00 dBm
	capability: ESS Privacy (0x0011)
	SSID: Corp
	RSN:	 * Version: 1
		 * Authentication suites: IEEE 802.1X
BSS 02:5a:11:00:00:06(on wlan0)
	freq: 2462
	signal: -80.00 dBm
	capability: ESS Privacy (0x0011)
	SSID: Old
	WPA:	 * Version: 1
		 * Authentication suites: PSK
`

func TestParseIWScan(t *testing.T) {
	got := ParseIWScan([]byte(iwScan))
	if len(got) != 5 {
		t.Fatalf("got %d: %+v", len(got), got)
	}
	site, iot, guest, corp, old := got[0], got[1], got[2], got[3], got[4]
	if site.SSID != "SiteNet" || !site.Connected || site.Signal != -54 || site.FrequencyMHz != 2437 || !slices.Equal(site.Security, []device.WiFiSecurity{device.SecurityWPA2PSK}) {
		t.Errorf("SiteNet: %+v", site)
	}
	if iot.SSID != "PlantRoom-IoT" || iot.Signal != -61 || iot.FrequencyMHz != 5180 || iot.Best() != device.SecurityWPA3SAE || len(iot.Security) != 2 {
		t.Errorf("PlantRoom-IoT: %+v", iot)
	}
	if !guest.Open || guest.Usable() {
		t.Errorf("Guest: %+v", guest)
	}
	if !corp.Enterprise || corp.Usable() {
		t.Errorf("Corp: %+v", corp)
	}
	if old.Usable() || old.Open {
		t.Errorf("WPA1-only network: %+v", old)
	}
}

func TestParseSignal(t *testing.T) {
	if n, err := ParseSignalPoll([]byte("RSSI=-52\nLINKSPEED=65\nNOISE=9999\nFREQUENCY=2437\n")); err != nil || n != -52 {
		t.Errorf("signal_poll: %d %v", n, err)
	}
	if _, err := ParseSignalPoll([]byte("FAIL\n")); !errors.Is(err, ErrNotConnected) {
		t.Errorf("signal_poll FAIL: %v", err)
	}
	if n, err := ParseIWLink([]byte("Connected to 02:5a:11:00:00:01 (on wlan0)\n\tSSID: SiteNet\n\tfreq: 2437\n\tsignal: -57 dBm\n")); err != nil || n != -57 {
		t.Errorf("iw link: %d %v", n, err)
	}
	if _, err := ParseIWLink([]byte("Not connected.\n")); !errors.Is(err, ErrNotConnected) {
		t.Errorf("iw link not connected: %v", err)
	}
}

// fakeRunner answers tool invocations from a table and records them.
type fakeRunner struct {
	tools   map[string]bool
	answers map[string]string // "name arg arg" -> stdout; "!"-prefixed: an error
	calls   []string
}

func (f *fakeRunner) LookPath(name string) (string, error) {
	if f.tools[name] {
		return "/usr/sbin/" + name, nil
	}
	return "", fmt.Errorf("%s: not found", name)
}

func (f *fakeRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	call := strings.Join(append([]string{name}, args...), " ")
	f.calls = append(f.calls, call)
	a, ok := f.answers[call]
	if !ok || strings.HasPrefix(a, "!") {
		return nil, fmt.Errorf("%s: failed %s", call, strings.TrimPrefix(a, "!"))
	}
	return []byte(a), nil
}

func TestLinuxScannerPrefersIWAndFallsBack(t *testing.T) {
	ctx := context.Background()
	r := &fakeRunner{tools: map[string]bool{"iw": true, "wpa_cli": true}, answers: map[string]string{
		"iw dev wlan0 scan":             iwScan,
		"wpa_cli -i wlan0 scan":         "OK\n",
		"wpa_cli -i wlan0 scan_results": wpaCliScan,
		"wpa_cli -i wlan0 signal_poll":  "RSSI=-50\n",
	}}
	s := LinuxScanner{Interface: "wlan0", Runner: r, SettleTime: 1}
	got, err := s.Scan(ctx)
	if err != nil || len(got) != 5 || r.calls[0] != "iw dev wlan0 scan" {
		t.Fatalf("iw scan: %v %v %v", got, err, r.calls)
	}
	r.answers["iw dev wlan0 scan"] = "!busy"
	got, err = s.Scan(ctx)
	if err != nil || len(got) != 6 {
		t.Fatalf("fallback to wpa_cli: %v %v %v", got, err, r.calls)
	}
	if n, err := s.Signal(ctx); err != nil || n != -50 {
		t.Fatalf("signal: %d %v", n, err)
	}
	none := LinuxScanner{Interface: "wlan0", Runner: &fakeRunner{}}
	if _, err := none.Scan(ctx); !errors.Is(err, ErrNotAvailable) {
		t.Errorf("no tools: %v", err)
	}
	if _, err := none.Signal(ctx); !errors.Is(err, ErrNotAvailable) {
		t.Errorf("no tools: %v", err)
	}
}

func TestSimScanner(t *testing.T) {
	list, err := SimScanner{}.Scan(context.Background())
	if err != nil || len(list) < 4 {
		t.Fatal(list, err)
	}
	for i := 1; i < len(list); i++ {
		if list[i].Signal > list[i-1].Signal {
			t.Error("not strongest first")
		}
	}
	list[0].Security[0] = 0
	again, _ := SimScanner{}.Scan(context.Background())
	if again[0].Security[0] == 0 {
		t.Error("Scan shares its list with callers")
	}
	if n, err := (SimScanner{}).Signal(context.Background()); err != nil || n >= 0 {
		t.Error(n, err)
	}
}

func FuzzParseScanResults(f *testing.F) {
	f.Add([]byte(wpaCliScan))
	f.Add([]byte("aa:bb:cc:dd:ee:ff\t1\t2\t[SAE]\t\\x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, n := range ParseScanResults(b) {
			_ = n.Usable()
		}
	})
}

func FuzzParseIWScan(f *testing.F) {
	f.Add([]byte(iwScan))
	f.Add([]byte("BSS x\n\tsignal: 1e300 dBm\n\tfreq: -1\n\tSSID: \\x4\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, n := range ParseIWScan(b) {
			if n.Signal < -200 || n.Signal > 100 {
				t.Fatalf("signal %d out of range", n.Signal)
			}
		}
	})
}
