// Package format writes values for people the same way in the console and
// in exec command output.
//
// # Caveats
//
//   - Sizes use binary units (KiB, MiB, GiB) with one decimal.
package format

import (
	"fmt"
	"strconv"
	"strings"
)

// Bytes shows a size for people.
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Dash shows an empty value as "-".
func Dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

// Count writes n and the noun, in the plural unless n is 1: "1 point",
// "3 points". plural is the noun's plural when adding s is wrong.
func Count(n int, noun string, plural ...string) string {
	if n == 1 {
		return "1 " + noun
	}
	if len(plural) > 0 {
		return strconv.Itoa(n) + " " + plural[0]
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// YesNo writes a flag for people: "yes" or "no".
func YesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
