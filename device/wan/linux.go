//go:build linux

package wan

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/wifi"
)

// LinuxOptions configure the linux backend.
type LinuxOptions struct {
	// Runner runs wpa_cli, iw and mmcli (default wifi.ExecRunner).
	Runner wifi.Runner
	// WPADir is where wpa_supplicant-IF.conf is written (default
	// /etc/wpa_supplicant, where the systemd unit wpa_supplicant@IF reads
	// it).
	WPADir string
	// WPACtrl is wpa_supplicant's control socket directory (default
	// /run/wpa_supplicant).
	WPACtrl string
	// BaseMetric is the default-route metric of the active link; the
	// others get BaseMetric + MetricStep × rank (defaults 100 and 100).
	BaseMetric, MetricStep int
	// ProcSys is the sysctl tree (default /proc/sys).
	ProcSys string
	Logger  *slog.Logger
}

// Linux is the network backend of a real gateway: route metrics by
// netlink, probes bound to their interface, Wi-Fi through wpa_supplicant,
// cellular through ModemManager when it is installed. It touches only the
// interfaces the site names.
type Linux struct {
	o   LinuxOptions
	h   *netlink.Handle
	log *slog.Logger

	mu       sync.Mutex
	wifiKey  [32]byte
	wifiErr  string
	wifiDone bool
	signalOn bool
}

// NewLinux opens a netlink handle in the process's network namespace.
func NewLinux(o LinuxOptions) (*Linux, error) {
	if o.Runner == nil {
		o.Runner = wifi.ExecRunner{}
	}
	if o.WPADir == "" {
		o.WPADir = "/etc/wpa_supplicant"
	}
	if o.WPACtrl == "" {
		o.WPACtrl = wifi.DefaultCtrlInterface
	}
	if o.BaseMetric <= 0 {
		o.BaseMetric = 100
	}
	if o.MetricStep <= 0 {
		o.MetricStep = 100
	}
	if o.ProcSys == "" {
		o.ProcSys = "/proc/sys"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink: %w", err)
	}
	return &Linux{o: o, h: h, log: o.Logger.With("subsystem", "wan", "backend", "linux")}, nil
}

func newLinuxBackend(log *slog.Logger) (Backend, error) {
	b, err := NewLinux(LinuxOptions{Logger: log})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Close releases the netlink handle.
func (b *Linux) Close() error {
	b.h.Close()
	return nil
}

// Name is "linux".
func (b *Linux) Name() string { return "linux" }

// Configure loosens reverse-path filtering on the site's interfaces (a
// reply through a link that is not the default route would otherwise be
// dropped, and that link could never be probed), writes the Wi-Fi network
// for wpa_supplicant when the wifi section changed, and turns the Wi-Fi
// interface down while Wi-Fi is permanently disabled.
func (b *Linux) Configure(ctx context.Context, site *device.Site) error {
	s := site.Clone()
	s.ApplyDefaults()
	var errs []error
	for _, iface := range []string{s.WAN.Ethernet.Interface, s.WiFi.Interface, s.Cellular.Interface} {
		if err := b.looseRPFilter(iface); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, b.configureWiFi(ctx, s.WiFi))
	if s.Cellular.Enabled && wifi.Has(b.o.Runner, "mmcli") {
		b.mu.Lock()
		on := b.signalOn
		b.signalOn = true
		b.mu.Unlock()
		if !on {
			// Signal figures are only refreshed after a setup call.
			_, _ = b.o.Runner.Run(ctx, "mmcli", "-m", "any", "--signal-setup=30")
		}
	}
	return errors.Join(errs...)
}

// looseRPFilter turns strict reverse-path filtering (1) into loose (2) on
// an existing interface; 0 and 2 are left alone.
func (b *Linux) looseRPFilter(iface string) error {
	if iface == "" || iface == "." || iface == ".." || strings.Contains(iface, "/") {
		return nil
	}
	path := filepath.Join(b.o.ProcSys, "net", "ipv4", "conf", iface, "rp_filter")
	cur, err := os.ReadFile(path)
	if err != nil {
		return nil // no such interface (yet): nothing to loosen
	}
	if strings.TrimSpace(string(cur)) != "1" {
		return nil
	}
	if err := os.WriteFile(path, []byte("2\n"), 0o644); err != nil {
		return fmt.Errorf("loosen rp_filter on %s: %w", iface, err)
	}
	return nil
}

func (b *Linux) configureWiFi(ctx context.Context, w device.WiFi) error {
	raw, _ := json.Marshal(w)
	key := sha256.Sum256(raw)
	b.mu.Lock()
	same := b.wifiDone && key == b.wifiKey
	b.mu.Unlock()
	if same {
		return nil
	}
	path := wifi.SupplicantPath(b.o.WPADir, w.Interface)
	on := w.Enabled && !w.PermanentlyDisabled
	var err error
	_, statErr := os.Stat(path)
	if on || statErr == nil {
		err = wifi.WriteSupplicantConfig(path, w, b.o.WPACtrl)
	}
	if err == nil && (on || statErr == nil) && wifi.Has(b.o.Runner, "wpa_cli") {
		if _, rerr := b.o.Runner.Run(ctx, "wpa_cli", "-p", b.o.WPACtrl, "-i", w.Interface, "reconfigure"); rerr != nil {
			// wpa_supplicant reads the file when it starts anyway.
			b.log.Warn("wpa_supplicant not reconfigured", "interface", w.Interface, "err", rerr)
		}
	}
	if link, lerr := b.h.LinkByName(w.Interface); lerr == nil {
		switch {
		case w.PermanentlyDisabled && link.Attrs().Flags&net.FlagUp != 0:
			if derr := b.h.LinkSetDown(link); derr != nil {
				err = errors.Join(err, fmt.Errorf("turn %s off: %w", w.Interface, derr))
			}
		case on && link.Attrs().Flags&net.FlagUp == 0:
			if uerr := b.h.LinkSetUp(link); uerr != nil {
				err = errors.Join(err, fmt.Errorf("turn %s on: %w", w.Interface, uerr))
			}
		}
	}
	b.mu.Lock()
	b.wifiDone, b.wifiKey = err == nil, key
	b.wifiErr = ""
	if err != nil {
		b.wifiErr = err.Error()
	}
	b.mu.Unlock()
	if err != nil {
		return fmt.Errorf("wifi: %w", err)
	}
	return nil
}

// Probe connects by TCP to every target at once through the link's
// interface (SO_BINDTODEVICE, DNS included); the first success answers.
// Without targets, a link is up when its interface has carrier.
func (b *Linux) Probe(ctx context.Context, l Link, targets []string) error {
	if len(targets) == 0 {
		return b.carrier(l.Interface)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(targets))
	for _, t := range targets {
		go func() { errc <- dialThrough(ctx, l.Interface, t) }()
	}
	var first error
	for range targets {
		err := <-errc
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// bindTo returns a dialer Control function that binds sockets to iface.
func bindTo(iface string) func(network, address string, c syscall.RawConn) error {
	return func(network, address string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = unix.BindToDevice(int(fd), iface) }); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("bind to %s: %w", iface, serr)
		}
		return nil
	}
}

