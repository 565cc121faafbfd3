package wifi

import (
	"errors"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
)

func disabledSite(wifi, lora bool) *device.Site {
	s := device.DefaultSite()
	s.WiFi.PermanentlyDisabled = wifi
	s.LoRa.PermanentlyDisabled = lora
	return s
}

var remoteActors = []device.Actor{
	{ID: "u-admin", Role: "admin"},
	{ID: "u-inst", Role: "installer"},
	device.SystemActor, // cloud sync applies desired configuration as the system
	{ID: "cloud", Role: "cloud"},
	{ID: "local", Role: "admin"}, // only the LocalActor value itself counts
}

func TestCheckRadioChangeRefusesRemoteReEnable(t *testing.T) {
	old := disabledSite(true, true)
	for _, a := range remoteActors {
		err := CheckRadioChange(old, disabledSite(false, true), a)
		if !errors.Is(err, ErrNeedsPhysicalAccess) {
			t.Fatalf("%v re-enabled wifi: %v", a, err)
		}
		const want = "re-enabling Wi-Fi after a permanent disable needs physical access: run `sitegate radio enable wifi --data DIR` on the stopped gateway"
		if err.Error() != want {
			t.Errorf("message %q", err)
		}
		var le *RadioLockoutError
		if !errors.As(err, &le) || le.Radio != RadioWiFi {
			t.Errorf("not a *RadioLockoutError for wifi: %#v", err)
		}
		err = CheckRadioChange(old, disabledSite(false, false), a)
		if err == nil || !strings.Contains(err.Error(), "radio enable wifi") || !strings.Contains(err.Error(), "re-enabling LoRa") {
			t.Errorf("both radios: %v", err)
		}
	}
	if err := CheckRadioChange(old, disabledSite(false, false), device.LocalActor); err != nil {
		t.Errorf("local actor refused: %v", err)
	}
}

func TestCheckRadioChangeAllowsDisablingAndOtherChanges(t *testing.T) {
	for _, a := range remoteActors {
		if err := CheckRadioChange(disabledSite(false, false), disabledSite(true, true), a); err != nil {
			t.Errorf("disabling refused for %v: %v", a, err)
		}
		if err := CheckRadioChange(disabledSite(true, false), disabledSite(true, false), a); err != nil {
			t.Errorf("unrelated change refused: %v", err)
		}
		if err := CheckRadioChange(nil, disabledSite(false, false), a); err != nil {
			t.Errorf("first site refused: %v", err)
		}
	}
}

func TestRadioAuditEvents(t *testing.T) {
	ev := RadioAuditEvents(disabledSite(false, true), disabledSite(true, false))
	if len(ev) != 2 || ev[0].Action != "radio.disable" || ev[0].Target != "wifi" || ev[1].Action != "radio.enable" || ev[1].Target != "lora" {
		t.Fatalf("%+v", ev)
	}
	if ev := RadioAuditEvents(disabledSite(true, true), disabledSite(true, true)); len(ev) != 0 {
		t.Fatalf("no change implies %+v", ev)
	}
}

// Through a real gateway: the guard refuses a remote re-enable (audited as
// denied, nothing stored), lets a remote disable through, and the local
// actor re-enables.
func TestRadioLockoutThroughGateway(t *testing.T) {
	st := storetest.New(t)
	gw, err := device.NewGateway(st, device.GatewayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gw.AddSiteGuard(CheckRadioChange)
	installer := device.Actor{ID: "u-1", Role: "installer"}

	cur, _ := gw.Site()
	next := cur.Clone()
	RadioWiFi.SetPermanentlyDisabled(next, true)
	if _, err := gw.ApplySite(device.Edit{Actor: installer, Action: "config.change", Base: gw.Rev()}, next); err != nil {
		t.Fatalf("remote disable: %v", err)
	}
	if err := AuditRadioChange(gw, installer, cur, next); err != nil {
		t.Fatal(err)
	}

	cur, rev := gw.Site()
	back := cur.Clone()
	RadioWiFi.SetPermanentlyDisabled(back, false)
	if _, err := gw.ApplySite(device.Edit{Actor: installer, Action: "config.change", Base: gw.Rev()}, back); !errors.Is(err, ErrNeedsPhysicalAccess) {
		t.Fatalf("remote re-enable: %v", err)
	}
	if now, r := gw.Site(); !now.WiFi.PermanentlyDisabled || r != rev {
		t.Fatal("a refused change was stored")
	}
	if _, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: "radio.enable", Base: gw.Rev()}, back); err != nil {
		t.Fatalf("local re-enable: %v", err)
	}
	events, err := st.ListAudit(store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, e := range events {
		seen = append(seen, e.Actor+":"+e.Action+":"+e.Result)
	}
	got := strings.Join(seen, " ")
	for _, want := range []string{"u-1:radio.disable:ok", "u-1:config.change:denied", "local:radio.enable:ok"} {
		if !strings.Contains(got, want) {
			t.Errorf("audit lacks %s: %s", want, got)
		}
	}
}

func TestParseRadio(t *testing.T) {
	for _, r := range Radios() {
		if got, err := ParseRadio(string(r)); err != nil || got != r {
			t.Error(r, err)
		}
	}
	if _, err := ParseRadio("bluetooth"); err == nil {
		t.Error("bluetooth parsed")
	}
}
