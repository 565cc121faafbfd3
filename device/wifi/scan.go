package wifi

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sitegate/sitegate/device"
)

// Network is one Wi-Fi network in range.
type Network struct {
	SSID         string                `json:"ssid"`                    // empty for a hidden network
	BSSID        string                `json:"bssid,omitempty"`         // of the strongest access point
	FrequencyMHz int                   `json:"frequency_mhz,omitempty"` // 2412.., 5180..
	Signal       int                   `json:"signal"`                  // dBm
	Security     []device.WiFiSecurity `json:"security"`                // schemes offered that the site file supports, strongest first
	Open         bool                  `json:"open,omitempty"`          // no encryption at all
	Enterprise   bool                  `json:"enterprise,omitempty"`    // 802.1X only
	Connected    bool                  `json:"connected,omitempty"`     // the gateway is associated with it
}

// Usable reports whether the site file can name this network: a visible
// SSID offering wpa2-psk or wpa3-sae.
func (n Network) Usable() bool { return n.SSID != "" && len(n.Security) > 0 }

// Best returns the strongest scheme the network offers, or 0.
func (n Network) Best() device.WiFiSecurity {
	if len(n.Security) == 0 {
		return 0
	}
	return n.Security[0]
}

// Scanner lists networks in range and tells the current link's signal.
type Scanner interface {
	// Scan returns the networks in range, strongest first, one per SSID.
	Scan(ctx context.Context) ([]Network, error)
	// Signal returns the signal of the current association in dBm, or
	// ErrNotConnected.
	Signal(ctx context.Context) (int, error)
}

// SimScanner is the sim network backend's Wi-Fi: a fixed list of
// neighbours of a plant room, connected to SiteNet.
type SimScanner struct{}

// simNetworks is a plausible neighbourhood: the site's own network, an IoT
// network, a guest network, an enterprise one, a hidden one and a weak
// neighbour.
var simNetworks = []Network{
	{SSID: "SiteNet", BSSID: "02:5a:11:00:00:01", FrequencyMHz: 2437, Signal: -54, Security: []device.WiFiSecurity{device.SecurityWPA2PSK}, Connected: true},
	{SSID: "PlantRoom-IoT", BSSID: "02:5a:11:00:00:02", FrequencyMHz: 5180, Signal: -61, Security: []device.WiFiSecurity{device.SecurityWPA3SAE, device.SecurityWPA2PSK}},
	{SSID: "Building-A Guest", BSSID: "02:5a:11:00:00:03", FrequencyMHz: 2412, Signal: -67, Open: true},
	{SSID: "Corp-Staff", BSSID: "02:5a:11:00:00:04", FrequencyMHz: 5240, Signal: -72, Enterprise: true},
	{SSID: "", BSSID: "02:5a:11:00:00:05", FrequencyMHz: 2462, Signal: -75, Security: []device.WiFiSecurity{device.SecurityWPA2PSK}},
	{SSID: "Neighbour-5G", BSSID: "02:5a:11:00:00:06", FrequencyMHz: 5745, Signal: -83, Security: []device.WiFiSecurity{device.SecurityWPA3SAE}},
}

// Scan returns the fixed list.
func (SimScanner) Scan(ctx context.Context) ([]Network, error) {
	out := make([]Network, len(simNetworks))
	for i, n := range simNetworks {
		n.Security = slices.Clone(n.Security)
		out[i] = n
	}
	return out, ctx.Err()
}

// Signal returns the signal of SiteNet.
func (SimScanner) Signal(ctx context.Context) (int, error) { return simNetworks[0].Signal, ctx.Err() }

// LinuxScanner scans with the host's tools on one interface.
type LinuxScanner struct {
	Interface string
	Runner    Runner // default ExecRunner
	// SettleTime is how long Scan waits for wpa_supplicant to finish a scan
	// it triggered when iw cannot scan (default 3s).
	SettleTime time.Duration
}

func (s LinuxScanner) runner() Runner {
	if s.Runner == nil {
		return ExecRunner{}
	}
	return s.Runner
}

