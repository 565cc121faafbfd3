package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/modbus/sim"
)

// The demo's field devices. Every device of the site on a TCP bus at a
// loopback address is simulated with exactly its points, by unit id, and
// the simulation follows the site: a device added (or whose points change)
// while the demo runs is served at once, from the console or from ssh.
// A few spare units answer too, unconfigured, so that a bus scan finds
// something to add. Every waveform runs from one epoch kept in the data
// directory, so a restart never changes what a device reads: counters
// carry on counting.

// demoEpochFile keeps the epoch of the demo's waveforms.
const demoEpochFile = "demo-sim-epoch"

// demoSpares are the spare units of the demo's first loopback bus: a scan
// finds them and suggests their profile (they identify as it).
var demoSpares = map[uint8]string{10: "eastron-sdm630", 11: "eastron-sdm630", 12: "carlo-gavazzi-em24", 13: "eastron-sdm72d-m"}

// demoSim serves the demo site's devices.
type demoSim struct {
	gw    *device.Gateway
	log   *slog.Logger
	epoch time.Time

	mu      sync.Mutex
	servers map[string]*sim.Server // by bus address
	failed  map[string]bool        // bus addresses that could not be served
	served  map[string]string      // "address/unit" → the points served, as JSON
}

// newDemoSim reads (or makes, on the first run) the waveform epoch in dir.
func newDemoSim(gw *device.Gateway, log *slog.Logger, dir string) (*demoSim, error) {
	path := filepath.Join(dir, demoEpochFile)
	epoch := time.Now().UTC().Truncate(time.Second)
	switch b, err := os.ReadFile(path); {
	case err == nil:
		if epoch, err = time.Parse(time.RFC3339, strings.TrimSpace(string(b))); err != nil {
			return nil, fmt.Errorf("demo: %s is not a time (%v): remove it to start the simulation afresh", path, err)
		}
	case errors.Is(err, os.ErrNotExist):
		if err := os.WriteFile(path, []byte(epoch.Format(time.RFC3339)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
	default:
		return nil, fmt.Errorf("demo: %w", err)
	}
	return &demoSim{gw: gw, log: log, epoch: epoch, servers: map[string]*sim.Server{}, failed: map[string]bool{}, served: map[string]string{}}, nil
}

// loopbackTCP reports whether b is a TCP bus on a loopback address, the
// only ones the demo simulates.
func loopbackTCP(b device.Bus) bool {
	host, _, err := net.SplitHostPort(b.Address)
	return b.Kind == device.BusTCP && err == nil && net.ParseIP(host).IsLoopback()
}

// sync serves the site as it is now: a server per loopback bus address,
// a model per device (rebuilt only when its points changed), spare units
// where no device is.
func (d *demoSim) sync() {
	site, _ := d.gw.Site()
	d.mu.Lock()
	defer d.mu.Unlock()
	spares := ""
	for _, b := range site.Modbus.Buses {
		if !loopbackTCP(b) {
			continue
		}
		if _, ok := d.servers[b.Address]; !ok {
			if d.failed[b.Address] {
				continue // said once
			}
			srv := sim.NewServer(nil, nil, sim.WithLogger(d.log.With("component", "sim")))
			if _, err := srv.ListenTCP(b.Address); err != nil {
				d.log.Warn("demo: cannot simulate the devices of this bus (its devices show offline)", "bus", b.Name, "address", b.Address, "err", err)
				srv.Close()
				d.failed[b.Address] = true
				continue
			}
			d.servers[b.Address] = srv
			d.log.Info("demo: simulated Modbus devices", "bus", b.Name, "address", b.Address)
		}
		if spares == "" {
			spares = b.Address
		}
	}
	used := map[string]bool{}
	for _, dev := range site.Modbus.Devices {
		b, ok := site.Modbus.FindBus(dev.Bus)
		srv := d.servers[b.Address]
		if !ok || !loopbackTCP(b) || srv == nil {
			continue
		}
		points := site.EffectivePoints(dev)
		name := dev.Profile
		if name == "" {
			name = dev.Name
		}
		d.serve(srv, b.Address, uint8(dev.UnitID), name, points)
		used[fmt.Sprintf("%s/%d", b.Address, dev.UnitID)] = true
	}
	if srv := d.servers[spares]; srv != nil {
		for unit, profile := range demoSpares {
			if used[fmt.Sprintf("%s/%d", spares, unit)] {
				continue
			}
			if p, ok := site.LookupProfile(profile); ok {
				d.serve(srv, spares, unit, profile, p.Points)
			}
		}
	}
}

// serve makes srv answer unit with points, unless it already does.
func (d *demoSim) serve(srv *sim.Server, addr string, unit uint8, name string, points []device.Point) {
	key := fmt.Sprintf("%s/%d", addr, unit)
	sig, _ := json.Marshal(struct {
		Name   string
		Points []device.Point
	}{name, points})
	if d.served[key] == string(sig) {
		return
	}
	// Each unit's waves start at another time, so that two devices of one
	// profile (the demo's two air-handling units), read in the same
	// instant, do not show the same values.
	m, err := sim.NewModel(points, sim.WithName(name), sim.WithEpoch(d.epoch.Add(-time.Duration(unit)*37*time.Second)))
	if err != nil {
		d.log.Warn("demo: cannot simulate a device", "unit", unit, "address", addr, "err", err)
		return
	}
	srv.SetModel(unit, m)
	d.served[key] = string(sig)
}

// Run follows the site until ctx ends, then stops every server.
func (d *demoSim) Run(ctx context.Context) error {
	defer d.close()
	d.gw.FollowSite(ctx, d.sync)
	return nil
}

func (d *demoSim) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for addr, srv := range d.servers {
		srv.Close()
		delete(d.servers, addr)
	}
}
