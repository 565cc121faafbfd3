package sshd

import (
	"slices"
	"strings"
	"time"

	"github.com/sitegate/sitegate/device"
)

// Heavy exec commands are those whose cost grows with what the client
// sends or that hold a bus or a slot for long: a site file decoded and
// compared, an image streamed and verified, a bus probed unit by unit. They
// take turns through the gateway's one limiter (device.Limiter: one per
// account, a few at a time in all, a bounded queue). A command that finds
// no slot waits for one — its input unread, costing nothing but the SSH
// channel's window — for at most heavyWait, so that a client repeating
// commands in a loop is slowed down rather than served refusals as fast as
// it can ask.
const heavyWait = 30 * time.Second

// heavyCommands are the command words of the heavy exec commands and the
// operation each is. The console's own long operations (a bus scan from
// the Field tab) are bound by their session.
var heavyCommands = []struct {
	words []string
	op    device.HeavyOp
}{
	{[]string{"config", "diff"}, device.OpDiff},
	{[]string{"config", "import"}, device.OpImport},
	{[]string{"firmware", "apply"}, device.OpFirmware},
	{[]string{"modbus", "scan"}, device.OpScan},
	{[]string{"bacnet", "discover"}, device.OpScan},
	{[]string{"profile", "import"}, device.OpProfile},
	{[]string{"report", "commissioning"}, device.OpReport},
}

// heavyOp returns the operation of args when they name a heavy command.
// Flags may come anywhere (cobra takes them so).
func heavyOp(args []string) (device.HeavyOp, bool) {
	var words []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			words = append(words, a)
		}
		if len(words) == 2 {
			break
		}
	}
	for _, h := range heavyCommands {
		if len(words) >= len(h.words) && slices.Equal(words[:len(h.words)], h.words) {
			return h.op, true
		}
	}
	return 0, false
}
