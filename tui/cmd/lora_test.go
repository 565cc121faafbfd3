package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/lora"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
)

// lora devices and lora frames against the real driver, its packet
// forwarder server on loopback and lorasim playing the forwarder; points
// read reads the sensors' Cayenne LPP readings like any other device's.
func TestLoRaDevicesFramesAndPoints(t *testing.T) {
	f := newFixture(t)
	tuitest.LoRa(t, f.gw, 2)
	ctx := t.Context()

	r := f.run(ctx, device.RoleSupport, "lora devices --json", "")
	var devs []map[string]any
	if err := json.Unmarshal([]byte(r.out), &devs); err != nil || r.code != ExitOK || len(devs) != 2 {
		t.Fatalf("lora devices --json: %v %+v", err, r)
	}
	for key, want := range map[string]any{"name": "lora-1", "join_state": "joined", "state": "online", "activation": "otaa", "codec": "cayenne-lpp", "class": "A"} {
		if devs[0][key] != want {
			t.Errorf("lora-1's %s = %v, want %v", key, devs[0][key], want)
		}
	}
	for _, key := range []string{"dev_eui", "dev_addr", "rssi", "snr", "last_fcnt", "fcnt_up", "last_uplink", "uplinks"} {
		if _, ok := devs[0][key]; !ok {
			t.Errorf("lora-1 lacks %s: %v", key, devs[0])
		}
	}
	// Keys are secrets: never printed, whatever the field is called.
	site, _ := f.gw.Site()
	for _, d := range site.LoRa.Devices {
		if strings.Contains(r.out, d.AppKey.Reveal()) {
			t.Fatalf("lora devices --json shows %s's AppKey", d.Name)
		}
	}

	r = f.run(ctx, device.RoleSupport, "lora devices", "")
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	if r.code != ExitOK || len(lines) != 3 || strings.Join(strings.Fields(lines[0]), " ") != "NAME STATE JOIN DEVADDR LAST-UPLINK RSSI SNR FCNT CODEC" {
		t.Fatalf("lora devices: %+v", r)
	}
	if row := strings.Fields(lines[1]); row[0] != "lora-1" || row[1] != "online" || row[2] != "joined" || row[3] != devs[0]["dev_addr"] || row[len(row)-1] != "cayenne-lpp" {
		t.Errorf("lora-1's row: %q", lines[1])
	}

	r = f.run(ctx, device.RoleSupport, "lora frames --json", "")
	var frames []frameJSON
	if err := json.Unmarshal([]byte(r.out), &frames); err != nil || r.code != ExitOK || len(frames) < 4 {
		t.Fatalf("lora frames --json: %v %+v", err, r)
	}
	joined := map[string]bool{}
	for i, fr := range frames {
		if i > 0 && fr.Seq <= frames[i-1].Seq {
			t.Fatalf("frames out of order: %d after %d", fr.Seq, frames[i-1].Seq)
		}
		if fr.MType == "JoinRequest" && fr.Result == "joined" && fr.Downlink {
			joined[fr.Device] = true
		}
	}
	if !joined["lora-1"] || !joined["lora-2"] {
		t.Errorf("the join requests are not among the frames: %+v", frames)
	}
	var raw []map[string]any
	_ = json.Unmarshal([]byte(r.out), &raw)
	for _, key := range []string{"seq", "time", "gateway", "mtype", "device", "dev_addr", "fcnt", "fport", "rssi", "snr", "frequency_hz", "data_rate", "result"} {
		if _, ok := raw[len(raw)-1][key]; !ok {
			t.Errorf("frame JSON lacks %s: %v", key, raw[len(raw)-1])
		}
	}
	if r := f.run(ctx, device.RoleSupport, "lora frames -n 3 --json", ""); json.Unmarshal([]byte(r.out), &frames) != nil || len(frames) != 3 {
		t.Fatalf("lora frames -n 3: %+v", r)
	}
	r = f.run(ctx, device.RoleSupport, "lora frames -n 2", "")
	lines = strings.Split(strings.TrimSpace(r.out), "\n")
	if r.code != ExitOK || len(lines) != 3 || !strings.HasPrefix(lines[0], "SEQ ") || !strings.Contains(lines[2], "UnconfirmedDataUp") ||
		!strings.Contains(lines[2], "868.") || !strings.Contains(lines[2], "SF7BW125") {
		t.Fatalf("lora frames -n 2: %+v", r)
	}

	r = f.run(ctx, device.RoleSupport, "points read lora-1 --json", "")
	var rs []map[string]any
	if err := json.Unmarshal([]byte(r.out), &rs); err != nil || r.code != ExitOK {
		t.Fatalf("points read lora-1 --json: %v %+v", err, r)
	}
	got := map[string]map[string]any{}
	for _, x := range rs {
		got[x["point"].(string)] = x
	}
	if temp := got["temperature_1"]; temp == nil || temp["quality"] != "good" || temp["unit"] != "degC" || temp["device"] != "lora-1" {
		t.Errorf("temperature_1: %v (all: %v)", temp, rs)
	}
	if _, ok := got["humidity_2"]; !ok {
		t.Errorf("no humidity_2: %v", rs)
	}
	if r := f.run(ctx, device.RoleSupport, "points read lora-2 temperature_1", ""); r.code != ExitOK || !strings.Contains(r.out, "temperature_1") || strings.Contains(r.out, "humidity_2") {
		t.Errorf("points read lora-2 temperature_1: %+v", r)
	}
}

