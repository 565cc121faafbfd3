package device

import (
	"math"
	"strconv"
	"strings"

	"github.com/sitegate/sitegate/device/field"
)

// FormatValue writes a value for people with digits significant digits
// (0: field.DefaultPrecision), the way the console, text outputs and
// reports show readings: 230.1 rather than 230.1234567, 12346 rather than
// 1.235e+04 (an integer part is never cut), no trailing zeros, and
// scientific notation only for magnitudes below 1e-6 or from 1e15. A value
// without a value is "". JSON outputs carry full precision instead.
func FormatValue(v field.Value, digits int) string {
	switch {
	case !v.Valid:
		return ""
	case v.IsBool:
		return strconv.FormatBool(v.Bool)
	case v.IsText:
		return v.Text
	}
	if digits <= 0 {
		digits = field.DefaultPrecision
	}
	x := v.Num
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		return strconv.FormatFloat(x, 'g', -1, 64)
	case x == 0:
		return "0"
	}
	mag := int(math.Floor(math.Log10(math.Abs(x))))
	if mag >= 15 || mag < -6 {
		return strconv.FormatFloat(x, 'g', digits, 64)
	}
	decimals := digits - 1 - mag
	if decimals <= 0 {
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	s := strconv.FormatFloat(x, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		return "0"
	}
	return s
}
