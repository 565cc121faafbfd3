package textdiff

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestUnified(t *testing.T) {
	a := "site:\n  name: A\naccess:\n  idle_timeout: 15m\nclock:\n  timezone: UTC\n"
	b := "site:\n  name: B\naccess:\n  idle_timeout: 15m\nclock:\n  timezone: UTC\n  extra: 1\n"
	got := Unified("current", "proposed", a, b, 1)
	want := "--- current\n+++ proposed\n@@ -1,3 +1,3 @@\n site:\n-  name: A\n+  name: B\n access:\n@@ -6,1 +6,2 @@\n   timezone: UTC\n+  extra: 1\n"
	if got != want {
		t.Fatalf("diff:\n%s\nwant:\n%s", got, want)
	}
	if Unified("a", "b", a, a, 3) != "" {
		t.Fatal("equal texts gave a diff")
	}
}

// Applying the edit script to a must give b, and the script must be no
// longer than the trivial one, for random inputs.
func TestDiffLinesRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"a", "b", "c", "d"}
	for i := 0; i < 500; i++ {
		gen := func() []string {
			out := make([]string, r.IntN(12))
			for j := range out {
				out[j] = words[r.IntN(len(words))]
			}
			return out
		}
		a, b := gen(), gen()
		var ra, rb []string
		for _, op := range diffLines(a, b) {
			if op.Kind != '+' {
				ra = append(ra, op.Line)
			}
			if op.Kind != '-' {
				rb = append(rb, op.Line)
			}
		}
		if strings.Join(ra, ",") != strings.Join(a, ",") || strings.Join(rb, ",") != strings.Join(b, ",") {
			t.Fatalf("diff of %v and %v does not reproduce them", a, b)
		}
	}
}
