package sshd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Heavy exec commands are those whose cost grows with what the client
// sends or that hold a bus or a slot for long: a site file decoded and
// compared, an image streamed and verified, a bus probed unit by unit. A
// few of them at once could take the gateway's memory and both cores, so
// they run one at a time per account and a few at a time in all. A command
// that finds no slot waits for one (its input unread, costing nothing but
// the SSH channel's window), in a bounded queue and for a bounded time, so
// that a client repeating refused commands in a loop is slowed down rather
// than served refusals as fast as it can ask.
const (
	// maxHeavyPerUser bounds the heavy commands of one account at once.
	maxHeavyPerUser = 1
	// maxHeavyTotal bounds the heavy commands of all accounts at once.
	maxHeavyTotal = 2
	// maxHeavyWaiting bounds the heavy commands waiting for a slot, in
	// all; beyond it they are refused at once.
	maxHeavyWaiting = 16
	// heavyWait is how long a heavy command waits for a slot before it is
	// refused.
	heavyWait = 30 * time.Second
)

// errHeavyBusy: a heavy command found no slot within heavyWait, or the
// queue was full.
var errHeavyBusy = errors.New("busy")

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

// heavyLimiter counts the heavy commands running, per account and in all,
// and those waiting.
type heavyLimiter struct {
	wait       time.Duration // heavyWait
	maxWaiting int           // maxHeavyWaiting

	mu      sync.Mutex
	total   int
	waiting int
	perUser map[string]int
	freed   chan struct{} // closed (and replaced) when a slot is freed
}

func newHeavyLimiter() *heavyLimiter {
	return &heavyLimiter{wait: heavyWait, maxWaiting: maxHeavyWaiting, perUser: map[string]int{}, freed: make(chan struct{})}
}

// acquire takes a slot for the heavy command name of account, waiting up
// to heavyWait (or until ctx ends) for one. The error says why there is
// none.
func (h *heavyLimiter) acquire(ctx context.Context, account, name string) (release func(), err error) {
	timer := time.NewTimer(h.wait)
	defer timer.Stop()
	h.mu.Lock()
	queued := false
	defer func() {
		if queued {
			h.waiting--
		}
		h.mu.Unlock()
	}()
	for {
		if h.perUser[account] < maxHeavyPerUser && h.total < maxHeavyTotal {
			h.perUser[account]++
			h.total++
			return h.releaser(account), nil
		}
		if !queued {
			if h.waiting >= h.maxWaiting {
				return nil, h.busy(account, name, fmt.Sprintf("%d heavy commands are waiting already", h.waiting))
			}
			h.waiting++
			queued = true
		}
		freed := h.freed
		h.mu.Unlock()
		select {
		case <-freed:
			h.mu.Lock()
		case <-timer.C:
			h.mu.Lock()
			return nil, h.busy(account, name, fmt.Sprintf("no slot came free within %s", h.wait))
		case <-ctx.Done():
			h.mu.Lock()
			return nil, ctx.Err()
		}
	}
}

// busy explains a refusal; called with h.mu held.
func (h *heavyLimiter) busy(account, name, why string) error {
	whose := fmt.Sprintf("the gateway runs at most %d at once", maxHeavyTotal)
	if h.perUser[account] >= maxHeavyPerUser {
		whose = "you have one running, and they run one at a time per user"
	}
	return fmt.Errorf("%w: %s refused: %s; heavy commands (config diff or import, firmware apply, a scan) take turns and %s: try again later", errHeavyBusy, name, why, whose)
}

func (h *heavyLimiter) releaser(account string) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.total--
			if h.perUser[account]--; h.perUser[account] == 0 {
				delete(h.perUser, account)
			}
			close(h.freed)
			h.freed = make(chan struct{})
		})
	}
}
