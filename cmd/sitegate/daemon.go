package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"time"

	"github.com/sitegate/sitegate/device/clockwork"

	"github.com/sitegate/sitegate/cloudsync"
	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet"
	"github.com/sitegate/sitegate/device/clock"
	"github.com/sitegate/sitegate/device/coap"
	"github.com/sitegate/sitegate/device/endpoints"
	"github.com/sitegate/sitegate/device/firewall"
	"github.com/sitegate/sitegate/device/firmware"
	"github.com/sitegate/sitegate/device/health"
	"github.com/sitegate/sitegate/device/lora"
	"github.com/sitegate/sitegate/device/modbus"
	"github.com/sitegate/sitegate/device/snmp"
	"github.com/sitegate/sitegate/device/support"
	"github.com/sitegate/sitegate/device/wan"
	"github.com/sitegate/sitegate/device/wifi"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/sshd"
)

// firmwareUpdater adapts the firmware manager to what sessions may use.
type firmwareUpdater struct{ m *firmware.Manager }

func (f firmwareUpdater) Info() device.FirmwareInfo { return f.m.Info() }

func (f firmwareUpdater) Apply(ctx context.Context, r io.Reader, actor device.Actor, progress func(done, total int64)) (string, error) {
	man, err := f.m.Apply(ctx, r, actor, progress)
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, firmware.Advice(err))
	}
	return man.Version, nil
}

// shutdownGrace bounds a clean stop after SIGINT/SIGTERM.
const shutdownGrace = 5 * time.Second

// daemonOptions are what run and demo share.
type daemonOptions struct {
	dataDir   string
	sshAddr   string
	gatewayID string
	logFormat string
	logLevel  string
	// prepare runs after the store is open and before the listener starts
	// (the demo seeds its site here).
	prepare func(g *device.Gateway, acc *access.Service, log *slog.Logger) error
	// ready is called once the SSH listener is bound (tests use it).
	ready func(addr net.Addr)
	// services run before the gateway's own and stop after them (the
	// demo's simulated devices and time server).
	services []service

	// The uplink (provisioning, not commissioning: flags, not the site).
	broker, ca, cert, key string
	demoUplink            bool

	// setClock lets the clock service step the system clock (root only).
	setClock bool
	// net chooses the WAN backend: sim or linux.
	net string
	// memoryLimit is the runtime's soft memory limit (--memory-limit).
	memoryLimit memoryLimit
}

// newLogger logs to w and, when ring is given, keeps the records in memory
// for the console's log screen.
func newLogger(w io.Writer, format, level string, ring *device.LogRing) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	switch format {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, usagef("--log-format %q: use text or json", format)
	}
	if ring != nil {
		h = ring.Handler(h)
	}
	return slog.New(h), nil
}

