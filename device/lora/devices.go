package lora

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/lora/lorawan"
	"github.com/sitegate/sitegate/device/lora/ns"
	"github.com/sitegate/sitegate/device/lora/payload"
)

// devState is what the driver knows of one device of the site.
type devState struct {
	name      string
	devEUI    string
	codecName string
	class     device.LoRaClass
	interval  time.Duration
	codec     payload.Codec
	downlinks []payload.Downlink

	st    field.Status    // as last recorded
	heard time.Time       // the last uplink; zero: none since the driver started
	good  uint64          // uplinks that decoded
	last  []field.Reading // the last uplink's readings, to turn stale
}

// nsDevices converts the site's devices for the network server; nil in
// forward mode. A device that does not convert (validation refuses such
// sites) is left out and logged, without its keys.
func nsDevices(l device.LoRa, log *slog.Logger) []ns.Device {
	if l.EffectiveMode() != device.LoRaEmbedded {
		return nil
	}
	out := make([]ns.Device, 0, len(l.Devices))
	for _, sd := range l.Devices {
		d, err := nsDevice(sd)
		if err != nil {
			log.Error("lora: device left out", "device", sd.Name, "err", err)
			continue
		}
		out = append(out, d)
	}
	return out
}

func nsDevice(sd device.LoRaDevice) (ns.Device, error) {
	d := ns.Device{Name: sd.Name, Class: ns.ClassA, Codec: sd.CodecName()}
	var err error
	if d.DevEUI, err = lorawan.ParseEUI64(sd.DevEUI); err != nil {
		return d, fmt.Errorf("dev_eui: %w", err)
	}
	key := func(what string, s device.Secret) (lorawan.Key, error) {
		k, err := lorawan.ParseKey(s.Reveal())
		if err != nil {
			// The error of ParseKey never quotes the key, but say only
			// which key it was.
			return k, fmt.Errorf("%s is not 32 hex digits", what)
		}
		return k, nil
	}
	switch sd.Activation {
	case device.ActivationOTAA:
		d.Activation = ns.OTAA
		if d.JoinEUI, err = lorawan.ParseEUI64(sd.JoinEUI); err != nil {
			return d, fmt.Errorf("join_eui: %w", err)
		}
		if d.AppKey, err = key("app_key", sd.AppKey); err != nil {
			return d, err
		}
	case device.ActivationABP:
		d.Activation = ns.ABP
		if d.DevAddr, err = lorawan.ParseDevAddr(sd.DevAddr); err != nil {
			return d, fmt.Errorf("dev_addr: %w", err)
		}
		if d.NwkSKey, err = key("nwk_s_key", sd.NwkSKey); err != nil {
			return d, err
		}
		if d.AppSKey, err = key("app_s_key", sd.AppSKey); err != nil {
			return d, err
		}
	default:
		return d, fmt.Errorf("activation %s", sd.Activation)
	}
	return d, nil
}

// setDevicesLocked replaces the device list from the site. A device that
// keeps its name and DevEUI keeps its state. Called with d.mu held.
func (d *Driver) setDevicesLocked(l device.LoRa) {
	codecs := map[string]*device.LoRaCodec{}
	for i := range l.Codecs {
		codecs[l.Codecs[i].Name] = &l.Codecs[i]
	}
	next := map[string]*devState{}
	var order []string
	if l.EffectiveMode() == device.LoRaEmbedded {
		for _, sd := range l.Devices {
			ds := d.devices[sd.Name]
			if ds == nil || !strings.EqualFold(ds.devEUI, sd.DevEUI) {
				ds = &devState{name: sd.Name, st: field.Status{Device: sd.Name, Protocol: field.LoRa,
					State: field.StateUnknown, Errors: map[string]uint64{}}}
			}
			ds.st.Bus = l.FieldBus()
			ds.devEUI, ds.codecName, ds.class, ds.interval = sd.DevEUI, sd.CodecName(), sd.Class, sd.Interval.Std()
			if ds.interval <= 0 {
				ds.interval = device.DefaultLoRaInterval.Std()
			}
			ds.codec, ds.downlinks = payload.CayenneLPP{}, nil
			if c := codecs[ds.codecName]; c != nil {
				dc, err := payload.NewDeclarative(c.Name, c.Fields)
				if err != nil {
					d.log.Error("lora: codec not usable", "codec", c.Name, "err", err)
				} else {
					ds.codec, ds.downlinks = dc, slices.Clone(c.Downlinks)
				}
			}
			next[sd.Name] = ds
			order = append(order, sd.Name)
		}
	}
	d.devices, d.order = next, order
}

