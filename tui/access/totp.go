package access

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"net/url"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters (RFC 6238 defaults, which every authenticator app takes).
const (
	totpPeriod = 30
	totpDigits = otp.DigitsSix
	totpSkew   = 1 // steps accepted either side of now
	// Issuer names the gateway product in authenticator apps.
	Issuer = "sitegate"
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTPSecret returns a fresh 160-bit secret, base32 without padding.
func NewTOTPSecret() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return b32.EncodeToString(b)
}

// TOTPURI returns the otpauth:// URI an authenticator app scans. label
// identifies the account in the app (user name at gateway).
func TOTPURI(secret, label string) string {
	// SHA-1, 6 digits and 30 s are every app's defaults; leaving them out
	// keeps the QR code small enough for an 80×24 terminal.
	v := url.Values{}
	v.Set("secret", secret)
	v.Set("issuer", Issuer)
	return "otpauth://totp/" + url.PathEscape(Issuer+":"+label) + "?" + v.Encode()
}

func totpOpts() totp.ValidateOpts {
	return totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}
}

// TOTPCode returns the code for secret at t (tests and enrolment checks).
func TOTPCode(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, t, totpOpts())
}

// matchTOTP returns the time step whose code equals code, within ±totpSkew
// of now, and only if that step is later than lastStep: a code that was
// already used (or an older one) is refused, which stops replay.
func matchTOTP(secret, code string, now time.Time, lastStep int64) (int64, bool) {
	if len(code) != 6 {
		return 0, false
	}
	step := now.Unix() / totpPeriod
	var matched int64
	found := 0
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		s := step + d
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*totpPeriod, 0), totpOpts())
		if err != nil {
			return 0, false
		}
		// Compare every candidate, in constant time, so timing does not
		// tell which step matched.
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && s > lastStep {
			matched = s
			found = 1
		}
	}
	return matched, found == 1
}
