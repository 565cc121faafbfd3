package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/cloudsync/broker"
	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/coap/coapsim"
	"github.com/sitegate/sitegate/device/lora/lorasim"
	"github.com/sitegate/sitegate/device/lora/lorawan"
	"github.com/sitegate/sitegate/tui/access"
)

func newDemoCmd(s streams) *cobra.Command {
	o := daemonOptions{dataDir: "./demo-data"}
	var notes []string
	cmd := &cobra.Command{
		Use:   "demo [--data DIR] [--ssh-addr ADDR]",
		Short: "Run the gateway on a built-in demo site",
		Long: "Run the gateway with a demo data directory preloaded with a small plant room\n" +
			"(an energy meter, two air-handling units, a room sensor). Running it again\n" +
			"reuses the directory.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Ctrl-C reaches the demo alone, so that make run exits 0.
			defer takeForeground()()
			var demoBroker *broker.Broker
			var site *device.Site
			var log *slog.Logger
			loraCtx, stopLoRa := context.WithCancel(cmd.Context())
			waitLoRa, waitBACnet, waitCoAP := func() {}, func() {}, func() {}
			defer func() {
				stopLoRa()
				waitLoRa()
				waitCoAP()
				waitBACnet()
				if demoBroker != nil {
					demoBroker.Close()
				}
			}()
			o.prepare = func(g *device.Gateway, acc *access.Service, l *slog.Logger) error {
				var err error
				if notes, err = seedDemo(g, acc, l, homeKeys()); err != nil {
					return err
				}
				site, _ = g.Site()
				log = l
				// The demo contacts nothing off this machine: its devices
				// and its time server are on loopback too.
				devices, err := newDemoSim(g, log, o.dataDir)
				if err != nil {
					return err
				}
				devices.sync() // before the first poll
				o.services = append(o.services, service{"demo devices", devices.Run})
				if ntp := listenDemoNTP(log, demoNTPAddr); ntp != nil {
					o.services = append(o.services, service{"demo time server", ntp.Run})
				}
				waitBACnet = startDemoBACnet(loraCtx, site, log)
				o.services = append(o.services, demoSNMPAgents(site, log)...)
				// The cloud's stand-in: a TLS broker on loopback with a
				// demo PKI in the data directory; the gateway connects to
				// it with its own device certificate.
				files, err := broker.EnsurePKI(filepath.Join(o.dataDir, "demo-pki"), g.ID())
				if err != nil {
					return fmt.Errorf("demo certificates: %w", err)
				}
				b, err := broker.Start(files, broker.Options{Address: "127.0.0.1:0", Logger: log.With("component", "demo-broker")})
				if err != nil {
					return fmt.Errorf("demo broker: %w", err)
				}
				demoBroker = b
				o.broker, o.ca, o.cert, o.key, o.demoUplink = b.URL(), files.CA, files.ClientCert, files.ClientKey, true
				notes = append(notes, "", "Cloud stand-in: an MQTT broker with mutual TLS on "+b.Addr()+"; admins can cut and restore it with: ssh ... sync cut | sync restore")
				return nil
			}
			o.ready = func(addr net.Addr) {
				// The gateway's services start now: the simulated LoRa
				// sensors join as soon as its packet forwarder server
				// listens.
				waitLoRa = startDemoLoRa(loraCtx, site, log)
				waitCoAP = startDemoCoAP(loraCtx, site, log)
				host, port, _ := net.SplitHostPort(addr.String())
				fmt.Fprintf(s.out, "\nsitegate demo is running (data in %s). Press Ctrl-C to stop.\n\n", o.dataDir)
				for _, n := range notes {
					fmt.Fprintln(s.out, "  "+strings.NewReplacer("HOST", host, "PORT", port).Replace(n))
				}
				fmt.Fprintln(s.out)
			}
			return runDaemon(cmd.Context(), &o, s)
		},
	}
	cmd.Flags().StringVar(&o.dataDir, "data", o.dataDir, "demo data directory")
	addDaemonFlags(cmd, &o, "127.0.0.1:2222")
	return cmd
}