// start runs line as role on a goroutine of its own, its output into a
// pipe the test reads (closed when the command ends), its exit status on
// the channel; stderr may be read once that has arrived.
func (f *fixture) start(ctx context.Context, role device.Role, line string) (*io.PipeReader, *strings.Builder, <-chan int) {
	pr, pw := io.Pipe()
	errb := &strings.Builder{}
	done := make(chan int, 1)
	go func() {
		deps := Deps{Gateway: f.gw, Access: f.acc, Limits: Limits{MaxArgs: 64, MaxArgBytes: 4096}}
		done <- Run(ctx, deps, Session{Principal: access.Principal{Account: f.users[role]}, Args: strings.Fields(line),
			In: strings.NewReader(""), Out: pw, Err: errb})
		pw.Close()
	}()
	return pr, errb, done
}

// frameJSON is what a test reads of a frame's JSON.
type frameJSON struct {
	Seq      uint64 `json:"seq"`
	MType    string `json:"mtype"`
	Device   string `json:"device"`
	Result   string `json:"result"`
	Downlink bool   `json:"downlink"`
}

// The lora commands are support+, and mistakes get the usual statuses.
func TestLoRaCommandMistakesAndRoles(t *testing.T) {
	f := newFixture(t)
	tuitest.LoRa(t, f.gw, 1)
	ctx := t.Context()
	for _, c := range []struct {
		role device.Role
		line string
		code int
		says string
	}{
		{device.RoleViewer, "lora devices", ExitForbidden, "not allowed"},
		{device.RoleViewer, "lora frames --follow", ExitForbidden, "not allowed"},
		{device.RoleSupport, "lora frobnicate", ExitUnknown, `unknown command "frobnicate" for lora`},
		{device.RoleSupport, "lora", ExitUsage, "usage: ssh <gateway> lora devices|frames"},
		{device.RoleSupport, "lora devices lora-1", ExitUsage, "usage: ssh <gateway> lora devices [--json]"},
		{device.RoleSupport, "lora devices --frob", ExitUsage, "usage: ssh <gateway> lora devices [--json]"},
		{device.RoleSupport, "lora frames -n 1001", ExitUsage, "usage: ssh <gateway> lora frames [--follow] [--json] [-n N]"},
		{device.RoleSupport, "lora frames -n many", ExitUsage, "usage: ssh <gateway> lora frames"},
	} {
		r := f.run(ctx, c.role, c.line, "")
		if r.code != c.code || !strings.Contains(r.err, c.says) {
			t.Errorf("%q as %s: exit %d, stderr %q; want %d and %q", c.line, c.role, r.code, r.err, c.code, c.says)
		}
	}
	if r := f.run(ctx, device.RoleSupport, "help", ""); !strings.Contains(r.out, "lora devices [--json]") || !strings.Contains(r.out, "lora frames [--follow]") {
		t.Errorf("support's help lacks the lora commands:\n%s", r.out)
	}
	if r := f.run(ctx, device.RoleViewer, "help", ""); strings.Contains(r.out, "lora") {
		t.Errorf("viewer's help lists the lora commands:\n%s", r.out)
	}
}

