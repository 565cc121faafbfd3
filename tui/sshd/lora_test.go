package sshd

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/cmd"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
)

// The lora commands over a real SSH connection, against the real LoRa
// driver on the gateway's bbolt file and lorasim playing the packet
// forwarder over UDP on loopback.
func TestExecLoRaOverSSH(t *testing.T) {
	e := newEnv(t)
	rig := tuitest.LoRa(t, e.gw, 2)
	clients := sessionsByRole(t, e)
	support := clients[device.RoleSupport]

	r := run(t, support, "lora devices --json", "")
	var devs []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &devs); err != nil || r.code != 0 || len(devs) != 2 {
		t.Fatalf("lora devices --json: %v %+v", err, r)
	}
	if devs[0]["name"] != "lora-1" || devs[0]["join_state"] != "joined" || devs[1]["state"] != "online" {
		t.Errorf("devices %v", devs)
	}
	if r := run(t, support, "lora devices", ""); r.code != 0 || !strings.HasPrefix(r.stdout, "NAME") || !strings.Contains(r.stdout, "lora-2") {
		t.Fatalf("lora devices: %+v", r)
	}
	if r := run(t, support, "points read lora-1 temperature_1 --json", ""); r.code != 0 || !strings.Contains(r.stdout, `"point": "temperature_1"`) || !strings.Contains(r.stdout, `"quality": "good"`) {
		t.Fatalf("points read lora-1 temperature_1: %+v", r)
	}
	if r := run(t, clients[device.RoleViewer], "lora frames", ""); r.code != cmd.ExitForbidden {
		t.Fatalf("viewer: %+v", r)
	}
	if r := run(t, support, "lora scan", ""); r.code != cmd.ExitUnknown {
		t.Fatalf("lora scan: %+v", r)
	}

	// A follower over SSH sees new frames as they come, and its command
	// ends (audited) when the client closes the session.
	s, err := support.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := s.StdoutPipe()
	if err := s.Start("lora frames --follow --json -n 1"); err != nil {
		t.Fatal(err)
	}
	first := rig.Driver.Frames(1)[0].Seq
	sc := bufio.NewScanner(out)
	var last uint64
	for last <= first+3 && sc.Scan() {
		var fr struct {
			Seq uint64 `json:"seq"`
		}
		if err := json.Unmarshal(sc.Bytes(), &fr); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
		if last != 0 && fr.Seq != last+1 {
			t.Fatalf("frame %d after %d", fr.Seq, last)
		}
		last = fr.Seq
	}
	if last <= first+3 {
		t.Fatalf("the follower stopped at frame %d: %v", last, sc.Err())
	}
	s.Close()
	waitFor(t, "lora frames audited once the session closed", func() bool {
		events, _ := e.gw.AuditLog().ListAudit(device.AuditFilter{})
		for _, ev := range events {
			if ev.Action == string(device.ActionCommandExec) && ev.Target == "lora frames" && ev.Result == string(device.ResultOK) {
				return true
			}
		}
		return false
	})
}

// The console's LoRa tab in the real OpenSSH client in a real terminal,
// with the real driver and simulated sensors behind it.
func TestOpenSSHLoRaTab(t *testing.T) {
	needTool(t, "ssh", "tmux")
	e := newEnv(t)
	tuitest.LoRa(t, e.gw, 2)
	e.addUser("sam", device.RoleSupport, userOpt{})

	tm := newTmux(t, 80, 24, sshCommand(e.addr, "sam"))
	tm.waitFor("Password:")
	tm.typeText(testPassword)
	tm.keys("Enter")
	// The same two prompts for every account; support needs no code.
	tm.waitFor("Verification code:")
	tm.keys("Enter")
	tm.waitFor("Dashboard")
	tm.typeText("5")
	screen := tm.waitFor("Concentrator  listening · embedded")
	for _, want := range []string{"5 LoRa", "gateway EUI    " + tuitest.LoRaGatewayEUI, "Devices  2, 2 online"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the LoRa tab lacks %q:\n%s", want, screen)
		}
	}
	tm.waitFor("lora-2")
	tm.typeText("p")
	tm.waitFor("SF12BW125")
	tm.typeText("?")
	tm.waitFor("channel plan")
	tm.typeText("q")
	tm.waitFor("SSH-EXITED")
}
