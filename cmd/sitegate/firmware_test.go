package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device/firmware"
	"github.com/sitegate/sitegate/store"
)

// fwRun runs a command line in-process like sitegate(), registering the
// firmware command when root.go does not (yet).
func fwRun(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	for _, c := range newRoot(streams{}).Commands() {
		if c.Name() == "firmware" {
			return sitegate(t, stdin, args...)
		}
	}
	var out, errb bytes.Buffer
	s := streams{strings.NewReader(stdin), &out, &errb}
	root := newRoot(s)
	root.AddCommand(newFirmwareCmd(s))
	root.SetArgs(args)
	code := exitOK
	if cmd, err := root.ExecuteContextC(context.Background()); err != nil {
		code = exitFailure
		if isUsage(err) {
			code = exitUsage
			fmt.Fprintf(&errb, "sitegate: %v\nUsage: %s\n", err, cmd.UseLine())
		} else {
			fmt.Fprintf(&errb, "sitegate: %v\n", err)
		}
	}
	return result{code, out.String(), errb.String()}
}

// vendor is a key pair and a signer made through the command line.
type vendor struct {
	t      *testing.T
	dir    string
	prefix string
}

func newVendor(t *testing.T) *vendor {
	t.Helper()
	dir := t.TempDir()
	v := &vendor{t, dir, filepath.Join(dir, "vendor")}
	r := fwRun(t, "", "firmware", "keygen", "--out", v.prefix)
	if r.code != 0 || !strings.Contains(r.stdout, "key id ") {
		t.Fatalf("keygen: %+v", r)
	}
	return v
}

// sign writes a payload of n bytes and signs it; it returns the image path.
func (v *vendor) sign(version, min, hardware string, n int) string {
	v.t.Helper()
	payload := filepath.Join(v.dir, "payload-"+version+".bin")
	if err := os.WriteFile(payload, bytes.Repeat([]byte(version), n/len(version)+1)[:n], 0o644); err != nil {
		v.t.Fatal(err)
	}
	out := filepath.Join(v.dir, "fw-"+version+"-"+hardware+".sgfw")
	r := fwRun(v.t, "", "firmware", "sign", "--key", v.prefix+".key", "--version", version, "--min-version", min, "--hardware", hardware, payload, "-o", out)
	if r.code != 0 || !strings.Contains(r.stdout, "signed ") {
		v.t.Fatalf("sign: %+v", r)
	}
	return out
}

func auditActions(t *testing.T, dir string) []map[string]any {
	t.Helper()
	r := sitegate(t, "", "audit", "list", "--data", dir, "--json")
	var events []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &events); err != nil {
		t.Fatalf("audit list: %v %+v", err, r)
	}
	var out []map[string]any
	for _, e := range events {
		if strings.HasPrefix(e["action"].(string), "firmware.") {
			out = append(out, e)
		}
	}
	return out
}

