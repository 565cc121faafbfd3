package sshd

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Heavy exec commands are those whose cost grows with what the client
// sends or that hold a bus or a slot for long: a site file decoded and
// compared, an image streamed and verified, a bus probed unit by unit. A
// few of them at once could take the gateway's memory and both cores, so
// they run one at a time per account and a few at a time in all; the rest
// are refused at once (nothing is read from their input), not queued.
const (
	// maxHeavyPerUser bounds the heavy commands of one account at once.
	maxHeavyPerUser = 1
	// maxHeavyTotal bounds the heavy commands of all accounts at once.
	maxHeavyTotal = 2
)

// heavyCommands are the command words of the heavy exec commands. The
// console's own long operations (a bus scan from the Field tab) are bound
// by their session, not here.
var heavyCommands = [][]string{
	{"config", "diff"},
	{"config", "import"},
	{"firmware", "apply"},
	{"modbus", "scan"},
	{"profile", "import"},
	{"report", "commissioning"},
}

// heavyName returns the command words of args when they name a heavy
// command, or "". Flags may come anywhere (cobra takes them so).
func heavyName(args []string) string {
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
		if len(words) >= len(h) && slices.Equal(words[:len(h)], h) {
			return strings.Join(h, " ")
		}
	}
	return ""
}

// heavyLimiter counts the heavy commands running, per account and in all.
type heavyLimiter struct {
	mu      sync.Mutex
	total   int
	perUser map[string]int
}

func newHeavyLimiter() *heavyLimiter { return &heavyLimiter{perUser: map[string]int{}} }

// acquire takes a slot for a heavy command of account; the error says why
// there is none.
func (h *heavyLimiter) acquire(account, name string) (release func(), err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.perUser[account] >= maxHeavyPerUser:
		return nil, fmt.Errorf("busy: %s waits for your other heavy command (config diff or import, firmware apply, a scan) to finish; they run one at a time per user: try again then", name)
	case h.total >= maxHeavyTotal:
		return nil, fmt.Errorf("busy: %d heavy commands (config diff or import, firmware apply, a scan) are running, the most the gateway runs at once: try %s again in a moment", h.total, name)
	}
	h.perUser[account]++
	h.total++
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.total--
			if h.perUser[account]--; h.perUser[account] == 0 {
				delete(h.perUser, account)
			}
		})
	}, nil
}
