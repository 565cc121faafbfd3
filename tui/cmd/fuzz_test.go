package cmd

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/internal/tuitest"
)

// FuzzExecArgs feeds arbitrary command lines to the exec command parser and
// runner. Property: no panic, an exit status of the contract, and no
// control character echoed back raw.
func FuzzExecArgs(f *testing.F) {
	for _, seed := range []string{"whoami", "whoami --json", "health --json", "logs --audit -n 5", "config export --json",
		"config diff", "config import", "frobnicate", "logs -n -1", "whoami --json=maybe", "config", "help", "--help", "logs --follow=false",
		"lora devices --json", "lora frames -n 3", "lora frames --follow --json", "lora frames -n 1001", "lora nope"} {
		f.Add(seed)
	}
	fx := newFixture(f)
	tuitest.LoRa(f, fx.gw, 1) // the lora commands with a driver and frames to show
	f.Fuzz(func(t *testing.T, line string) {
		// --follow waits for events until the session ends: end it soon.
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		r := fx.run(ctx, device.RoleAdmin, line, "site: {name: x}\n")
		code := r.code
		switch code {
		case ExitOK, ExitFailure, ExitUsage, ExitForbidden, ExitUnknown:
		default:
			t.Fatalf("%q: exit status %d outside the contract", line, code)
		}
		if strings.ContainsAny(r.err, "\x1b\x07") {
			t.Fatalf("%q: control characters echoed: %q", line, r.err)
		}
	})
}