// runDaemon opens the store, starts the gateway's services and blocks until
// ctx is cancelled (SIGINT/SIGTERM), then stops everything within
// shutdownGrace.
func runDaemon(ctx context.Context, o *daemonOptions, s streams) error {
	ring := device.NewLogRing(2000)
	log, err := newLogger(s.err, o.logFormat, o.logLevel, ring)
	if err != nil {
		return err
	}
	if o.dataDir == "" {
		return usagef("--data is required: the directory where the gateway keeps its database and keys")
	}
	// In-process callers (tests) get their own limit back afterwards.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	limit, limitFrom := applyMemoryLimit(o.memoryLimit)
	st, err := store.Open(o.dataDir)
	if err != nil {
		return err
	}
	defer st.Close()
	gw, err := device.NewGateway(st, device.GatewayOptions{GatewayID: o.gatewayID, Logs: ring, Logger: log.With("component", "gateway")})
	if err != nil {
		return err
	}
	fw, err := bootFirmware(st, gw, log)
	if err != nil {
		return err
	}
	// The key that signs commissioning reports: made once, 0600, in the
	// data directory.
	reportKey, err := device.LoadReportKey(o.dataDir)
	if err != nil {
		return err
	}
	gw.SetReportKey(reportKey)
	acc := access.New(gw, access.Options{})
	if o.prepare != nil {
		if err := o.prepare(gw, acc, log); err != nil {
			return err
		}
	}
	if err := announceSetupToken(acc, log, s.err); err != nil {
		return err
	}
	svcs, listen, err := buildServices(o, st, gw, acc, fw, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.sshAddr)
	if err != nil {
		return fmt.Errorf("listen for SSH on %s: %w (choose another address with --ssh-addr)", o.sshAddr, err)
	}
	door, err := listen(ln)
	if err != nil {
		ln.Close()
		return err
	}
	svcs = append(svcs, door)
	_, rev := gw.Site()
	log.Info("gateway started", "gateway_id", gw.ID(), "data", o.dataDir, "ssh", ln.Addr().String(), "site_rev", rev, "version", version,
		"memory_limit", formatSize(limit), "memory_limit_from", limitFrom, "audit_key", st.AuditKeyID())
	if o.ready != nil {
		o.ready(ln.Addr())
	}
	// Start-up work leaves garbage: argon2id's 64 MiB per password hash
	// (the demo's accounts, the SSH door's timing decoy). Left to the
	// collector, it sets the heap goal of the whole run to twice that, and
	// the resident size climbs to about 150 MiB before the first
	// collection. Collect it now and give the memory back.
	debug.FreeOSMemory()
	err = runServices(ctx, log, shutdownGrace, svcs)
	log.Info("stopped")
	return err
}