// setState moves ds to state s at now.
func (ds *devState) setState(s field.State, now time.Time) {
	if ds.st.State != s {
		ds.st.State, ds.st.Since = s, now
	}
}

// onUplink decodes an uplink with the device's codec and records it. It
// runs on the network server's goroutine.
func (d *Driver) onUplink(u ns.Uplink) {
	d.recMu.Lock()
	defer d.recMu.Unlock()
	now := d.o.Clock.Now()
	d.mu.Lock()
	ds := d.devices[u.Device]
	if ds == nil {
		d.mu.Unlock()
		return // a site change raced the uplink
	}
	ds.st.Requests++
	ds.st.LastPoll, ds.heard = now, now
	vals, err := ds.codec.Decode(u.FPort, u.Payload)
	var readings []field.Reading
	if err != nil {
		ds.st.Errors["codec"]++
		ds.st.LastError = fmt.Sprintf("uplink %d on port %d: %v", u.FCnt, u.FPort, err)
		ds.setState(field.StateDegraded, now)
	} else {
		readings = make([]field.Reading, len(vals))
		for i, v := range vals {
			readings[i] = field.Reading{Device: ds.name, Point: v.Name, Value: field.Number(v.Value), Unit: v.Unit, Quality: field.QualityGood, TS: now}
		}
		ds.good++
		ds.last = readings
		ds.st.LastError = ""
		ds.setState(field.StateOnline, now)
	}
	ds.st.SuccessRate = float64(ds.good) / float64(ds.st.Requests)
	st := ds.st.Clone()
	d.mu.Unlock()
	if err := d.sink.Record(st, readings); err != nil {
		d.log.Error("lora: readings not recorded", "device", st.Device, "err", err)
	}
}

// frameErrors are the verdicts counted against the device a frame proves
// to come from, by the name its status shows.
var frameErrors = map[ns.Result]string{
	ns.ResultMIC:            "mic",
	ns.ResultReplay:         "replay",
	ns.ResultDevNonceReplay: "devnonce_replay",
	ns.ResultStoreError:     "store",
}

// onFrame logs a processed frame and counts its error against its
// device. It runs on the network server's goroutine.
func (d *Driver) onFrame(fr ns.Frame) {
	d.frames.add(fr)
	kind, isErr := frameErrors[fr.Result]
	if !isErr || fr.Device == "" {
		return
	}
	d.mu.Lock()
	if ds := d.devices[fr.Device]; ds != nil {
		ds.st.Errors[kind]++
		ds.st.LastError = fr.Result.String() + ": " + fr.Error
	}
	d.mu.Unlock()
}