// startDemoLoRa plays a packet forwarder with the site's OTAA sensors
// when the site runs the embedded network server on loopback (the demo
// never sends anything off the machine), until ctx ends. It returns a
// function that waits for the simulator to stop.
func startDemoLoRa(ctx context.Context, site *device.Site, log *slog.Logger) (wait func()) {
	l := site.LoRa
	addr := l.EffectivePacketForwarder()
	ap, err := netip.ParseAddrPort(addr)
	gw, euiErr := lorawan.ParseEUI64(l.GatewayEUI)
	if !l.Running() || l.EffectiveMode() != device.LoRaEmbedded || err != nil || !ap.Addr().IsLoopback() || euiErr != nil {
		return func() {}
	}
	var sensors []lorasim.Sensor
	for _, d := range l.Devices {
		if d.Activation != device.ActivationOTAA {
			continue
		}
		eui, err1 := lorawan.ParseEUI64(d.DevEUI)
		join, err2 := lorawan.ParseEUI64(d.JoinEUI)
		key, err3 := lorawan.ParseKey(d.AppKey.Reveal())
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		sensors = append(sensors, lorasim.Sensor{Name: d.Name, DevEUI: eui, JoinEUI: join, AppKey: key, Interval: d.Interval.Std()})
	}
	if len(sensors) == 0 {
		return func() {}
	}
	startNonces(sensors)
	simLog := log.With("component", "lora-sim")
	s, err := lorasim.New(lorasim.Config{Server: addr, GatewayEUI: gw, Sensors: sensors, JoinRetry: joinRetry(0), Log: simLog})
	if err != nil {
		log.Warn("demo: cannot simulate the LoRa sensors", "err", err)
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Run(ctx); err != nil {
			simLog.Warn("demo: simulated LoRa sensors stopped", "err", err)
		}
	}()
	log.Info("demo: simulated LoRa sensors", "forwarder", addr, "sensors", len(sensors))
	return func() { <-done }
}

// startDemoCoAP plays the site's CoAP sensors when the server listens on
// loopback, until ctx ends. It returns a function that waits for them.
func startDemoCoAP(ctx context.Context, site *device.Site, log *slog.Logger) (wait func()) {
	ap, err := netip.ParseAddrPort(site.CoAP.Listen)
	if err != nil || !ap.Addr().IsLoopback() || len(site.CoAP.Sensors) == 0 {
		return func() {}
	}
	var sensors []coapsim.Sensor
	for _, s := range site.CoAP.Sensors {
		sensors = append(sensors, coapsim.Sensor{Name: s.Name, Identity: s.Identity, Key: []byte(s.Key.Reveal()), Interval: s.EffectiveInterval().Std()})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = coapsim.Run(ctx, coapsim.Config{Server: site.CoAP.Listen, Sensors: sensors, Log: log.With("component", "coap-sim")})
	}()
	log.Info("demo: simulated CoAP sensors", "server", site.CoAP.Listen, "sensors", len(sensors))
	return func() { <-done }
}

// homeKeys returns the public keys in ~/.ssh/id_*.pub, which authorise the
// demo's admin account.
func homeKeys() []string {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	paths, _ := filepath.Glob(filepath.Join(home, ".ssh", "id_*.pub"))
	var keys []string
	for _, p := range paths {
		if k, err := readKeys(p); err == nil {
			keys = append(keys, k...)
		}
	}
	return keys
}

