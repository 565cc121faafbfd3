package telemetry

import "math"

// Compact forms of a float64, each exact by construction: an encoder uses
// one only after checking that the decoder's formula gives back the very
// same bits, and falls back to the raw 64 bits otherwise.

// narrow32 returns the binary32 bits of f when widening them gives f back
// exactly. Finite values and infinities use the IEEE conversion (exact
// whenever the value is representable, so the check is a round trip). NaN
// is mapped by hand, sign and payload shifted by 29 bits, so that a NaN
// payload survives on every platform rather than depending on how the
// hardware converts signalling NaNs.
func narrow32(f float64) (uint32, bool) {
	b := math.Float64bits(f)
	if f != f { // NaN
		if b&(1<<29-1) != 0 {
			return 0, false // payload bits a binary32 cannot hold
		}
		m := uint32(b>>29) & (1<<23 - 1)
		if m == 0 {
			return 0, false // would read back as an infinity
		}
		return uint32(b>>63)<<31 | 0xFF<<23 | m, true
	}
	g := float32(f)
	if math.Float64bits(float64(g)) != b {
		return 0, false
	}
	return math.Float32bits(g), true
}

// widen32 is narrow32's inverse.
func widen32(u uint32) float64 {
	if u&(0xFF<<23) == 0xFF<<23 && u&(1<<23-1) != 0 { // NaN
		return math.Float64frombits(uint64(u>>31)<<63 | 0x7FF<<52 | uint64(u&(1<<23-1))<<29)
	}
	return float64(math.Float32frombits(u))
}

// Decimal codes: a number is m·10^-p for an integer m. Two formulas, since
// the field layer computes raw·scale (213 × 0.1 = 21.300000000000001) and a
// human decimal is m / 10^p (213 / 10 = 21.3), and the two differ in the
// last bit for many values:
//
//	decDiv p: float64(m) / 1e p     (p = 0 is a plain integer)
//	decMul p: float64(m) * 1e-p     (1e-p the float64 nearest 10^-p)
//
// Both are one correctly rounded IEEE operation on exact operands (|m| ≤
// 2^53, 10^p exact for p ≤ 22), so every platform decodes the same bits.
const (
	maxDecimals   = 15 // the largest p the formats carry (4 bits)
	searchDecimal = 6  // the largest p encoders try: scales of 1e-6 and coarser
	maxExactInt   = 1 << 53
)

var pow10 = [maxDecimals + 1]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}
var negPow10 = [maxDecimals + 1]float64{1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13, 1e-14, 1e-15}

// decimal is a decimal code: mul selects the formula, p the power.
type decimal struct {
	mul bool
	p   uint8
}

func (d decimal) value(m int64) float64 {
	if d.mul {
		return float64(m) * negPow10[d.p]
	}
	return float64(m) / pow10[d.p]
}

// mantissa returns m with d.value(m) bit-identical to f.
func (d decimal) mantissa(f float64) (int64, bool) {
	var t float64
	if d.mul {
		t = f / negPow10[d.p]
	} else {
		t = f * pow10[d.p]
	}
	if !(t > -maxExactInt && t < maxExactInt) { // also false for NaN
		return 0, false
	}
	m := int64(math.Round(t))
	if math.Float64bits(d.value(m)) != math.Float64bits(f) {
		return 0, false
	}
	return m, true
}

// smallestDecimal returns the decimal code with the fewest decimals that
// represents f exactly (division first), up to searchDecimal.
func smallestDecimal(f float64) (decimal, int64, bool) {
	if math.IsInf(f, 0) || f != f {
		return decimal{}, 0, false
	}
	for p := uint8(0); p <= searchDecimal; p++ {
		d := decimal{p: p}
		if m, ok := d.mantissa(f); ok {
			return d, m, true
		}
		if p == 0 {
			continue
		}
		d.mul = true
		if m, ok := d.mantissa(f); ok {
			return d, m, true
		}
	}
	return decimal{}, 0, false
}

// zigzag maps signed to unsigned so that small magnitudes are small.
func zigzag(v int64) uint64 { return uint64(v<<1) ^ uint64(v>>63) }

func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }
