package telemetry

import (
	"fmt"
	"math"
	"math/bits"
)

// writeSeq writes integers: the first against ref, length-prefixed; then
// a 1 bit when all are equal, else a 0 bit and the others as deltas or
// deltas of deltas (1 bit says which) in exponential-Golomb codes of one
// order k (6 bits), the pair that takes the fewest bits. Arithmetic wraps,
// so any int64s round-trip.
func writeSeq(w *bitWriter, v []int64, ref int64) {
	w.lenPrefixed(zigzag(int64(uint64(v[0]) - uint64(ref))))
	if len(v) < 2 {
		return
	}
	constant := true
	for _, x := range v[1:] {
		if x != v[0] {
			constant = false
			break
		}
	}
	w.bit(constant) // a status code, a setpoint, a stale value
	if constant {
		return
	}
	dod, k := bestSeqCode(v)
	w.bit(dod)
	w.bits(uint64(k), 6)
	var prevD int64
	for i := 1; i < len(v); i++ {
		d := int64(uint64(v[i]) - uint64(v[i-1]))
		if dod {
			w.expGolomb(zigzag(int64(uint64(d)-uint64(prevD))), k)
		} else {
			w.expGolomb(zigzag(d), k)
		}
		prevD = d
	}
}

// bestSeqCode tries both residuals with every order up to the largest
// residual's length and returns the shortest.
func bestSeqCode(v []int64) (dod bool, k uint) {
	best := math.MaxInt
	for _, mode := range [2]bool{false, true} {
		maxLen := 0
		var prevD int64
		for i := 1; i < len(v); i++ {
			d := int64(uint64(v[i]) - uint64(v[i-1]))
			u := zigzag(d)
			if mode {
				u = zigzag(int64(uint64(d) - uint64(prevD)))
			}
			maxLen = max(maxLen, bits.Len64(u))
			prevD = d
		}
		for kk := uint(0); kk <= uint(min(maxLen, 63)); kk++ {
			cost := 0
			prevD = 0
			for i := 1; i < len(v) && cost < best; i++ {
				d := int64(uint64(v[i]) - uint64(v[i-1]))
				u := zigzag(d)
				if mode {
					u = zigzag(int64(uint64(d) - uint64(prevD)))
				}
				cost += expGolombLen(u, kk)
				prevD = d
			}
			if cost < best {
				best, dod, k = cost, mode, kk
			}
		}
	}
	return dod, k
}

func readSeq(r *bitReader, v []int64, ref int64) error {
	u, err := r.lenPrefixed("first value")
	if err != nil {
		return err
	}
	v[0] = int64(uint64(ref) + uint64(unzigzag(u)))
	if len(v) < 2 {
		return nil
	}
	constant, err := r.bit("constant")
	if err != nil {
		return err
	}
	if constant {
		for i := range v {
			v[i] = v[0]
		}
		return nil
	}
	dod, err := r.bit("delta mode")
	if err != nil {
		return err
	}
	k, err := r.bits(6, "code order")
	if err != nil {
		return err
	}
	var d int64
	for i := 1; i < len(v); i++ {
		u, err := r.expGolomb(uint(k), "delta")
		if err != nil {
			return err
		}
		if dod {
			d = int64(uint64(d) + uint64(unzigzag(u)))
		} else {
			d = unzigzag(u)
		}
		v[i] = int64(uint64(v[i-1]) + uint64(d))
	}
	return nil
}

// writeXOR is Gorilla's float compression on width bits: the first value
// raw, then each XOR with the one before as a 0 bit when equal, else its
// meaningful bits inside the previous window of leading and trailing zeros
// ("10"), or in a new window ("11" + 5 bits of leading zeros + 6 (64) or 5
// (32) bits of length), whichever is shorter.
func writeXOR(w *bitWriter, v []uint64, width uint) {
	w.bits(v[0], width)
	lenBits := xorLenBits(width)
	prevLead, prevTrail := uint(0), uint(0)
	window := false
	for i := 1; i < len(v); i++ {
		x := v[i] ^ v[i-1]
		if x == 0 {
			w.bits(0, 1)
			continue
		}
		lead, trail := zeros(x, width)
		lead = min(lead, 31)
		sig := width - lead - trail
		if window && lead >= prevLead && trail >= prevTrail && width-prevLead-prevTrail <= sig+5+lenBits {
			w.bits(0b10, 2)
			w.bits(x>>prevTrail, width-prevLead-prevTrail)
			continue
		}
		w.bits(0b11, 2)
		w.bits(uint64(lead), 5)
		w.bits(uint64(sig), lenBits) // width itself is written as 0
		w.bits(x>>trail, sig)
		prevLead, prevTrail, window = lead, trail, true
	}
}

// xorLenBits is the width of a window's length field: enough for 1..width,
// width written as 0.
func xorLenBits(width uint) uint {
	if width == 32 {
		return 5
	}
	return 6
}

func readXOR(r *bitReader, v []uint64, width uint) error {
	var err error
	if v[0], err = r.bits(width, "first value"); err != nil {
		return err
	}
	lenBits := xorLenBits(width)
	prevLead, prevTrail := uint(0), uint(0)
	window := false
	for i := 1; i < len(v); i++ {
		same, err := r.bit("xor")
		if err != nil {
			return err
		}
		if !same {
			v[i] = v[i-1]
			continue
		}
		fresh, err := r.bit("xor window")
		if err != nil {
			return err
		}
		if fresh {
			lead, err := r.bits(5, "leading zeros")
			if err != nil {
				return err
			}
			sig, err := r.bits(lenBits, "length")
			if err != nil {
				return err
			}
			if sig == 0 {
				sig = uint64(width)
			}
			if lead+sig > uint64(width) {
				return fmt.Errorf("value %d: %d leading zeros and %d bits exceed %d: %w", i, lead, sig, width, ErrCorrupt)
			}
			prevLead, prevTrail, window = uint(lead), width-uint(lead)-uint(sig), true
		} else if !window {
			return fmt.Errorf("value %d: reuses a window before any: %w", i, ErrCorrupt)
		}
		bits, err := r.bits(width-prevLead-prevTrail, "xor bits")
		if err != nil {
			return err
		}
		if bits == 0 {
			return fmt.Errorf("value %d: an XOR of zero written as a change: %w", i, ErrCorrupt)
		}
		v[i] = v[i-1] ^ bits<<prevTrail
	}
	return nil
}