// Scan runs `iw dev IF scan` (fresh results; it blocks until the scan
// ends) and, when iw is missing or the driver is busy because
// wpa_supplicant scans, triggers a wpa_supplicant scan and reads
// `wpa_cli scan_results`.
func (s LinuxScanner) Scan(ctx context.Context) ([]Network, error) {
	r := s.runner()
	var iwErr error
	if Has(r, "iw") {
		out, err := r.Run(ctx, "iw", "dev", s.Interface, "scan")
		if err == nil {
			return ParseIWScan(out), nil
		}
		iwErr = err
	}
	if !Has(r, "wpa_cli") {
		if iwErr != nil {
			return nil, fmt.Errorf("scan %s: %w", s.Interface, iwErr)
		}
		return nil, fmt.Errorf("scan %s: neither iw nor wpa_cli is installed: %w", s.Interface, ErrNotAvailable)
	}
	// A refused trigger (a scan is already running) still leaves results
	// to read.
	_, _ = r.Run(ctx, "wpa_cli", "-i", s.Interface, "scan")
	settle := s.SettleTime
	if settle == 0 {
		settle = 3 * time.Second
	}
	t := time.NewTimer(settle)
	select {
	case <-ctx.Done():
		t.Stop()
		return nil, ctx.Err()
	case <-t.C:
	}
	out, err := r.Run(ctx, "wpa_cli", "-i", s.Interface, "scan_results")
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", s.Interface, err)
	}
	return ParseScanResults(out), nil
}

// Signal asks wpa_supplicant (`wpa_cli signal_poll`) or else iw
// (`iw dev IF link`) for the current association's signal.
func (s LinuxScanner) Signal(ctx context.Context) (int, error) {
	r := s.runner()
	if Has(r, "wpa_cli") {
		out, err := r.Run(ctx, "wpa_cli", "-i", s.Interface, "signal_poll")
		if err == nil {
			return ParseSignalPoll(out)
		}
	}
	if Has(r, "iw") {
		out, err := r.Run(ctx, "iw", "dev", s.Interface, "link")
		if err != nil {
			return 0, err
		}
		return ParseIWLink(out)
	}
	return 0, fmt.Errorf("signal of %s: neither wpa_cli nor iw is installed: %w", s.Interface, ErrNotAvailable)
}

// ParseScanResults parses `wpa_cli scan_results`:
//
//	bssid / frequency / signal level / flags / ssid
//	02:5a:11:00:00:01	2437	-54	[WPA2-PSK-CCMP][ESS]	SiteNet
//
// Lines that do not parse are skipped.
func ParseScanResults(out []byte) []Network {
	var list []Network
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), "\t", 5)
		if len(f) < 4 || strings.Count(f[0], ":") != 5 {
			continue
		}
		freq, err1 := strconv.Atoi(f[1])
		sig, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil {
			continue
		}
		n := Network{BSSID: strings.ToLower(f[0]), FrequencyMHz: freq, Signal: sig}
		if len(f) == 5 {
			n.SSID = unescapeSSID(f[4])
		}
		flags := f[3]
		sae := strings.Contains(flags, "SAE")
		psk := strings.Contains(flags, "WPA2-PSK") || strings.Contains(flags, "RSN-PSK") || strings.Contains(flags, "WPA2-PSK+SAE")
		eap := strings.Contains(flags, "EAP")
		n.setSecurity(sae, psk, eap, !strings.Contains(flags, "WPA") && !strings.Contains(flags, "RSN") && !strings.Contains(flags, "WEP"))
		list = append(list, n)
	}
	return dedupe(list)
}

// ParseIWScan parses `iw dev IF scan`: one block per BSS with freq,
// signal, SSID and the RSN authentication suites. Fields it does not know
// are ignored.
func ParseIWScan(out []byte) []Network {
	var list []Network
	var cur *Network
	var sae, psk, eap, rsn, wpa, privacy bool
	flush := func() {
		if cur == nil {
			return
		}
		// An RSN element decides; without one, a WPA (version 1) element
		// offers nothing the site supports, and neither means open unless
		// the privacy bit asks for WEP.
		cur.setSecurity(sae && rsn, psk && rsn, eap, !rsn && !wpa && !privacy)
		list = append(list, *cur)
		cur = nil
	}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "BSS ") {
			flush()
			bssid := strings.TrimPrefix(line, "BSS ")
			if i := strings.IndexAny(bssid, "( "); i >= 0 {
				bssid = bssid[:i]
			}
			cur = &Network{BSSID: strings.ToLower(bssid), Connected: strings.Contains(line, "-- associated")}
			sae, psk, eap, rsn, wpa, privacy, section = false, false, false, false, false, false, ""
			continue
		}
		if cur == nil {
			continue
		}
		t := strings.TrimSpace(line)
		indent := len(line) - len(strings.TrimLeft(line, "\t"))
		if indent == 1 {
			section = ""
		}
		switch {
		case strings.HasPrefix(t, "freq:"):
			if f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(t, "freq:")), 64); err == nil && f > 0 && f < 1e6 {
				cur.FrequencyMHz = int(f)
			}
		case strings.HasPrefix(t, "signal:"):
			v := strings.Fields(strings.TrimPrefix(t, "signal:"))
			if len(v) > 0 {
				if f, err := strconv.ParseFloat(v[0], 64); err == nil && f > -200 && f < 100 {
					cur.Signal = int(math.Round(f))
				}
			}
		case strings.HasPrefix(t, "SSID:") && indent == 1:
			cur.SSID = unescapeSSID(strings.TrimPrefix(strings.TrimPrefix(t, "SSID:"), " "))
		case strings.HasPrefix(t, "capability:"):
			privacy = strings.Contains(t, "Privacy")
		case strings.HasPrefix(t, "RSN:"):
			section, rsn = "rsn", true
		case strings.HasPrefix(t, "WPA:"):
			section, wpa = "wpa", true
		case strings.Contains(t, "Authentication suites:") && section != "":
			suites := t[strings.Index(t, ":")+1:]
			if section == "rsn" {
				psk = psk || containsWord(suites, "PSK") || containsWord(suites, "PSK/SHA-256")
				sae = sae || strings.Contains(suites, "SAE")
			}
			eap = eap || strings.Contains(suites, "802.1X")
		}
	}
	flush()
	return dedupe(list)
}

