package lorawan

import (
	"errors"
	"fmt"
	"math"
)

// ReconstructFCnt returns the 32-bit frame counter whose low 16 bits are
// wire and which is the smallest not below next, the next counter the
// session expects: a wire value below next's low bits means the 16 bits
// rolled over. ok is false when that counter would not fit in 32 bits.
func ReconstructFCnt(next uint32, wire uint16) (fcnt uint32, ok bool) {
	c := uint64(next)&^0xffff | uint64(wire)
	if c < uint64(next) {
		c += 1 << 16
	}
	if c >= math.MaxUint32 {
		// MaxUint32 itself is refused too, so that next (= fcnt+1) always fits.
		return 0, false
	}
	return uint32(c), true
}

// Uplink counter outcomes of CheckUplink.
type FCntStatus uint8

// Outcomes.
const (
	// FCntNew is a frame never seen before: deliver it and advance.
	FCntNew FCntStatus = iota + 1
	// FCntRetransmission is the last accepted frame again, as devices send
	// it when a confirmed uplink was not acknowledged (or NbTrans > 1): do
	// not deliver it again, but acknowledge it again if it is confirmed.
	FCntRetransmission
)

// String names the outcome.
func (s FCntStatus) String() string {
	switch s {
	case FCntNew:
		return "new"
	case FCntRetransmission:
		return "retransmission"
	}
	return fmt.Sprintf("FCntStatus(%d)", uint8(s))
}

// CheckUplink authenticates an uplink data frame against a session that
// expects counter next (0 for a session that has seen no uplink; after
// accepting counter c it is c+1). It returns the frame's 32-bit counter:
//
//   - FCntNew when the MIC holds for the smallest counter >= next ending
//     in the 16 bits on air; the caller delivers it and sets next = fcnt+1.
//   - FCntRetransmission when it is the last accepted counter (next-1).
//   - ErrReplay when the MIC holds for an older counter: a replayed frame.
//   - ErrMIC when it holds for none (wrong key or device, forged, or more
//     than 65,535 frames were lost).
//   - ErrFCntExhausted when the counter has run out of 32 bits.
//
// The MIC is what makes the guess of the upper 16 bits safe: a wrong guess
// does not verify.
func CheckUplink(f *DataFrame, nwkSKey Key, next uint32) (uint32, FCntStatus, error) {
	if !f.MType.IsUplink() {
		return 0, 0, fmt.Errorf("check uplink: %s: %w", f.MType, ErrMType)
	}
	if next > 0 && uint16(next-1) == f.FCnt {
		if err := f.CheckMIC(nwkSKey, next-1); err == nil {
			return next - 1, FCntRetransmission, nil
		}
	}
	fcnt, ok := ReconstructFCnt(next, f.FCnt)
	if !ok {
		return 0, 0, fmt.Errorf("check uplink: counter after %d: %w", next, ErrFCntExhausted)
	}
	err := f.CheckMIC(nwkSKey, fcnt)
	if err == nil {
		return fcnt, FCntNew, nil
	}
	if !errors.Is(err, ErrMIC) {
		return 0, 0, fmt.Errorf("check uplink: %w", err)
	}
	// Is it an older frame of this session? Only the counter below next
	// with the same low bits can be (a replay within the current 65,536).
	if fcnt >= 1<<16 {
		if old := fcnt - 1<<16; old < next && f.CheckMIC(nwkSKey, old) == nil {
			return 0, 0, fmt.Errorf("check uplink: counter %d, expected at least %d: %w", old, next, ErrReplay)
		}
	}
	return 0, 0, fmt.Errorf("check uplink: %w", ErrMIC)
}
