package sim

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/modbus"
)

func TestProfilesBuild(t *testing.T) {
	for _, name := range device.ProfileNames() {
		m, err := ProfileModel(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if m.Name() != name {
			t.Errorf("%s: model named %q", name, m.Name())
		}
	}
	if _, err := ProfileModel("no-such-profile"); err == nil || !strings.Contains(err.Error(), "generic-vsd") {
		t.Errorf("unknown profile: %v, want an error listing the known ones", err)
	}
}

// The motions look like the devices they stand for, at any time.
func TestPlausibleValues(t *testing.T) {
	clk := newClock()
	meter := mustProfile(t, "generic-energy-meter", clk)
	vsd := mustProfile(t, "generic-vsd", clk)
	th := mustProfile(t, "generic-temp-humidity", clk)
	within := func(m *Model, name string, lo, hi float64) {
		t.Helper()
		v, ok := m.Value(name)
		if !ok || v < lo || v > hi {
			t.Errorf("at %s %s = %v, want %v..%v", clk.Now().Sub(t0), name, v, lo, hi)
		}
	}
	lastEnergy, lastHours := 0.0, 0.0
	for step := range 50 {
		within(meter, "voltage_l1", 225, 235)
		within(meter, "frequency", 49.8, 50.2)
		within(meter, "current_l2", 8, 16)
		within(meter, "power_factor_total", 0.9, 1)
		within(th, "temperature", 19, 23)
		within(th, "humidity", 35, 55)
		within(vsd, "speed_setpoint", 0, 100)
		within(vsd, "dc_bus_voltage", 530, 550)
		within(vsd, "fault_code", 0, 0)
		e, _ := meter.Value("energy_import")
		h, _ := vsd.Value("run_hours")
		if step > 0 && (e <= lastEnergy || h <= lastHours) {
			t.Errorf("at %s counters went from %v, %v to %v, %v; want increasing", clk.Now().Sub(t0), lastEnergy, lastHours, e, h)
		}
		lastEnergy, lastHours = e, h
		clk.Advance(7 * time.Second)
	}
	// The integer and float views of the same energy counter agree.
	f, _ := meter.Value("energy_import")
	i, _ := meter.Value("energy_import_counter")
	if d := f - i; d < -0.02 || d > 0.02 {
		t.Errorf("energy_import %v and energy_import_counter %v disagree", f, i)
	}
}

func TestBoolsToggle(t *testing.T) {
	clk := newClock()
	m := DefaultModel(WithClock(clk.Now))
	seen := map[float64]bool{}
	for range 40 {
		v, _ := m.Value("co3")
		seen[v] = true
		clk.Advance(5 * time.Second)
	}
	if !seen[0] || !seen[1] {
		t.Errorf("co3 took values %v over 200 s, want both 0 and 1", seen)
	}
}

// Values depend on the clock only: two models on the same clock agree,
// whenever they were built.
func TestDeterministic(t *testing.T) {
	clk := newClock()
	a := DefaultModel(WithClock(clk.Now))
	clk.Advance(time.Hour)
	b := DefaultModel(WithClock(clk.Now), WithEpoch(t0))
	for _, table := range []device.RegisterTable{device.TableHolding, device.TableInput} {
		wa, _ := a.ReadRegisters(table, 0, DefaultSize)
		wb, _ := b.ReadRegisters(table, 0, DefaultSize)
		if !slices.Equal(wa, wb) {
			t.Errorf("%s: models on one clock differ", table)
		}
	}
}

func TestCounterWraps(t *testing.T) {
	clk := newClock()
	m, err := NewModel([]device.Point{{Name: "pulse_count", Table: device.TableInput, Address: 0, Type: device.TypeUint16, Unit: "count"}}, WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance((65536 - 1000 + 5) * time.Second) // base 1000, one per second
	if v, _ := m.Value("pulse_count"); v != 5 {
		t.Errorf("pulse_count = %v after wrapping, want 5", v)
	}
}

func TestEncodingFollowsPoint(t *testing.T) {
	clk := newClock()
	scale := 0.1
	p := device.Point{Name: "supply_temp", Table: device.TableHolding, Address: 10, Type: device.TypeInt32, Order: device.OrderDCBA, ScaleFactor: &scale, Offset: -40, Unit: "degC"}
	m, err := NewModel([]device.Point{p}, WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	w, err := m.ReadRegisters(device.TableHolding, 10, 2)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := m.Value("supply_temp")
	raw, _ := modbus.DecodeRegisters(w, device.TypeInt32, device.OrderDCBA)
	if got := p.Apply(raw); got != want || want < 18 || want > 24 {
		t.Errorf("decoded %v from %04X, model says %v (want about 21)", got, w, want)
	}
	// raw = (value - offset) / scale, so 21 degC is about 610 tenths.
	if raw < 580 || raw > 640 {
		t.Errorf("raw %v, want (21+40)/0.1 ≈ 610", raw)
	}
}

func TestExistence(t *testing.T) {
	clk := newClock()
	dense := mustProfile(t, "generic-energy-meter", clk)
	sparse := mustProfile(t, "generic-energy-meter", clk, Sparse())

	// A gap between points exists on a dense device and reads as zeros.
	w, err := dense.ReadRegisters(device.TableInput, 12, 40)
	if err != nil || slices.ContainsFunc(w, func(x uint16) bool { return x != 0 }) {
		t.Errorf("dense gap 12..51 = %v, %v; want zeros", w, err)
	}
	if _, err := sparse.ReadRegisters(device.TableInput, 12, 1); !errors.Is(err, IllegalDataAddress) {
		t.Errorf("sparse gap: %v, want exception 2", err)
	}
	if _, err := sparse.ReadRegisters(device.TableInput, 0, 12); err != nil {
		t.Errorf("sparse points 0..11: %v", err)
	}
	// Beyond the last point, and in tables the device does not have.
	for _, c := range []struct {
		table      device.RegisterTable
		addr, qty  uint16
		bits       bool
		wantExcept Exception
	}{
		{device.TableInput, 76, 1, false, IllegalDataAddress},
		{device.TableInput, 70, 10, false, IllegalDataAddress},
		{device.TableHolding, 0, 1, false, IllegalDataAddress},
		{device.TableHolding, 255, 2, false, IllegalDataAddress},
		{device.TableCoil, 0, 1, true, IllegalDataAddress},
		{device.TableDiscrete, 0, 1, true, IllegalDataAddress},
	} {
		var err error
		if c.bits {
			_, err = dense.ReadBits(c.table, c.addr, c.qty)
		} else {
			_, err = dense.ReadRegisters(c.table, c.addr, c.qty)
		}
		if !errors.Is(err, c.wantExcept) {
			t.Errorf("read %s %d+%d: %v, want %v", c.table, c.addr, c.qty, err, c.wantExcept)
		}
	}
}

func TestWritesHeld(t *testing.T) {
	clk := newClock()
	vsd := mustProfile(t, "generic-vsd", clk)
	if err := vsd.WriteRegisters(0, []uint16{2500}); err != nil {
		t.Fatal(err)
	}
	if err := vsd.WriteCoils(0, []bool{true}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		clk.Advance(13 * time.Second)
		if v, _ := vsd.Value("speed_setpoint"); v != 25 {
			t.Fatalf("speed_setpoint = %v, want the written 25", v)
		}
		if v, _ := vsd.Value("running"); v != 1 {
			t.Fatalf("running = %v, want the written 1", v)
		}
	}
	// Read-only points, and registers of no point, refuse writes and stay
	// unchanged.
	meter := mustProfile(t, "generic-energy-meter", clk)
	before, _ := meter.ReadRegisters(device.TableHolding, 256, 2)
	if err := meter.WriteRegisters(256, []uint16{1, 2}); !errors.Is(err, IllegalDataAddress) {
		t.Errorf("write read-only energy_import_counter: %v, want exception 2", err)
	}
	if after, _ := meter.ReadRegisters(device.TableHolding, 256, 2); !slices.Equal(before, after) {
		t.Errorf("refused write changed %04X to %04X", before, after)
	}
	if err := vsd.WriteCoils(0, []bool{true, true}); !errors.Is(err, IllegalDataAddress) {
		t.Errorf("write coils 0..1 (1 has no point): %v, want exception 2", err)
	}

	// Writing one word of a two-word point holds the other at its value at
	// the time of the write.
	scale := 1.0
	m, _ := NewModel([]device.Point{{Name: "limit", Table: device.TableHolding, Address: 0, Type: device.TypeUint32, ScaleFactor: &scale, Writable: true}}, WithClock(clk.Now))
	w, _ := m.ReadRegisters(device.TableHolding, 0, 2)
	if err := m.WriteRegisters(1, []uint16{0xBEEF}); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	got, _ := m.ReadRegisters(device.TableHolding, 0, 2)
	if want := []uint16{w[0], 0xBEEF}; !slices.Equal(got, want) {
		t.Errorf("after writing word 1: %04X, want %04X", got, want)
	}
	m.Release()
	clk.Advance(time.Second)
	if got, _ := m.ReadRegisters(device.TableHolding, 0, 2); got[1] == 0xBEEF {
		t.Errorf("Release kept the written word")
	}
}

func TestNewModelRefuses(t *testing.T) {
	cases := map[string][]device.Point{
		"overlap": {
			{Name: "a", Table: device.TableHolding, Address: 0, Type: device.TypeFloat32},
			{Name: "b", Table: device.TableHolding, Address: 1, Type: device.TypeUint16},
		},
		"bool on holding": {{Name: "a", Table: device.TableHolding, Address: 0, Type: device.TypeBool}},
		"number on coil":  {{Name: "a", Table: device.TableCoil, Address: 0, Type: device.TypeUint16}},
		"no table":        {{Name: "a", Address: 0, Type: device.TypeUint16}},
		"no type":         {{Name: "a", Table: device.TableInput, Address: 0}},
		"past the end":    {{Name: "a", Table: device.TableInput, Address: 65535, Type: device.TypeUint32}},
		"same name": {
			{Name: "a", Table: device.TableInput, Address: 0, Type: device.TypeUint16},
			{Name: "a", Table: device.TableInput, Address: 1, Type: device.TypeUint16},
		},
	}
	for name, pts := range cases {
		if _, err := NewModel(pts); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestExceptionText(t *testing.T) {
	if got := IllegalDataAddress.Error(); got != "exception 2: illegal data address" {
		t.Errorf("got %q", got)
	}
	if got := Exception(9).Error(); got != "exception 9: unknown exception" {
		t.Errorf("got %q", got)
	}
}
