package format

import (
	"testing"
	"time"
)

func TestAgo(t *testing.T) {
	now := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		ago  time.Duration
		want string
	}{
		{-5 * time.Second, "just now"}, {0, "just now"}, {999 * time.Millisecond, "just now"}, {4 * time.Second, "4s ago"},
		{5*time.Minute + 12*time.Second, "5m12s ago"}, {59*time.Minute + 59*time.Second, "59m59s ago"},
		{3*time.Hour + 7*time.Minute, "3h7m ago"}, {47 * time.Hour, "47h0m ago"}, {50 * time.Hour, "2d ago"},
	} {
		got := Ago(now, now.Add(-c.ago))
		if got != c.want {
			t.Errorf("Ago(%s before) = %q, want %q", c.ago, got, c.want)
		}
		if len(got) > 10 {
			t.Errorf("Ago(%s before) = %q is wider than a table column", c.ago, got)
		}
	}
	if got := Ago(now, time.Time{}); got != "never" {
		t.Errorf("Ago(zero) = %q", got)
	}
}

func TestMHz(t *testing.T) {
	for hz, want := range map[uint32]string{868100000: "868.100 MHz", 869525000: "869.525 MHz", 0: "0.000 MHz", 863000000: "863.000 MHz"} {
		if got := MHz(hz); got != want {
			t.Errorf("MHz(%d) = %q, want %q", hz, got, want)
		}
	}
}