// Without a driver, with LoRa off and in forward mode the commands say
// why there is nothing to show, and what to do.
func TestLoRaNotRunning(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	for _, line := range []string{"lora devices", "lora frames --json", "lora frames --follow"} {
		if r := f.run(ctx, device.RoleSupport, line, ""); r.code != ExitFailure || !strings.Contains(r.err, "LoRa is not running: set lora.enabled: true and mode: embedded, or see `health`") {
			t.Errorf("%s without a driver: %+v", line, r)
		}
	}
	rig := tuitest.LoRa(t, f.gw, 1)
	edit := func(fn func(l *device.LoRa)) {
		t.Helper()
		if _, err := f.gw.EditSite(device.LocalActor, device.ActionConfigChange, func(s *device.Site) error { fn(&s.LoRa); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	edit(func(l *device.LoRa) { l.Enabled = false })
	devicetest.Eventually(t, tuitest.Wait, "the packet forwarder server off", func() bool { return rig.Driver.Concentrator().State == lora.ServerOff })
	if r := f.run(ctx, device.RoleSupport, "lora devices --json", ""); r.code != ExitFailure || !strings.Contains(r.err, "LoRa is not running") || r.out != "" {
		t.Errorf("lora devices with LoRa off: %+v", r)
	}
	remote, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()
	edit(func(l *device.LoRa) {
		l.Enabled, l.Mode, l.NetworkServer = true, device.LoRaForward, remote.LocalAddr().String()
	})
	devicetest.Eventually(t, tuitest.Wait, "forward mode", func() bool {
		c := rig.Driver.Concentrator()
		return c.State == lora.ServerListening && c.Mode == "forward"
	})
	if r := f.run(ctx, device.RoleSupport, "lora frames", ""); r.code != ExitFailure || !strings.Contains(r.err, "forward mode") || !strings.Contains(r.err, "mode: embedded") {
		t.Errorf("lora frames in forward mode: %+v", r)
	}
}

// lora frames --follow prints what is kept, then every new frame once, in
// order; it ends with the session, and with a failure when the driver
// stops.
func TestLoRaFramesFollow(t *testing.T) {
	f := newFixture(t)
	rig := tuitest.LoRa(t, f.gw, 2)
	kept := rig.Driver.Frames(0)
	lastKept := kept[len(kept)-1].Seq

	ctx, cancel := context.WithCancel(t.Context())
	pr, errb, done := f.start(ctx, device.RoleSupport, "lora frames --follow --json")
	sc := bufio.NewScanner(pr)
	var seqs []uint64
	for sc.Scan() {
		var fr frameJSON
		if err := json.Unmarshal(sc.Bytes(), &fr); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		seqs = append(seqs, fr.Seq)
		if fr.Seq > lastKept+5 {
			break
		}
	}
	if len(seqs) == 0 || seqs[0] != kept[0].Seq {
		t.Fatalf("the follower did not start with the frames kept: %v (kept from %d)", seqs, kept[0].Seq)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			t.Fatalf("frames repeated or skipped without a word: %v", seqs)
		}
	}
	cancel()
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if code := <-done; code != ExitOK {
		t.Fatalf("follower ended by its session: exit %d, %s", code, errb.String())
	}

	// A follower that outlives the driver ends, saying why.
	pr2, errs, done := f.start(t.Context(), device.RoleSupport, "lora frames --follow -n 1")
	sc = bufio.NewScanner(pr2)
	for i := 0; i < 3 && sc.Scan(); i++ { // the header, the frame kept, a new one
	}
	rig.StopDriver()
	go func() { _, _ = io.Copy(io.Discard, pr2) }()
	if code := <-done; code != ExitFailure || !strings.Contains(errs.String(), "the LoRa driver stopped") {
		t.Fatalf("follower after the driver stopped: exit %d, %q", code, errs.String())
	}
}

// A follower that falls more than its buffer behind (its client reads
// nothing for a while) loses frames and says how many, on stderr.
func TestLoRaFramesFollowReportsMissedFrames(t *testing.T) {
	f := newFixture(t)
	rig := tuitest.LoRa(t, f.gw, 12) // about 80 frames a second
	start := rig.Driver.Frames(1)[0].Seq

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, errb, done := f.start(ctx, device.RoleSupport, "lora frames --follow --json -n 1")
	// Read nothing while several buffers' worth of frames go by.
	devicetest.Eventually(t, tuitest.Wait, "frames going by", func() bool {
		fr := rig.Driver.Frames(1)
		return fr[0].Seq > start+4*loraFollowBuffer
	})
	sc := bufio.NewScanner(pr)
	var last uint64
	gap := false
	for !gap && sc.Scan() {
		var fr frameJSON
		if err := json.Unmarshal(sc.Bytes(), &fr); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
		if fr.Seq <= last {
			t.Fatalf("frame %d after %d", fr.Seq, last)
		}
		gap = last != 0 && fr.Seq > last+1
		last = fr.Seq
	}
	cancel()
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if code := <-done; code != ExitOK || !gap || !strings.Contains(errb.String(), "(missed ") {
		t.Fatalf("exit %d, a gap: %v, stderr %q", code, gap, errb.String())
	}
}