// buildServices makes the gateway's services, in start order (they stop in
// the reverse order): the audit checkpoints, the caller's own services,
// the group commit of readings, the field drivers, time, the network, the
// uplink, the health rules, and last the SSH door, which the caller binds.
func buildServices(o *daemonOptions, st *store.Store, gw *device.Gateway, acc *access.Service, fw *firmware.Manager, log *slog.Logger) ([]service, func(net.Listener) (service, error), error) {
	var svcs []service
	// Signed checkpoints of the audit chain: first to start, last to stop,
	// so the final checkpoint covers what every other service audited.
	svcs = append(svcs, service{"audit", func(ctx context.Context) error {
		return st.RunCheckpoints(ctx, func(err error) {
			log.Error("audit checkpoint refused: the audit log was altered outside sitegate; run sitegate audit verify", "err", err)
		})
	}})
	// Services the caller adds (the demo's simulators and time server)
	// start next and stop late.
	svcs = append(svcs, o.services...)
	// The group commit stores readings once per store.commit_interval. It
	// stops after the drivers, and commits what they reported last.
	svcs = append(svcs, service{"readings", gw.Committer().Run})
	// The field drivers poll the site's devices and follow its changes.
	engine := modbus.New(gw, modbus.Options{Logger: log.With("component", "modbus")})
	svcs = append(svcs, service{"modbus", engine.Run})
	// BACnet: the BACnet/IP port (only while the site uses it, on its
	// address only) and the MS/TP lines, the site's BACnet devices, and
	// the gateway's own Device object serving bacnet.serve.
	bacnetDriver := bacnet.NewDriver(gw, bacnet.Options{Logger: log.With("component", "bacnet"), Version: version})
	svcs = append(svcs, service{"bacnet", bacnetDriver.Run})
	// LoRaWAN: the packet forwarder server on the site's address (only
	// while LoRa is enabled), the embedded network server or the relay to
	// the remote one.
	loraDriver := lora.NewDriver(gw, lora.Options{Logger: log.With("component", "lora")})
	svcs = append(svcs, service{"lora", loraDriver.Run})
	// SNMP: the site's agents (v2c, v3) and the trap receiver, which opens
	// only on snmp.trap_listen.
	snmpDriver := snmp.NewDriver(gw, snmp.Options{Logger: log.With("component", "snmp")})
	svcs = append(svcs, service{"snmp", snmpDriver.Run})
	// CoAP over DTLS: sensors push readings to coap.listen (no socket
	// without it).
	coapDriver := coap.NewDriver(gw, coap.Options{Logger: log.With("component", "coap")})
	gw.AddHealthSource(coapDriver.FillHealth)
	svcs = append(svcs, service{"coap", coapDriver.Run})
	// Time: NTP servers of the site; the system clock is only reported on
	// unless --set-clock (README requirement 9).
	if o.setClock && os.Geteuid() != 0 {
		return nil, nil, usagef("--set-clock needs root: the system clock can only be set by root")
	}
	// The site's endpoints: the clock and the uplink dial only what they
	// name; with --net linux the firewall lets only their addresses out.
	var fwm *firewall.Manager
	allow := endpoints.New(endpoints.Options{Gateway: gw, Logger: log.With("component", "endpoints"),
		OnChange: func() {
			if fwm != nil {
				fwm.Kick()
			}
		}})
	svcs = append(svcs, service{"endpoints", allow.Run})
	if o.net == "linux" {
		var err error
		if fwm, err = firewall.New(firewall.Options{Gateway: gw, Endpoints: allow, SSHAddr: o.sshAddr, VPN: support.DefaultInterface, Logger: log.With("component", "firewall")}); err != nil {
			return nil, nil, err
		}
		gw.AddHealthSource(fwm.FillHealth)
		svcs = append(svcs, service{"firewall", fwm.Run})
		// Remote access by consent: the vendor's VPN runs only inside a
		// support window an administrator opens.
		sup, err := support.New(support.Options{Gateway: gw, Config: support.ConfigPath(o.dataDir), Logger: log.With("component", "support")})
		if err != nil {
			return nil, nil, err
		}
		gw.SetSupport(sup)
		svcs = append(svcs, service{"support", sup.Run})
	} else {
		gw.AddHealthSource(func(h *device.Health) { h.Firewall.Endpoints = allow.Health() })
	}
	clk := clock.New(clock.Options{Gateway: gw, SetClock: o.setClock, Logger: log.With("component", "clock"), Query: clock.DialQuery(allow.DialContext),
		OnStep: func(by time.Duration, src string) {
			_ = gw.AuditDetail(device.SystemActor, device.ActionClockStep, src, device.ResultOK, by.String())
		}})
	gw.AddHealthSource(clk.FillHealth)
	svcs = append(svcs, service{"clock", clk.Run})
	// Network: WAN priority, probes with hysteresis, failover, SIMs, and
	// the radio lock-out on every path that changes the site.
	if o.net != "sim" && o.net != "linux" {
		return nil, nil, usagef("--net %q: use sim or linux", o.net)
	}
	gw.AddSiteGuard(wifi.CheckRadioChange)
	gw.AddSiteObserver(func(prev, next *device.Site, actor device.Actor) {
		if err := wifi.AuditRadioChange(gw, actor, prev, next); err != nil {
			log.Error("audit radio change", "err", err)
		}
	})
	be, err := wan.NewBackend(o.net, clockwork.System, log.With("component", "wan"))
	if err != nil {
		return nil, nil, err
	}
	netMgr, err := wan.New(gw, be, wan.Options{Logger: log.With("component", "wan")})
	if err != nil {
		return nil, nil, err
	}
	gw.AddHealthSource(netMgr.FillHealth)
	gw.AddSiteObserver(func(_, _ *device.Site, _ device.Actor) { netMgr.Reconfigure() })
	var scanner wifi.Scanner = wifi.SimScanner{}
	if o.net == "linux" {
		site, _ := gw.Site()
		scanner = wifi.LinuxScanner{Interface: site.WiFi.Interface}
	}
	// The radio's state comes from the driver: running once a packet
	// forwarder is heard, whatever the network backend.
	radio := lora.New(func() *device.Site { s, _ := gw.Site(); return s }, loraDriver)
	gw.SetNetwork(wan.NewControl(netMgr, scanner, radio))
	svcs = append(svcs, service{"wan", func(ctx context.Context) error {
		err := netMgr.Run(ctx)
		if c, ok := be.(io.Closer); ok {
			_ = c.Close()
		}
		return err
	}})
	// The uplink drains the outbox to the cloud; without a broker the
	// gateway works offline and the outbox fills, bounded.
	var tlsCfg *tls.Config
	if o.broker != "" {
		if tlsCfg, err = cloudsync.LoadTLS(o.ca, o.cert, o.key); err != nil {
			return nil, nil, err
		}
	}
	up, err := cloudsync.New(cloudsync.Config{Gateway: gw, Store: st, Broker: o.broker, TLS: tlsCfg, Logger: log.With("component", "uplink"), Demo: o.demoUplink, Dial: allow.DialContext,
		ClockSynced: func() bool { return clk.Status().Synced }})
	if err != nil {
		return nil, nil, usagef("%v", err)
	}
	svcs = append(svcs, service{"uplink", up.Run})
	// Health rules raise and clear alerts (dashboard, alerts, uplink).
	mon, err := health.New(gw, health.Options{Logger: log.With("component", "health"), DataDir: o.dataDir,
		FirmwareFailed: fw.Failed, ClockUnsyncedFor: clk.UnsyncedFor})
	if err != nil {
		return nil, nil, err
	}
	svcs = append(svcs, service{"health", mon.Run})
	// Trap alerts join the monitor's (its source sets the list first).
	gw.AddHealthSource(snmpDriver.FillHealth)
	listen := func(ln net.Listener) (service, error) {
		// The SSH server gets most of the stop's grace (open consoles
		// restore their terminals and say why); the services stopped after
		// it get the rest.
		srv, err := sshd.NewServer(sshd.Config{Gateway: gw, Access: acc, Listener: ln, DataDir: o.dataDir, Logger: log.With("component", "ssh"),
			Version: "sitegate", ShutdownGrace: shutdownGrace - 2*time.Second})
		if err != nil {
			return service{}, err
		}
		return service{"ssh", srv.Run}, nil
	}
	return svcs, listen, nil
}

