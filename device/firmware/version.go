package firmware

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a semantic version MAJOR.MINOR.PATCH. Pre-release and build
// suffixes are not supported: an anti-rollback floor needs a total order
// that nobody can argue about.
type Version struct {
	Major, Minor, Patch uint64
}

// ParseVersion parses "MAJOR.MINOR.PATCH": three decimal numbers without
// signs, spaces or leading zeros ("1.04.0" is refused, as semver says).
func ParseVersion(s string) (Version, error) {
	bad := func(why string) (Version, error) {
		return Version{}, fmt.Errorf("%w %q: %s; write MAJOR.MINOR.PATCH, e.g. 1.4.2", ErrBadVersion, s, why)
	}
	if s == "" {
		return bad("empty")
	}
	if len(s) > 64 {
		return Version{}, fmt.Errorf("%w: %d characters is too long for MAJOR.MINOR.PATCH", ErrBadVersion, len(s))
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return bad(fmt.Sprintf("%d part(s) instead of 3", len(parts)))
	}
	var n [3]uint64
	for i, p := range parts {
		if p == "" {
			return bad("a part is empty")
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return bad(fmt.Sprintf("%q is not a number (pre-release and build suffixes are not supported)", p))
			}
		}
		if len(p) > 1 && p[0] == '0' {
			return bad(fmt.Sprintf("%q has a leading zero", p))
		}
		v, err := strconv.ParseUint(p, 10, 64)
		if err != nil {
			return bad(fmt.Sprintf("%q is too large", p))
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

// MustParseVersion is ParseVersion for constants; it panics on an error.
func MustParseVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

// String returns "MAJOR.MINOR.PATCH".
func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Compare returns -1, 0 or +1 as v is lower than, equal to or higher than w.
func (v Version) Compare(w Version) int {
	for _, d := range [][2]uint64{{v.Major, w.Major}, {v.Minor, w.Minor}, {v.Patch, w.Patch}} {
		switch {
		case d[0] < d[1]:
			return -1
		case d[0] > d[1]:
			return 1
		}
	}
	return 0
}

// Less reports whether v is lower than w.
func (v Version) Less(w Version) bool { return v.Compare(w) < 0 }
