package node

import (
	"errors"
	"fmt"

	"github.com/sitegate/sitegate/device/bacnet/stack"
)

// Errors returned by the node. Callers test them with errors.Is (or
// errors.As for the typed ones below); returned errors wrap them with the
// device and the request concerned.
var (
	// ErrTimeout means no answer came within the APDU timeout after every
	// retry.
	ErrTimeout = errors.New("no answer from the device")
	// ErrSegmentTimeout means a segmented answer started but its next
	// segment never came; what had arrived is dropped.
	ErrSegmentTimeout = errors.New("segmented answer never completed")
	// ErrReplyTooLarge means a segmented answer grew past MaxReassembly.
	ErrReplyTooLarge = errors.New("answer larger than this node reassembles")
	// ErrAPDUTooLong means the request does not fit the device's
	// max-APDU, and this node does not send segmented requests.
	ErrAPDUTooLong = errors.New("request larger than the device accepts")
	// ErrBusy means MaxPending transactions are already waiting.
	ErrBusy = errors.New("too many requests in flight")
	// ErrUnknownDevice means no I-Am from that device instance was seen.
	ErrUnknownDevice = errors.New("device not discovered")
	// ErrNotRunning means the node's Run has ended. (Before Run starts,
	// requests are sent and wait for Run to receive their answers.)
	ErrNotRunning = errors.New("bacnet node is not running")
	// ErrConfig means the node, link or server configuration is unusable.
	ErrConfig = errors.New("invalid bacnet configuration")
	// ErrQueueFull means a data link's send queue is full (MS/TP waits
	// for the token).
	ErrQueueFull = errors.New("data link send queue full")
)

// RejectError is a Reject PDU from the device: it did not understand or
// does not implement the request.
type RejectError struct{ Reason stack.RejectReason }

func (e *RejectError) Error() string { return "rejected: " + e.Reason.String() }

// AbortError is an Abort PDU: the transaction ended before an answer.
type AbortError struct {
	Reason stack.AbortReason
	// Server is true when the device aborted, false when this node did.
	Server bool
}

func (e *AbortError) Error() string {
	if e.Server {
		return "aborted by the device: " + e.Reason.String()
	}
	return "aborted: " + e.Reason.String()
}

// IsRejected reports whether err is a Reject with the given reason (any
// reason when none is given).
func IsRejected(err error, reasons ...stack.RejectReason) bool {
	var r *RejectError
	if !errors.As(err, &r) {
		return false
	}
	if len(reasons) == 0 {
		return true
	}
	for _, x := range reasons {
		if r.Reason == x {
			return true
		}
	}
	return false
}

// IsAborted reports whether err is an Abort with one of the reasons (any
// when none is given).
func IsAborted(err error, reasons ...stack.AbortReason) bool {
	var a *AbortError
	if !errors.As(err, &a) {
		return false
	}
	if len(reasons) == 0 {
		return true
	}
	for _, x := range reasons {
		if a.Reason == x {
			return true
		}
	}
	return false
}

// IsError reports whether err is a BACnet Error PDU (a *stack.PropertyError)
// with the given code (any when none is given).
func IsError(err error, codes ...stack.ErrorCode) bool {
	var p *stack.PropertyError
	if !errors.As(err, &p) {
		return false
	}
	if len(codes) == 0 {
		return true
	}
	for _, c := range codes {
		if p.Code == c {
			return true
		}
	}
	return false
}

func wrapf(err error, format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, err)...)
}