// checkSilence applies the silence rule (see the package doc) and records
// each device whose state it changes, with its readings turned stale.
func (d *Driver) checkSilence() {
	d.recMu.Lock()
	defer d.recMu.Unlock()
	now := d.o.Clock.Now()
	type record struct {
		st       field.Status
		readings []field.Reading
	}
	var out []record
	d.mu.Lock()
	for _, name := range d.order {
		ds := d.devices[name]
		from := ds.heard
		if from.IsZero() {
			from = d.started
		}
		silent := now.Sub(from)
		want := ds.st.State
		switch {
		case silent > time.Duration(OfflineAfter*float64(ds.interval)):
			want = field.StateOffline
		case ds.heard.IsZero():
			continue // not heard yet, and not for long
		case silent > time.Duration(DegradedAfter*float64(ds.interval)) && want == field.StateOnline:
			want = field.StateDegraded
		}
		if want == ds.st.State {
			continue
		}
		ds.setState(want, now)
		why := "no uplink since the gateway started"
		if !ds.heard.IsZero() {
			why = fmt.Sprintf("no uplink for %s (expected every %s)", silent.Round(time.Second), ds.interval)
		}
		ds.st.LastError = why
		stale := make([]field.Reading, len(ds.last))
		for i, r := range ds.last {
			r.Quality, r.Error = field.QualityStale, why
			stale[i] = r
		}
		out = append(out, record{ds.st.Clone(), stale})
	}
	d.mu.Unlock()
	for _, r := range out {
		if err := d.sink.Record(r.st, r.readings); err != nil {
			d.log.Error("lora: state not recorded", "device", r.st.Device, "err", err)
		}
	}
}

// Read returns the latest readings of a device (field.Driver): a LoRaWAN
// class A device cannot be asked, it listens only right after it sends.
// Every reading it sent last when points is empty.
func (d *Driver) Read(ctx context.Context, name string, points []string) ([]field.Reading, error) {
	d.mu.Lock()
	_, ok := d.devices[name]
	d.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w %q among the LoRa devices of the site", field.ErrNoDevice, name)
	}
	latest, ok := d.gw.Readings(name)
	if !ok {
		return nil, fmt.Errorf("%w %q in the site", field.ErrNoDevice, name)
	}
	if len(points) == 0 {
		return latest, nil
	}
	out := make([]field.Reading, 0, len(points))
	for _, p := range points {
		i := slices.IndexFunc(latest, func(r field.Reading) bool { return r.Point == p })
		if i < 0 {
			return nil, fmt.Errorf("device %s: %w %q (nothing received for it yet)", name, field.ErrNoPoint, p)
		}
		out = append(out, latest[i])
	}
	return out, nil
}

// Write queues a class A downlink that carries the value (field.Driver),
// when the device's codec defines a downlink for the point. It returns
// once the downlink is queued: the device receives it after its next
// uplink.
func (d *Driver) Write(ctx context.Context, w field.Write) error {
	d.mu.Lock()
	ds := d.devices[w.Device]
	var dl *payload.Downlink
	if ds != nil {
		if i := slices.IndexFunc(ds.downlinks, func(x payload.Downlink) bool { return x.Name == w.Point }); i >= 0 {
			dl = &ds.downlinks[i]
		}
	}
	inst, codec := d.inst, ""
	if ds != nil {
		codec = ds.codecName
	}
	d.mu.Unlock()
	switch {
	case ds == nil:
		return fmt.Errorf("%w %q among the LoRa devices of the site", field.ErrNoDevice, w.Device)
	case dl == nil:
		return fmt.Errorf("%s.%s: %w (codec %s defines no downlink for it)", w.Device, w.Point, field.ErrNotSupported, codec)
	case !w.Value.Valid || w.Value.IsBool:
		return fmt.Errorf("%s.%s: write a number", w.Device, w.Point)
	case w.Priority != 0:
		return fmt.Errorf("write priority: %w (LoRaWAN downlinks have no priority)", field.ErrNotSupported)
	case inst == nil || inst.ns == nil:
		return fmt.Errorf("%s.%s: the LoRa network server is not running (lora disabled, or not in embedded mode)", w.Device, w.Point)
	}
	b, err := dl.Encode(w.Value.Num)
	if err != nil {
		return fmt.Errorf("%s.%s: %w", w.Device, w.Point, err)
	}
	if err := inst.ns.Enqueue(w.Device, dl.FPort, b); err != nil {
		return fmt.Errorf("%s.%s: %w", w.Device, w.Point, err)
	}
	return nil
}