// bootFirmware verifies a pending slot again and commits it, or falls back:
// this start is the "boot" of the A/B scheme.
func bootFirmware(st *store.Store, gw *device.Gateway, log *slog.Logger) (*firmware.Manager, error) {
	fw, err := openFirmware(st, func(d string) { gw.Publish(device.Event{Kind: device.EventFirmware, Detail: d}) })
	if err != nil {
		return nil, err
	}
	rep, err := fw.Boot()
	if err != nil {
		return nil, err
	}
	if rep.FellBack || rep.Problem != "" {
		log.Error("firmware fell back at start", "slot", rep.Slot, "version", rep.Version, "problem", rep.Problem)
	} else {
		log.Info("firmware", "slot", rep.Slot, "version", rep.Version, "committed", rep.Committed)
	}
	gw.AddHealthSource(fw.HealthSource())
	gw.SetFirmware(firmwareUpdater{fw})
	return fw, nil
}

// announceSetupToken makes the one-time setup token of a gateway without
// accounts (README requirement 1: no default password; the token is the
// only way in) and tells the operator's terminal, not the log the console
// shows.
func announceSetupToken(acc *access.Service, log *slog.Logger, terminal io.Writer) error {
	tok, err := acc.EnsureSetupToken()
	if err != nil || tok.Token == "" {
		return err
	}
	log.Warn("no accounts yet: log in as user \"setup\" with the one-time setup token to create the first administrator",
		"file", tok.Path, "expires", tok.Expires.UTC().Format(time.RFC3339))
	fmt.Fprintf(terminal, "\n  one-time setup token: %s\n  (also in %s; valid until %s)\n\n", tok.Token, tok.Path, tok.Expires.UTC().Format(time.RFC3339))
	return nil
}
