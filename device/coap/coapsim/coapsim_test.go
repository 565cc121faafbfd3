package coapsim_test

import (
	"context"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/coap"
	"github.com/sitegate/sitegate/device/coap/coapsim"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/store/storetest"
)

// The simulated sensors post to the real driver and their readings move.
func TestSensorsPostToTheDriver(t *testing.T) {
	gw, err := device.NewGateway(storetest.New(t), device.GatewayOptions{GatewayID: "gw-test"})
	if err != nil {
		t.Fatal(err)
	}
	site, rev := gw.Site()
	site.CoAP = device.CoAP{Listen: "127.0.0.1:5684", Sensors: []device.CoAPSensor{
		{Name: "a", Identity: "a", Key: "demo-key-a-000000"}, {Name: "b", Identity: "b", Key: "demo-key-b-000000"}}}
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigChange, Base: rev}, site); err != nil {
		t.Fatal(err)
	}
	drv := coap.NewDriver(gw, coap.Options{Bind: func(string) string { return "127.0.0.1:0" }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 2)
	go func() { done <- drv.Run(ctx) }()
	devicetest.Eventually(t, 10*time.Second, "the server listening", func() bool { return drv.Addr() != "" })
	go func() {
		done <- coapsim.Run(ctx, coapsim.Config{Server: drv.Addr(), Sensors: []coapsim.Sensor{
			{Name: "a", Identity: "a", Key: []byte("demo-key-a-000000"), Interval: 100 * time.Millisecond},
			{Name: "b", Identity: "b", Key: []byte("demo-key-b-000000"), Interval: 100 * time.Millisecond}}})
	}()
	devicetest.Eventually(t, 10*time.Second, "both sensors online with several readings", func() bool {
		ss := drv.Sensors()
		return len(ss) == 2 && ss[0].Bodies >= 3 && ss[1].Bodies >= 3 && ss[0].State == field.StateOnline
	})
	cancel()
	for range 2 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	if v := coapsim.Values(0, 0); v["temperature"] != 21.0 || v["humidity"] != 50.0 {
		t.Errorf("values %v", v)
	}
}
