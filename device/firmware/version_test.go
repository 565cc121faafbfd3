package firmware

import (
	"errors"
	"testing"
)

func TestFirmwareParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Version
		ok   bool
	}{
		{"0.0.0", Version{}, true},
		{"1.4.2", Version{1, 4, 2}, true},
		{"10.20.300", Version{10, 20, 300}, true},
		{"18446744073709551615.0.0", Version{1<<64 - 1, 0, 0}, true},
		{"", Version{}, false},
		{"1.4", Version{}, false},
		{"1.4.2.1", Version{}, false},
		{"v1.4.2", Version{}, false},
		{"1.04.2", Version{}, false},
		{"1.4.2-rc.1", Version{}, false},
		{"1..2", Version{}, false},
		{"1.4. 2", Version{}, false},
		{"-1.4.2", Version{}, false},
		{"18446744073709551616.0.0", Version{}, false},
		{"garbage", Version{}, false},
	} {
		got, err := ParseVersion(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrBadVersion) {
			t.Errorf("ParseVersion(%q): %v is not ErrBadVersion", tc.in, err)
		}
		if err == nil && got.String() != tc.in {
			t.Errorf("%q round-trips to %q", tc.in, got.String())
		}
	}
}

func TestFirmwareVersionCompareIsNumeric(t *testing.T) {
	order := []string{"0.0.0", "0.0.1", "0.1.0", "0.9.9", "0.10.0", "1.0.0", "1.2.9", "1.2.10", "1.10.0", "2.0.0", "10.0.0"}
	for i, a := range order {
		for j, b := range order {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := MustParseVersion(a).Compare(MustParseVersion(b)); got != want {
				t.Errorf("%s vs %s: %d, want %d", a, b, got, want)
			}
		}
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.2.3", "0.0.0", "01.2.3", "1.2", "a.b.c", "99999999999999999999.0.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err == nil && v.String() != s {
			t.Fatalf("%q parsed to %v", s, v)
		}
	})
}
