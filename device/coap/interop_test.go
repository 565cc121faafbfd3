package coap_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	piondtls "github.com/pion/dtls/v3"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/coap"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
)

// coapClient returns libcoap's OpenSSL client (Debian's libcoap3-bin):
// the test skips without it only when CI is unset.
func coapClient(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("coap-client-openssl")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("coap-client-openssl not installed (apt-get install libcoap3-bin)")
		}
		t.Fatalf("coap-client-openssl: %v (CI needs libcoap3-bin)", err)
	}
	return path
}

func (f *fixture) uri(path string) string { return "coaps://" + f.drv.Addr() + path }

// run runs coap-client with args and returns its output.
func runClient(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	return string(out), err
}

// Every suite the server offers works with OpenSSL, each offered alone:
// the pinned set of CipherSuites.
func TestInteropCipherSuites(t *testing.T) {
	bin := coapClient(t)
	for _, suite := range coap.CipherSuites {
		t.Run(suite.String(), func(t *testing.T) {
			f := start(t, testSite(), coap.Options{CipherSuites: []piondtls.CipherSuiteID{suite}})
			out, err := runClient(t, bin, "-m", "post", "-u", "room-7", "-k", key7, "-t", "json", "-B", "5",
				"-e", `{"temperature": 21.5, "firmware": "1.4.2"}`, f.uri(coap.PathReadings))
			if err != nil {
				t.Fatalf("coap-client: %v\n%s", err, out)
			}
			devicetest.Eventually(t, wait, "the reading", func() bool {
				got := f.latest("room-7")
				return got["temperature"].Value == field.Number(21.5) && got["firmware"].Value == field.Text("1.4.2")
			})
		})
	}
}

// coap-client posts CBOR, observes its configuration through a site
// change, and a wrong key or an unknown identity gets nothing in.
func TestInteropCBORObserveAndBadKey(t *testing.T) {
	bin := coapClient(t)
	f := start(t, testSite(), coap.Options{})

	body := filepath.Join(t.TempDir(), "body.cbor")
	if err := os.WriteFile(body, cborEncode([]kv{{"temperature", 19.75}, {"occupied", true}}), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runClient(t, bin, "-m", "post", "-u", "sensor-0008", "-k", key8, "-t", "cbor", "-B", "5", "-f", body, f.uri(coap.PathReadings)); err != nil {
		t.Fatalf("coap-client: %v\n%s", err, out)
	}
	got := f.latest("room-8")
	if got["temperature"].Value != field.Number(19.75) || got["occupied"].Value != field.Boolean(true) {
		t.Fatalf("room-8: %+v", got)
	}

	// Observe for a while; change the settings once the first document
	// arrived.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-m", "get", "-u", "sensor-0008", "-k", key8, "-s", "8", "-B", "10", f.uri(coap.PathConfig))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		// coap-client ends a payload without a newline: read what comes.
		buf := make([]byte, 4096)
		for {
			n, err := stdout.Read(buf)
			mu.Lock()
			lines = append(lines, string(buf[:n]))
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	seen := func(frag string) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			return strings.Contains(strings.Join(lines, ""), frag)
		}
	}
	devicetest.Eventually(t, wait, "the first configuration", seen(`"sample_every":"30s"`))
	f.edit(func(c *device.CoAP) { c.Sensors[1].Settings[0].Value = "5s" })
	devicetest.Eventually(t, wait, func() string {
		mu.Lock()
		defer mu.Unlock()
		return "the notification; coap-client said:\n" + strings.Join(lines, "")
	}, seen(`"sample_every":"5s"`))
	<-done
	_ = cmd.Wait()

	before := f.drv.Health().Counters
	_, _ = runClient(t, bin, "-m", "post", "-u", "room-7", "-k", "k7-not-the-right1", "-t", "json", "-B", "3", "-e", `{"temperature": 99}`, f.uri(coap.PathReadings))
	_, _ = runClient(t, bin, "-m", "post", "-u", "intruder", "-k", key7, "-t", "json", "-B", "3", "-e", `{"temperature": 99}`, f.uri(coap.PathReadings))
	devicetest.Eventually(t, wait, "bad key and unknown identity refused", func() bool {
		h := f.drv.Health().Counters
		return h["bad_key"] > before["bad_key"] && h["unknown_identity"] > before["unknown_identity"]
	})
	if _, ok := f.latest("room-7")["temperature"]; ok {
		t.Fatal("a reading got in with a wrong key")
	}
}