func TestFirmwareKeygenSignVerifyTrustApplyBoot(t *testing.T) {
	v := newVendor(t)
	assertMode(t, v.prefix+".key", 0o600)
	img := v.sign("1.2.0", "1.1.0", "sitegate", 3<<20)

	r := fwRun(t, "", "firmware", "verify", "--pub", v.prefix+".pub", img)
	if r.code != 0 || !strings.Contains(r.stdout, "valid firmware image: version 1.2.0 (min_version 1.1.0) for hardware sitegate, 3145728 bytes") {
		t.Fatalf("verify: %+v", r)
	}

	data := t.TempDir()
	r = fwRun(t, "", "firmware", "trust", "--data", data, v.prefix+".pub")
	if r.code != 0 || !strings.Contains(r.stdout, "now installs only firmware signed by key") {
		t.Fatalf("trust: %+v", r)
	}
	r = fwRun(t, "", "firmware", "apply", "--data", data, img)
	if r.code != 0 || !strings.Contains(r.stdout, "version 1.2.0 written to slot-a and pending (running 0.0.0)") {
		t.Fatalf("apply: %+v", r)
	}
	if !strings.Contains(r.stder, "writing slot-a: 100% (3.0 of 3.0 MiB)") {
		t.Errorf("no progress on stderr: %q", r.stder)
	}
	r = fwRun(t, "", "firmware", "status", "--data", data, "--json")
	var st firmware.Status
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.Pending != firmware.SlotA || st.Slots[firmware.SlotA].Version != "1.2.0" {
		t.Fatalf("status: %v %+v", err, r)
	}
	assertMode(t, filepath.Join(data, firmware.DirName), 0o700)

	// The next start, as `sitegate run` does it: Boot verifies and commits.
	s, err := store.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	m, err := openFirmware(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := m.Boot()
	s.Close()
	if err != nil || !rep.Committed || rep.Version != "1.2.0" {
		t.Fatalf("boot: %+v %v", rep, err)
	}
	r = fwRun(t, "", "firmware", "status", "--data", data)
	for _, want := range []string{"running              1.2.0", "anti-rollback floor  1.1.0", "slot-a               1.2.0 committed"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, r.stdout)
		}
	}

	// An image from standard input goes to the other slot.
	next, _ := os.ReadFile(v.sign("1.3.0", "1.1.0", "sitegate", 1000))
	if r := fwRun(t, string(next), "firmware", "apply", "--data", data, "-"); r.code != 0 || !strings.Contains(r.stdout, "written to slot-b") {
		t.Fatalf("apply from stdin: %+v", r)
	}

	events := auditActions(t, data)
	var got []string
	for _, e := range events {
		got = append(got, fmt.Sprintf("%s %s %s", e["action"], e["actor"], e["result"]))
	}
	want := []string{"firmware.trust local ok", "firmware.apply local ok", "firmware.apply system ok", "firmware.apply local ok"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("audit:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFirmwareVerifyNamesWhatIsWrong(t *testing.T) {
	v := newVendor(t)
	other := newVendor(t)
	img := v.sign("2.0.0", "1.0.0", "sitegate", 100000)
	raw, _ := os.ReadFile(img)
	write := func(name string, b []byte) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	payloadFlip := bytes.Clone(raw)
	payloadFlip[len(payloadFlip)-1] ^= 1
	manifestFlip := bytes.Replace(raw, []byte(`"version":"2.0.0"`), []byte(`"version":"3.0.0"`), 1)
	for _, tc := range []struct {
		name, file, pub string
		want            []string
	}{
		{"tampered payload", write("p.sgfw", payloadFlip), v.prefix + ".pub", []string{"payload does not match", "altered after it was signed"}},
		{"tampered manifest", write("m.sgfw", manifestFlip), v.prefix + ".pub", []string{"signature does not verify", "altered after it was signed"}},
		{"wrong key", img, other.prefix + ".pub", []string{"signed by another key", "not signed by the trusted vendor key"}},
		{"truncated", write("t.sgfw", raw[:len(raw)-10]), v.prefix + ".pub", []string{"truncated", "copy or download it again"}},
		{"not an image", v.prefix + ".pub", v.prefix + ".pub", []string{"not a sitegate firmware image"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := fwRun(t, "", "firmware", "verify", "--pub", tc.pub, tc.file)
			if r.code != exitFailure {
				t.Fatalf("exit %d: %+v", r.code, r)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stder, w) {
					t.Errorf("stderr %q lacks %q", r.stder, w)
				}
			}
			if strings.Count(strings.TrimSpace(r.stder), "\n") != 0 {
				t.Errorf("not one line: %q", r.stder)
			}
		})
	}
}

func TestFirmwareApplyRefusalsAreAudited(t *testing.T) {
	v := newVendor(t)
	data := t.TempDir()
	img := v.sign("1.0.0", "1.0.0", "sitegate", 5000)
	r := fwRun(t, "", "firmware", "apply", "--data", data, img)
	if r.code != exitFailure || !strings.Contains(r.stder, "no vendor key is trusted") || !strings.Contains(r.stder, "sitegate firmware trust") {
		t.Fatalf("untrusted: %+v", r)
	}
	if r := fwRun(t, "", "firmware", "trust", "--data", data, v.prefix+".pub"); r.code != 0 {
		t.Fatal(r)
	}
	r = fwRun(t, "", "firmware", "apply", "--data", data, v.sign("1.0.0", "1.0.0", "sitegate-pro", 5000))
	if r.code != exitFailure || !strings.Contains(r.stder, `the image is for "sitegate-pro", this gateway is "sitegate"`) {
		t.Fatalf("wrong hardware: %+v", r)
	}
	// Commit 1.0.0 (floor 1.0.0), then a downgrade is refused.
	if r := fwRun(t, "", "firmware", "apply", "--data", data, img); r.code != 0 {
		t.Fatal(r)
	}
	s, err := store.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	m, err := openFirmware(s, nil)
	if err == nil {
		_, err = m.Boot()
	}
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	r = fwRun(t, "", "firmware", "apply", "--data", data, v.sign("0.9.0", "0.0.0", "sitegate", 5000))
	if r.code != exitFailure || !strings.Contains(r.stder, "version 0.9.0 is below the floor 1.0.0") {
		t.Fatalf("downgrade: %+v", r)
	}
	var rejects []string
	for _, e := range auditActions(t, data) {
		if e["action"] == "firmware.reject" {
			rejects = append(rejects, fmt.Sprint(e["result"], " ", e["detail"]))
		}
	}
	if len(rejects) != 3 || !strings.Contains(rejects[0], "denied no vendor key") || !strings.Contains(rejects[1], "other hardware") || !strings.Contains(rejects[2], "below the anti-rollback floor") {
		t.Errorf("reject events:\n%s", strings.Join(rejects, "\n"))
	}
}

