package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/access"
)

// FuzzExecArgs feeds arbitrary command lines to the exec command parser and
// runner. Property: no panic, an exit status of the contract, and no
// control character echoed back raw.
func FuzzExecArgs(f *testing.F) {
	for _, seed := range []string{"whoami", "whoami --json", "health --json", "logs --audit -n 5", "config export --json",
		"config diff", "config import", "frobnicate", "logs -n -1", "whoami --json=maybe", "config", "help", "--help", "logs --follow=false"} {
		f.Add(seed)
	}
	e := newEnv(f)
	a := e.addUser("fuzz", device.RoleAdmin, userOpt{keyOnly: true, key: newSigner(f)})
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		var out, errb strings.Builder
		// --follow waits for events until the session ends: end it soon.
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		code := e.srv.execArgs(access.Principal{Account: a.Account}, args, strings.NewReader("site: {name: x}\n"), &out, &errb, ctx)
		switch code {
		case exitOK, exitFailure, exitUsage, exitForbidden, exitUnknown:
		default:
			t.Fatalf("%q: exit status %d outside the contract", line, code)
		}
		if strings.ContainsAny(errb.String(), "\x1b\x07") {
			t.Fatalf("%q: control characters echoed: %q", line, errb.String())
		}
	})
}
