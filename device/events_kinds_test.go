package device_test

import (
	"testing"

	"github.com/sitegate/sitegate/device"
)

// A subscription to some kinds hears only those; its Missed counts only
// those.
func TestSubscribeToKinds(t *testing.T) {
	gw, _ := newGateway(t)
	site := gw.SubscribeTo(1, device.EventSite)
	defer site.Close()
	all := gw.Subscribe(8)
	defer all.Close()
	for range 5 {
		gw.Publish(device.Event{Kind: device.EventReadings, Device: "d"})
	}
	gw.Publish(device.Event{Kind: device.EventSite, Rev: 7})
	if ev := <-site.C(); ev.Kind != device.EventSite || ev.Rev != 7 || site.Missed() != 0 {
		t.Fatalf("site subscription got %+v, missed %d", ev, site.Missed())
	}
	if len(all.C()) != 6 {
		t.Fatalf("the unfiltered subscription holds %d events, want 6", len(all.C()))
	}
}