func containsWord(s, w string) bool { return slices.Contains(strings.Fields(s), w) }

func (n *Network) setSecurity(sae, psk, eap, open bool) {
	n.Security = nil
	if sae {
		n.Security = append(n.Security, device.SecurityWPA3SAE)
	}
	if psk {
		n.Security = append(n.Security, device.SecurityWPA2PSK)
	}
	n.Enterprise = eap && !sae && !psk
	n.Open = open && !sae && !psk && !eap
}

// dedupe keeps the strongest entry per SSID (hidden networks each stay) and
// sorts strongest first, then by SSID.
func dedupe(list []Network) []Network {
	best := map[string]int{}
	var out []Network
	for _, n := range list {
		if n.SSID == "" {
			out = append(out, n)
			continue
		}
		if i, ok := best[n.SSID]; ok {
			if n.Signal > out[i].Signal {
				n.Connected = n.Connected || out[i].Connected
				out[i] = n
			} else if n.Connected {
				out[i].Connected = true
			}
			continue
		}
		best[n.SSID] = len(out)
		out = append(out, n)
	}
	slices.SortStableFunc(out, func(a, b Network) int {
		if a.Signal != b.Signal {
			return b.Signal - a.Signal
		}
		return strings.Compare(a.SSID, b.SSID)
	})
	return out
}

// unescapeSSID undoes the escaping of wpa_cli and iw (\xNN, \\, \", \e,
// \n, \r, \t); anything it does not recognise stays as it is.
func unescapeSSID(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case 'x':
			if i+3 < len(s) {
				if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
					b.WriteByte(byte(v))
					i += 3
					continue
				}
			}
			b.WriteByte(c)
		case '\\', '"':
			b.WriteByte(s[i+1])
			i++
		case 'e':
			b.WriteByte(0x1b)
			i++
		case 'n':
			b.WriteByte('\n')
			i++
		case 'r':
			b.WriteByte('\r')
			i++
		case 't':
			b.WriteByte('\t')
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ParseSignalPoll reads RSSI=-52 from `wpa_cli signal_poll`.
func ParseSignalPoll(out []byte) (int, error) {
	for line := range strings.Lines(string(out)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "RSSI="); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < -200 || n > 100 {
				return 0, fmt.Errorf("signal_poll: RSSI %q is not a number of dBm", v)
			}
			return n, nil
		}
	}
	if strings.Contains(string(out), "FAIL") {
		return 0, ErrNotConnected
	}
	return 0, fmt.Errorf("signal_poll: no RSSI in the answer")
}

// ParseIWLink reads "signal: -52 dBm" from `iw dev IF link`.
func ParseIWLink(out []byte) (int, error) {
	s := string(out)
	if strings.HasPrefix(strings.TrimSpace(s), "Not connected") {
		return 0, ErrNotConnected
	}
	for line := range strings.Lines(s) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "signal:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			n, err := strconv.Atoi(f[0])
			if err != nil || n < -200 || n > 100 {
				return 0, fmt.Errorf("iw link: signal %q is not a number of dBm", f[0])
			}
			return n, nil
		}
	}
	return 0, ErrNotConnected
}