func TestFirmwareUsageErrors(t *testing.T) {
	v := newVendor(t)
	payload := filepath.Join(v.dir, "p.bin")
	if err := os.WriteFile(payload, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	key := v.prefix + ".key"
	for _, args := range [][]string{
		{"firmware"},
		{"firmware", "keygen"},
		{"firmware", "sign", "--key", key, "--version", "1.0.0", "--min-version", "1.0.0", payload},
		{"firmware", "sign", "--key", key, "--version", "1.0", "--min-version", "1.0.0", payload, "-o", "x"},
		{"firmware", "sign", "--key", key, "--version", "1.0.0", "--min-version", "latest", payload, "-o", "x"},
		{"firmware", "sign", "--key", key, "--version", "1.0.0", "--min-version", "2.0.0", payload, "-o", "x"},
		{"firmware", "sign", "--key", key, "--version", "1.0.0", payload, "-o", "x"},
		{"firmware", "sign", "--key", key, "--version", "1.0.0", "--min-version", "1.0.0", payload, "-o", payload},
		{"firmware", "verify", "x.sgfw"},
		{"firmware", "verify", "--pub", "p", "a", "b"},
		{"firmware", "trust", "--data", t.TempDir()},
		{"firmware", "apply", "x.sgfw"},
		{"firmware", "apply", "--data", t.TempDir()},
	} {
		r := fwRun(t, "", args...)
		if r.code != exitUsage || !strings.Contains(r.stder, "Usage: ") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 with the usage line", args, r.code, r.stder)
		}
	}
}

func TestFirmwareKeygenNeverOverwrites(t *testing.T) {
	v := newVendor(t)
	before, _ := os.ReadFile(v.prefix + ".key")
	r := fwRun(t, "", "firmware", "keygen", "--out", v.prefix)
	if r.code != exitFailure || !strings.Contains(r.stder, "already exists") {
		t.Fatalf("%+v", r)
	}
	if after, _ := os.ReadFile(v.prefix + ".key"); !bytes.Equal(before, after) {
		t.Fatal("the private key changed")
	}
	// A private key others can read is refused when signing.
	if err := os.Chmod(v.prefix+".key", 0o644); err != nil {
		t.Fatal(err)
	}
	payload := filepath.Join(v.dir, "p.bin")
	_ = os.WriteFile(payload, []byte("x"), 0o644)
	r = fwRun(t, "", "firmware", "sign", "--key", v.prefix+".key", "--version", "1.0.0", "--min-version", "0.0.0", payload, "-o", filepath.Join(v.dir, "out"))
	if r.code != exitFailure || !strings.Contains(r.stder, "chmod 600") {
		t.Fatalf("loose key: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(v.dir, "out")); err == nil {
		t.Error("an image was written")
	}
}

// Offline commands refuse a data directory a running gateway holds.
func TestFirmwareApplyRefusesRunningGateway(t *testing.T) {
	v := newVendor(t)
	data := t.TempDir()
	s, err := store.Open(data) // stands in for the running daemon's lock
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := fwRun(t, "", "firmware", "apply", "--data", data, v.sign("1.0.0", "0.0.0", "sitegate", 10))
	if r.code != exitFailure || !strings.Contains(r.stder, "in use by a running gateway") {
		t.Fatalf("%+v", r)
	}
}
