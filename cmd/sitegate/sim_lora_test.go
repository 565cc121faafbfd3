package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/lora"
	"github.com/sitegate/sitegate/store/storetest"
)

// `sim lora --print-site` prints a lora section the gateway takes, and
// `sim lora --forwarder` joins those sensors to a gateway running it: their
// readings arrive in the field layer.
func TestSimLoRaAgainstAGateway(t *testing.T) {
	r := sitegate(t, "", "sim", "lora", "--print-site", "--sensors", "2", "--interval", "200ms")
	if r.code != 0 || !strings.Contains(r.stdout, "never use them on a real network") {
		t.Fatalf("--print-site: %+v", r)
	}
	site, err := device.ParseSite([]byte("site: {name: sim test}\n" + r.stdout))
	if err != nil {
		t.Fatalf("the printed section does not import: %v\n%s", err, r.stdout)
	}
	if len(site.LoRa.Devices) != 2 || site.LoRa.Mode != device.LoRaEmbedded || site.LoRa.Devices[1].Interval != device.Duration(10*time.Second) {
		t.Fatalf("%+v", site.LoRa)
	}

	gw, err := device.NewGateway(storetest.New(t), device.GatewayOptions{GatewayID: "gw-sim"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "config.import"}, site); err != nil {
		t.Fatal(err)
	}
	bound := make(chan string, 1)
	drv := lora.NewDriver(gw, lora.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Listen: func(string) (net.PacketConn, error) {
			c, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err == nil {
				bound <- c.LocalAddr().String()
			}
			return c, err
		}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	drvDone := make(chan error, 1)
	go func() { drvDone <- drv.Run(ctx) }()
	defer func() { cancel(); <-drvDone }()
	addr := <-bound

	out := &syncWriter{}
	simDone := make(chan int, 1)
	simCtx, stopSim := context.WithCancel(ctx)
	go func() {
		simDone <- executeContext(simCtx, []string{"sim", "lora", "--forwarder", addr, "--sensors", "2", "--interval", "200ms"}, streams{strings.NewReader(""), out, io.Discard})
	}()
	for _, name := range []string{"lora-1", "lora-2"} {
		devicetest.Eventually(t, 30*time.Second, name+" reporting through the simulator", func() bool {
			rs, _ := gw.Readings(name)
			st, _ := gw.Field().Status(name)
			return len(rs) == 2 && rs[0].Quality == field.QualityGood && st.State == field.StateOnline
		})
	}
	stopSim()
	if code := <-simDone; code != 0 {
		t.Fatalf("sim lora exit %d:\n%s", code, out.String())
	}
	if text := out.String(); !strings.Contains(text, "with 2 sensor(s) sending to "+addr) || !strings.Contains(text, "2 of 2 sensors joined") {
		t.Errorf("output:\n%s", text)
	}
}

func TestSimLoRaUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sim", "lora"}, "--forwarder is required"},
		{[]string{"sim", "lora", "--forwarder", "nowhere"}, "give host:port"},
		{[]string{"sim", "lora", "--forwarder", "127.0.0.1:1700", "--sensors", "0"}, "--sensors 0: give 1..1000"},
		{[]string{"sim", "lora", "--forwarder", "127.0.0.1:1700", "--interval", "1ms"}, "give at least 100ms"},
		{[]string{"sim", "lora", "--forwarder", "127.0.0.1:1700", "--gateway-eui", "xyz"}, `--gateway-eui "xyz"`},
		{[]string{"sim"}, "sim needs a protocol: modbus, bacnet, lora or snmp"},
	} {
		r := sitegate(t, "", tc.args...)
		if r.code != exitUsage || !strings.Contains(r.stder, tc.want) {
			t.Errorf("%v: %+v", tc.args, r)
		}
	}
}