func dialThrough(ctx context.Context, iface, target string) error {
	d := net.Dialer{
		Control: bindTo(iface),
		// Name resolution goes through the same link: a probe must not
		// succeed because DNS answered over another uplink.
		Resolver: &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			dd := net.Dialer{Control: bindTo(iface)}
			return dd.DialContext(ctx, network, address)
		}},
	}
	c, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return err
	}
	return c.Close()
}

func (b *Linux) carrier(iface string) error {
	link, err := b.h.LinkByName(iface)
	if err != nil {
		return fmt.Errorf("interface %s not found", iface)
	}
	a := link.Attrs()
	if a.OperState == netlink.OperUp || a.OperState == netlink.OperUnknown && a.RawFlags&unix.IFF_LOWER_UP != 0 {
		return nil
	}
	return fmt.Errorf("no probe targets, and %s has no carrier (%s)", iface, a.OperState)
}

// Status reports a missing interface, the Wi-Fi signal (wpa_cli or iw)
// and the modem's signal and availability (mmcli).
func (b *Linux) Status(ctx context.Context, l Link) LinkStatus {
	var st LinkStatus
	var detail []string
	if _, err := b.h.LinkByName(l.Interface); err != nil {
		detail = append(detail, fmt.Sprintf("interface %s not found", l.Interface))
	}
	switch l.Kind {
	case device.LinkWiFi:
		b.mu.Lock()
		if b.wifiErr != "" {
			detail = append(detail, b.wifiErr)
		}
		b.mu.Unlock()
		if !wifi.Has(b.o.Runner, "wpa_cli") {
			detail = append(detail, "wpa_cli not found: wpa_supplicant is not told about changes")
		}
		sig, err := wifi.LinuxScanner{Interface: l.Interface, Runner: b.o.Runner}.Signal(ctx)
		switch {
		case err == nil:
			st.Signal = &sig
		case errors.Is(err, wifi.ErrNotConnected):
			detail = append(detail, "not associated")
		}
	case device.LinkCellular:
		if !wifi.Has(b.o.Runner, "mmcli") {
			detail = append(detail, "ModemManager not available (mmcli not found): no SIM switching or signal")
			break
		}
		out, err := b.o.Runner.Run(ctx, "mmcli", "-m", "any", "--signal-get", "--output-keyvalue")
		if err != nil {
			detail = append(detail, "modem: "+firstLine(err.Error()))
			break
		}
		if sig, ok := parseMMSignal(out); ok {
			st.Signal = &sig
		}
	}
	st.Detail = strings.Join(detail, "; ")
	return st
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// parseMMSignal reads the RSSI of the newest access technology from
// `mmcli --signal-get --output-keyvalue` ("modem.signal.lte.rssi : -71.00").
func parseMMSignal(out []byte) (int, bool) {
	vals := map[string]string{}
	for line := range strings.Lines(string(out)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		vals[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	for _, tech := range []string{"5g", "lte", "umts", "cdma1x", "evdo", "gsm"} {
		v := vals["modem.signal."+tech+".rssi"]
		if v == "" || v == "--" {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < -200 || f > 0 {
			continue
		}
		return int(f), true
	}
	return 0, false
}

// SelectSIM makes ModemManager use the SIM's slot and connect with its APN
// (and PIN).
func (b *Linux) SelectSIM(ctx context.Context, l Link, sim device.SIM) error {
	if !wifi.Has(b.o.Runner, "mmcli") {
		return fmt.Errorf("switch to SIM %d: ModemManager (mmcli) is %w", l.SIM, ErrNotAvailable)
	}
	if _, err := b.o.Runner.Run(ctx, "mmcli", "-m", "any", "--set-primary-sim-slot="+strconv.Itoa(l.SIM)); err != nil {
		return fmt.Errorf("switch to SIM %d: %s", l.SIM, firstLine(err.Error()))
	}
	conn := "apn=" + sim.APN
	if sim.PIN.IsSet() && !sim.PIN.IsPlaceholder() {
		conn += ",pin=" + sim.PIN.Reveal()
	}
	if _, err := b.o.Runner.Run(ctx, "mmcli", "-m", "any", "--simple-connect="+conn); err != nil {
		// Never echo the command line: it holds the PIN.
		return fmt.Errorf("connect SIM %d with APN %s: the modem refused", l.SIM, sim.APN)
	}
	return nil
}

// Route gives the default routes of each link's interface the metric of
// its rank: the first link (the active one) the lowest. Only default
// routes in the main table that go through one of the site's interfaces
// are changed; multipath routes and every other interface's routes are
// left alone (see planMetrics).
func (b *Linux) Route(ctx context.Context, order []Link) error {
	target := map[string]int{}
	rank := 0
	for _, l := range order {
		if _, dup := target[l.Interface]; l.Interface == "" || dup {
			continue
		}
		target[l.Interface] = b.o.BaseMetric + rank*b.o.MetricStep
		rank++
	}
	var errs []error
	for _, fam := range []int{netlink.FAMILY_V4, netlink.FAMILY_V6} {
		if err := b.routeFamily(fam, target); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (b *Linux) routeFamily(fam int, target map[string]int) error {
	all, err := b.h.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("list routes: %w", err)
	}
	names := map[int]string{}
	var routes []netlink.Route
	var slots []routeSlot
	for _, r := range all {
		if !isDefault(r) || len(r.MultiPath) > 0 || r.LinkIndex <= 0 {
			continue
		}
		name, ok := names[r.LinkIndex]
		if !ok {
			if link, err := b.h.LinkByIndex(r.LinkIndex); err == nil {
				name = link.Attrs().Name
			}
			names[r.LinkIndex] = name
		}
		_, ours := target[name]
		routes = append(routes, r)
		slots = append(slots, routeSlot{iface: name, ours: ours && name != "", metric: r.Priority})
	}
	var errs []error
	for _, mv := range planMetrics(slots, target) {
		old := routes[mv.id]
		// Add at the new metric first, then remove the old route, so that
		// the link never lacks its default route.
		nr := old
		nr.Priority = mv.to
		nr.Flags &= unix.RTNH_F_ONLINK
		if err := b.h.RouteAdd(&nr); err != nil {
			errs = append(errs, fmt.Errorf("set metric %d on the default route of %s: %w", mv.to, slots[mv.id].iface, err))
			// Later moves assumed this one; the next round plans afresh.
			break
		}
		if err := b.h.RouteDel(&old); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, fmt.Errorf("remove the old default route of %s: %w", slots[mv.id].iface, err))
			break
		}
		routes[mv.id] = nr
	}
	return errors.Join(errs...)
}

func isDefault(r netlink.Route) bool {
	if r.Dst == nil {
		return true
	}
	ones, _ := r.Dst.Mask.Size()
	return ones == 0 && r.Dst.IP.IsUnspecified()
}

// Counters reads the interface's byte counters (64-bit, from netlink).
func (b *Linux) Counters(ctx context.Context, l Link) (Counters, error) {
	link, err := b.h.LinkByName(l.Interface)
	if err != nil {
		return Counters{}, fmt.Errorf("counters of %s: %w", l.Interface, err)
	}
	s := link.Attrs().Statistics
	if s == nil {
		return Counters{}, fmt.Errorf("counters of %s: the kernel gave none", l.Interface)
	}
	return Counters{RxBytes: s.RxBytes, TxBytes: s.TxBytes}, nil
}

// DefaultRoute returns the interface of the default route with the lowest
// metric, for tests and diagnostics; "" when there is none.
func (b *Linux) DefaultRoute() (string, error) {
	return lowestDefault(b.h)
}

func lowestDefault(h *netlink.Handle) (string, error) {
	routes, err := h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return "", err
	}
	best, metric := 0, -1
	for _, r := range routes {
		if isDefault(r) && r.LinkIndex > 0 && (metric < 0 || r.Priority < metric) {
			best, metric = r.LinkIndex, r.Priority
		}
	}
	if metric < 0 {
		return "", nil
	}
	link, err := h.LinkByIndex(best)
	if err != nil {
		return "", err
	}
	return link.Attrs().Name, nil
}
