package firmware

import "errors"

// Errors returned by this package. The returned errors wrap them with the
// details (which file, which version, how many bytes); test them with
// errors.Is. Advice turns each into a sentence saying what to do.
var (
	// ErrNotImage means the data does not start with the image magic: it is
	// not a sitegate firmware image at all (or was mangled in transfer).
	ErrNotImage = errors.New("not a sitegate firmware image")
	// ErrTruncated means the image ends before its header, manifest,
	// signature or payload is complete.
	ErrTruncated = errors.New("firmware image is truncated")
	// ErrMalformed means the image is structurally wrong: a manifest
	// length out of bounds, a manifest that does not decode, bytes after
	// the payload, or a signed manifest with invalid fields.
	ErrMalformed = errors.New("firmware image is malformed")
	// ErrWrongKey means the image names a signing key other than the one
	// it is checked against: an image of another vendor or a test key.
	ErrWrongKey = errors.New("firmware image is signed by another key")
	// ErrBadSignature means the signature over the manifest does not verify
	// with the expected key: the manifest or the signature was altered.
	ErrBadSignature = errors.New("firmware manifest signature does not verify")
	// ErrPayloadHash means the payload's SHA-256 differs from the signed
	// manifest's: the payload was altered.
	ErrPayloadHash = errors.New("firmware payload does not match its signed hash")
	// ErrUntrusted means no vendor key is pinned on this gateway, so no
	// image can be installed.
	ErrUntrusted = errors.New("no vendor key is trusted on this gateway")
	// ErrWrongHardware means the image was built for other hardware.
	ErrWrongHardware = errors.New("firmware image is for other hardware")
	// ErrBelowFloor means the image's version is below the anti-rollback
	// floor.
	ErrBelowFloor = errors.New("firmware version is below the anti-rollback floor")
	// ErrBusy means another update is being applied.
	ErrBusy = errors.New("another firmware update is in progress")
	// ErrBadVersion means a version string is not MAJOR.MINOR.PATCH.
	ErrBadVersion = errors.New("invalid version")
	// ErrBadKey means a key file does not hold an ed25519 key of the
	// expected kind, or a private key file is readable by others.
	ErrBadKey = errors.New("unusable key")
)

// Advice returns what the operator should do about err, as one sentence,
// or "" when there is nothing specific to say.
func Advice(err error) string {
	switch {
	case errors.Is(err, ErrNotImage):
		return "check that this is the firmware file from the vendor and that it was copied in binary mode"
	case errors.Is(err, ErrTruncated):
		return "the file is incomplete: copy or download it again"
	case errors.Is(err, ErrMalformed):
		return "the file is damaged or was not produced by `sitegate firmware sign`: get the image from the vendor again"
	case errors.Is(err, ErrWrongKey):
		return "it was not signed by the trusted vendor key: use an image from the vendor, or check the public key given"
	case errors.Is(err, ErrBadSignature), errors.Is(err, ErrPayloadHash):
		return "the image was altered after it was signed: do not install it, and get it from the vendor again"
	case errors.Is(err, ErrUntrusted):
		return "pin the vendor's public key first with `sitegate firmware trust --data DIR VENDOR.pub` on the gateway"
	case errors.Is(err, ErrWrongHardware):
		return "use the image built for this gateway's hardware"
	case errors.Is(err, ErrBelowFloor):
		return "install this version or a newer one; older versions are blocked because they have known security problems"
	case errors.Is(err, ErrBusy):
		return "wait for the other update to finish, then try again"
	}
	return ""
}
