package main

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// DefaultMemoryLimit is the Go runtime's soft memory limit that `sitegate
// run` sets unless told otherwise: it keeps a gateway under attack below
// 256 MiB of RSS with room for what is not Go heap. The budgets it is sized
// from: about 40 MiB at rest, two argon2id login hashes of 64 MiB each, and
// one heavy operation at a time (device.Limiter), the largest plausible
// site file costing about 145 MiB to import. Above the limit the collector runs
// harder and returns freed memory to the system; it is soft, so live data
// beyond it is not refused.
const DefaultMemoryLimit = 224 << 20

// memoryLimit is the --memory-limit flag: a size as GOMEMLIMIT writes it
// (a number of bytes with an optional B, KiB, MiB, GiB or TiB suffix), or
// "off". It remembers whether it was given, so that a GOMEMLIMIT in the
// environment wins over the default but not over the flag.
type memoryLimit struct {
	bytes int64 // math.MaxInt64: off
	set   bool
}

func (m *memoryLimit) Set(s string) error {
	v, err := parseMemoryLimit(s)
	if err != nil {
		return err
	}
	m.bytes, m.set = v, true
	return nil
}

func (m *memoryLimit) String() string {
	if m.bytes == 0 && !m.set {
		return formatSize(DefaultMemoryLimit)
	}
	return formatSize(m.bytes)
}

func (m *memoryLimit) Type() string { return "size" }

// parseMemoryLimit reads a size in GOMEMLIMIT's syntax, or "off".
func parseMemoryLimit(s string) (int64, error) {
	if s == "off" {
		return math.MaxInt64, nil
	}
	num, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a memory size: write e.g. 224MiB or 1GiB (or off)", s)
	}
	if n*mult < 32<<20 {
		return 0, fmt.Errorf("%q is below 32MiB: the gateway could not work in that", s)
	}
	return n * mult, nil
}

func formatSize(n int64) string {
	switch {
	case n == math.MaxInt64:
		return "off"
	case n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dB", n)
}

// applyMemoryLimit sets the runtime's memory limit: the flag when given,
// else GOMEMLIMIT from the environment (the runtime read it at start),
// else DefaultMemoryLimit. It returns the limit and where it came from.
func applyMemoryLimit(m memoryLimit) (int64, string) {
	switch {
	case m.set:
		debug.SetMemoryLimit(m.bytes)
		return m.bytes, "--memory-limit"
	case os.Getenv("GOMEMLIMIT") != "":
		return debug.SetMemoryLimit(-1), "GOMEMLIMIT"
	}
	debug.SetMemoryLimit(DefaultMemoryLimit)
	return DefaultMemoryLimit, "default"
}
