//go:build linux

package sim

import (
	"context"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
)

// mbpoll is a second, independent Modbus master (libmodbus), so the
// simulator is checked against more than the client it was written with.
// Debian packages it; CI installs it, so there a missing mbpoll fails.
func mbpollPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("mbpoll")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("mbpoll is not installed (apt-get install mbpoll); CI needs it")
		}
		t.Skip("mbpoll is not installed (apt-get install mbpoll)")
	}
	return path
}

func runMbpoll(t *testing.T, path string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("mbpoll %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// mbpollValues parses mbpoll's "[ref]: value" lines.
func mbpollValues(t *testing.T, out string) map[int]string {
	t.Helper()
	vals := map[int]string{}
	for _, m := range regexp.MustCompile(`(?m)^\[(\d+)\]:\s+(\S+)`).FindAllStringSubmatch(out, -1) {
		ref, _ := strconv.Atoi(m[1])
		vals[ref] = m[2]
	}
	if len(vals) == 0 {
		t.Fatalf("no values in mbpoll output:\n%s", out)
	}
	return vals
}

func TestMbpollTCP(t *testing.T) {
	mbpoll := mbpollPath(t)
	clk := newClock()
	meter := mustProfile(t, "generic-energy-meter", clk)
	def := DefaultModel(WithClock(clk.Now))
	_, addr := startTCP(t, map[uint8]*Model{1: meter}, def)
	host, port, _ := net.SplitHostPort(addr)

	// Holding registers 0..9 of the default map (-0: 0-based references).
	out := runMbpoll(t, mbpoll, "-m", "tcp", "-p", port, "-a", "2", "-0", "-r", "0", "-c", "10", "-t", "4", "-1", host)
	vals := mbpollValues(t, out)
	for a := range 10 {
		want, _ := def.Value("hr" + strconv.Itoa(a))
		// mbpoll prints 16-bit registers signed.
		if got := vals[a]; got != strconv.Itoa(int(int16(uint16(want)))) {
			t.Errorf("holding %d: mbpoll says %s, model %v\n%s", a, got, want, out)
		}
	}

	// The meter's voltage as a big-endian float in the input table.
	out = runMbpoll(t, mbpoll, "-m", "tcp", "-p", port, "-a", "1", "-0", "-r", "0", "-c", "1", "-t", "3:float", "-B", "-1", host)
	got, err := strconv.ParseFloat(mbpollValues(t, out)[0], 64)
	want, _ := meter.Value("voltage_l1")
	if err != nil || got < want-0.001 || got > want+0.001 {
		t.Errorf("voltage_l1: mbpoll says %v, model %v\n%s", got, want, out)
	}

	// A write, read back through the model.
	runMbpoll(t, mbpoll, "-m", "tcp", "-p", port, "-a", "2", "-0", "-r", "42", "-t", "4", host, "4242")
	if v, _ := def.Value("hr42"); v != 4242 {
		t.Errorf("hr42 = %v after mbpoll wrote 4242", v)
	}
}

func TestMbpollRTU(t *testing.T) {
	mbpoll := mbpollPath(t)
	clk := newClock()
	vsd := mustProfile(t, "generic-vsd", clk)
	_, p := startRTU(t, map[uint8]*Model{2: vsd}, DefaultModel(WithClock(clk.Now)), Line{})

	out := runMbpoll(t, mbpoll, "-m", "rtu", "-b", "19200", "-P", "none", "-a", "2", "-0", "-r", "0", "-c", "3", "-t", "3", "-1", p.Path)
	vals := mbpollValues(t, out)
	for i, name := range []string{"output_frequency", "motor_current", "dc_bus_voltage"} {
		w, _ := vsd.ReadRegisters(device.TableInput, uint16(i), 1)
		if got := vals[i]; got != strconv.Itoa(int(int16(w[0]))) {
			t.Errorf("%s: mbpoll says %s, model %d\n%s", name, got, w[0], out)
		}
	}

	// mbpoll -u identifies a device with function 17 (report server ID).
	out = runMbpoll(t, mbpoll, "-m", "rtu", "-b", "19200", "-P", "none", "-a", "2", "-u", p.Path)
	for _, want := range []string{"sitegate", "generic-vsd"} {
		if !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(out) {
			t.Errorf("mbpoll -u output lacks %q:\n%s", want, out)
		}
	}
}
