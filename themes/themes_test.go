package themes

import "testing"

func TestResolve(t *testing.T) {
	cases := []struct {
		choice string
		dark   bool
		want   string
	}{
		{"", true, Dark}, {"", false, Light}, {Auto, false, Light},
		{HighContrast, false, HighContrast}, {Light, true, Light}, {"neon", true, Dark},
	}
	for _, c := range cases {
		if got := Resolve(c.choice, c.dark); got != c.want {
			t.Errorf("Resolve(%q, %v) = %q, want %q", c.choice, c.dark, got, c.want)
		}
	}
}

func TestEveryThemeIsComplete(t *testing.T) {
	for _, n := range Names() {
		s := Get(n)
		if s.Name != n || s.Palette.Fg == nil || s.Palette.Error == nil || s.Palette.SelectedBg == nil {
			t.Errorf("theme %s is incomplete: %+v", n, s.Palette)
		}
		if !Valid(n) {
			t.Errorf("theme %s not valid", n)
		}
	}
	if len(Names()) != 3 || !Valid(Auto) || Valid("neon") {
		t.Errorf("names %v", Names())
	}
}