// seedDemo prepares a demo data directory on its first run: the embedded
// demo site, an admin account for the user's own SSH keys and an installer
// with a generated password, printed once. A directory from an earlier run
// keeps its own (possibly edited) site and accounts. It returns the lines
// that tell the user how to connect.
func seedDemo(g *device.Gateway, acc *access.Service, log *slog.Logger, keys []string) ([]string, error) {
	if _, rev := g.Site(); rev == 0 {
		ch, err := g.ImportYAML(device.Edit{Actor: device.LocalActor, Action: "config.import"}, device.DemoSiteYAML)
		if err != nil {
			return nil, fmt.Errorf("load the demo site: %w", err)
		}
		log.Info("demo site loaded", "site_rev", ch.Rev)
	} else if err := localDemoClock(g, log); err != nil {
		return nil, err
	}
	certNotes, err := ensureDemoCA(g, log)
	if err != nil {
		return nil, err
	}
	ssh := "ssh -p PORT %s@HOST"
	if acc.Count() > 0 {
		return append([]string{
			"Log in with the accounts created on the first run:",
			fmt.Sprintf("  "+ssh+"      (your SSH keys, if you had any)", "admin"),
			fmt.Sprintf("  "+ssh+"  (the password printed on the first run;", "installer"),
			"   reset it with: sitegate user passwd --data DIR installer, while the demo is stopped)",
		}, certNotes...), nil
	}
	var notes []string
	ctx := context.Background()
	if len(keys) > 0 {
		// Key-only: the site's 2FA rule guards passwords, and this admin
		// has none.
		if _, err := acc.AddUser(ctx, device.LocalActor, access.NewUser{Name: "admin", Role: device.RoleAdmin, PublicKeys: keys}); err != nil {
			return nil, fmt.Errorf("create the demo admin: %w", err)
		}
		notes = append(notes, fmt.Sprintf("Administrator (your %d SSH key(s) from ~/.ssh):  "+ssh, len(keys), "admin"))
	} else {
		// A password hash takes 64 MiB that are garbage once it is done:
		// collect the last one's before the next, or they stack up in
		// the start-up peak (the door's decoy hash came just before).
		runtime.GC()
		pw := demoPassword(acc, "admin")
		if _, err := acc.AddUser(ctx, device.LocalActor, access.NewUser{Name: "admin", Role: device.RoleAdmin, Password: pw}); err != nil {
			return nil, fmt.Errorf("create the demo admin: %w", err)
		}
		notes = append(notes, fmt.Sprintf("Administrator: "+ssh+"       password: %s  (no ~/.ssh/id_*.pub key was found)", "admin", pw))
	}
	runtime.GC() // see below
	pw := demoPassword(acc, "installer")
	if _, err := acc.AddUser(ctx, device.LocalActor, access.NewUser{Name: "installer", Role: device.RoleInstaller, Password: pw}); err != nil {
		return nil, fmt.Errorf("create the demo installer: %w", err)
	}
	notes = append(notes,
		fmt.Sprintf("Installer: "+ssh+"   password: %s", "installer", pw),
		"(The password is shown only now. The demo site needs no authenticator app; production sites do.)")
	return append(notes, certNotes...), nil
}

// localDemoClock moves a demo directory made by an older version, whose
// site still names the off-machine pool.ntp.org as its time source (the
// old demo default), to the demo's own time server. A site whose servers
// someone chose is left alone.
func localDemoClock(g *device.Gateway, log *slog.Logger) error {
	site, rev := g.Site()
	if len(site.Clock.NTPServers) != 1 || site.Clock.NTPServers[0] != "pool.ntp.org" {
		return nil
	}
	site.Clock.NTPServers = []string{demoNTPAddr}
	if _, err := g.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, site); err != nil {
		return fmt.Errorf("demo: use the local time server: %w", err)
	}
	log.Info("demo: the site's time source is now the demo's own server, not pool.ntp.org", "server", demoNTPAddr)
	return nil
}

// demoPassword generates a password that satisfies the policy.
func demoPassword(acc *access.Service, user string) string {
	const (
		upper   = "ABCDEFGHJKLMNPQRSTUVWXYZ"
		lower   = "abcdefghijkmnpqrstuvwxyz"
		digits  = "23456789"
		special = access.Special
	)
	pick := func(set string) byte {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		return set[n.Int64()]
	}
	for {
		b := []byte{pick(upper), pick(lower), pick(lower), pick(digits), pick(special), pick(upper), pick(lower), pick(digits), pick(lower), pick(upper), pick(digits), pick(lower)}
		if acc.PolicyFor(string(b), user) == nil {
			return string(b)
		}
	}
}
