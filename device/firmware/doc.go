// Package firmware installs vendor-signed firmware images into A/B slots
// (README requirement 8): only images signed by the pinned vendor key
// install, the signature and hash are checked before apply and again at the
// next start, an image below the anti-rollback floor is refused, and a slot
// that fails at start falls back to the other one.
//
// # Image format
//
// An image is one file, all integers big-endian:
//
//	offset   size   field
//	0        8      magic "SGFW" 0x01 '\r' '\n' 0x1A
//	8        8      key id: first 8 bytes of SHA-256 of the signer's public key
//	16       4      manifest length N, 1..65536 (MaxManifest)
//	20       N      manifest: a JSON object (below)
//	20+N     64     ed25519 signature over "sitegate-firmware-v1\x00" ‖ manifest
//	84+N     size   payload
//
// and nothing after the payload. The manifest is
//
//	{"format":1, "version":"1.4.2", "hardware":"sitegate", "size":123456,
//	 "sha256":"<64 hex digits>", "min_version":"1.3.0", "created":"2026-11-27T10:00:00Z"}
//
// with unknown fields refused. Versions are semantic versions
// MAJOR.MINOR.PATCH (see ParseVersion). min_version is the anti-rollback
// floor the gateway adopts once the image has booted; it may not be above
// the image's own version. The signature covers the exact manifest bytes,
// prefixed by a domain string so that no other use of the vendor key yields
// a valid image signature; the payload is covered through the manifest's
// size and SHA-256.
//
// Verification streams (Verify, NewReader): the manifest length is bounded
// before it is read, the manifest is decoded only after its signature
// verifies, and the payload is hashed in 1 MiB chunks while it is read, so
// an image larger than memory verifies in constant memory. Each way an
// image can be wrong has its own sentinel error: ErrNotImage, ErrTruncated,
// ErrMalformed (including bytes after the payload), ErrWrongKey (the key id
// names another key), ErrBadSignature (the manifest or the signature was
// altered) and ErrPayloadHash (the payload was altered). Advice says what
// to do about each.
//
// # Keys
//
// The vendor keeps the private key offline. WriteKeyPair writes
// PREFIX.key (PKCS#8 PEM, mode 0600) and PREFIX.pub (PKIX PEM) — the
// formats `openssl pkey` reads — and never overwrites an existing file.
// LoadPrivateKey refuses a key file that group or others may read. A
// gateway trusts one vendor key, pinned with Manager.Trust by someone with
// physical access (`sitegate firmware trust` on the gateway).
//
// # Slots and start-up
//
// sitegate is a software gateway without a bootloader of its own: the slot
// files DATA/firmware/slot-a and slot-b (directory mode 0700) are complete
// signed images, exactly what a bootloader would consume, and "booting"
// means `sitegate run` calling Manager.Boot at every start. The state —
// active slot, pending slot, version, status and installing key of each
// slot, anti-rollback floor, pinned vendor key, hardware id, start attempts
// of the pending slot, last failure — is one JSON value in the store's
// metadata (MetaKey), changed in the same transaction as its audit event.
//
//	Apply   → verify while streaming into DATA/firmware/.tmp-slot-X-*,
//	          fsync, rename over slot-X, fsync the directory, mark X pending
//	Boot    → pending X: verify slot-X from disk again; commit it (X active,
//	          floor = max(floor, min_version)) or mark it failed and keep
//	          the active slot; then verify the active slot, falling back to
//	          the other committed slot if it no longer verifies
//
// Until the first image commits, the program's own build runs ("base
// firmware", Options.BaseVersion) and no slot is active.
//
// Policy: an image installs when it is signed by the pinned key, built for
// this gateway's hardware id (DefaultHardware unless provisioned otherwise)
// and its version is at or above the floor. A reinstall of the running
// version and a downgrade that stays at or above the floor are allowed and
// say so in the audit detail: the floor, raised by the vendor through
// min_version, is what marks older versions as unsafe.
//
// Every refusal or failure of Apply is audited firmware.reject with the
// reason (result "denied" for a refused image, "failed" for an I/O problem
// or an interrupted transfer); a written image firmware.apply; a commit at
// start firmware.apply by the system actor; a slot failing at start
// firmware.reject, which also sets Failed for the health rule
// firmware.failed until an image commits; pinning a key firmware.trust.
//
// # Caveats
//
//   - The key id in the header is not signed. It only chooses between the
//     errors ErrWrongKey and ErrBadSignature; either way the image is refused.
//   - The payload that Reader returns is unverified until Read returns
//     io.EOF; only then may it be used. Apply writes it to a temporary file
//     and renames it into the slot only at that point.
//   - A crash during Apply leaves a temporary file (removed by the next
//     Open) and the old state: the active slot still boots. A crash after
//     the rename but before the state is stored leaves a new file in the
//     inactive slot that nothing refers to; it is never booted.
//   - A pending slot is verified with the vendor key pinned at start-up:
//     pinning another key between Apply and the next start makes it fail
//     and fall back. Committed slots keep verifying with the key they were
//     installed with.
//   - Signing reads the payload twice (hash, then copy), so Sign needs a
//     seekable payload that nothing writes to meanwhile.
//   - There is no real bootloader here: a payload is never executed, and
//     BootAttempts only matters when a start dies before it finishes
//     verifying the pending slot.
//   - Pre-release and build suffixes (1.0.0-rc.1) are not versions here.
package firmware
