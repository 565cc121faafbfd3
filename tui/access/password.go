package access

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are argon2id cost parameters.
type Argon2Params struct {
	Time    uint32 // passes
	Memory  uint32 // KiB
	Threads uint8
}

// RFC9106 is the second recommended option of RFC 9106 §4 for
// memory-constrained systems: t=3, m=64 MiB, p=4, 128-bit salt, 256-bit tag.
var RFC9106 = Argon2Params{Time: 3, Memory: 64 * 1024, Threads: 4}

const (
	saltLen = 16
	keyLen  = 32
)

// Hasher computes and checks argon2id password hashes, bounding how many run
// at once: each costs Memory KiB, so an unbounded burst of logins could
// exhaust the gateway's memory.
type Hasher struct {
	params Argon2Params
	slots  chan struct{}
	// dummy is a hash-shaped decoy (random salt and key) with the same parameters,
	// checked for unknown user names so they take the same time.
	dummy string
}

// NewHasher returns a Hasher using params with at most concurrent
// computations at a time (at least 1).
func NewHasher(params Argon2Params, concurrent int) *Hasher {
	if concurrent < 1 {
		concurrent = 1
	}
	h := &Hasher{params: params, slots: make(chan struct{}, concurrent)}
	// A verification against the decoy costs a full hash whatever its key
	// holds, so the decoy needs no hashing of its own: a random salt and a
	// random key, in the same format and with the same parameters. (Hashing
	// one at start cost a 64 MiB peak of memory for nothing.)
	salt, key := make([]byte, saltLen), make([]byte, keyLen)
	_, _ = rand.Read(salt)
	_, _ = rand.Read(key)
	h.dummy = fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, params.Memory, params.Time, params.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
	return h
}

// Params returns the cost parameters new hashes use.
func (h *Hasher) Params() Argon2Params { return h.params }

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.slots }

// Hash returns a PHC-format argon2id hash of password with a fresh salt.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	return h.hash(ctx, password)
}

func (h *Hasher) hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, h.params.Time, h.params.Memory, h.params.Threads, keyLen)
	h.release()
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, h.params.Memory, h.params.Time, h.params.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// errBadHash means a stored hash could not be parsed.
var errBadHash = errors.New("stored password hash is not a valid argon2id hash")

type phc struct {
	params Argon2Params
	salt   []byte
	key    []byte
}

func parsePHC(s string) (phc, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return phc{}, errBadHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return phc{}, errBadHash
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return phc{}, errBadHash
	}
	// Refuse parameters that would make one check a denial of service.
	if p.Memory < 8 || p.Memory > 1<<20 || p.Time < 1 || p.Time > 16 || p.Threads < 1 {
		return phc{}, errBadHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 {
		return phc{}, errBadHash
	}
	return phc{p, salt, key}, nil
}

// Verify reports whether password matches the PHC hash encoded. An empty
// encoded hash (an account without a password, or an unknown user) is
// checked against a dummy hash so that it costs the same and fails.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (bool, error) {
	target := encoded
	if target == "" {
		target = h.dummy
	}
	p, err := parsePHC(target)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(password), p.salt, p.params.Time, p.params.Memory, p.params.Threads, uint32(len(p.key)))
	h.release()
	ok := subtle.ConstantTimeCompare(key, p.key) == 1
	return ok && encoded != "", nil
}

// Special is the set of special characters the password policy requires
// one of.
const Special = "#?!@$%^&*~"

// Password length bounds. The upper bound is the site's
// access.password_max_length (8..64, default 15).
const (
	MinPasswordLength      = 8
	DefaultMaxPassword     = 15
	MaxPasswordLengthBound = 64
)

// PolicyError lists every rule a password breaks.
type PolicyError struct{ Broken []string }

func (e *PolicyError) Error() string {
	return "the password " + strings.Join(e.Broken, "; ")
}

// CheckPassword applies the password policy: length MinPasswordLength to
// maxLen, at least one upper-case letter, one lower-case letter, one digit
// and one of Special, no whitespace or control characters, not a common
// password (or a disguised one such as "P@ssw0rd1!"), and not containing the
// user name or the site name. It returns a *PolicyError naming every broken
// rule, or nil.
func CheckPassword(password string, maxLen int, userName, siteName string) error {
	if maxLen < MinPasswordLength || maxLen > MaxPasswordLengthBound {
		maxLen = DefaultMaxPassword
	}
	var broken []string
	n := len([]rune(password))
	if n < MinPasswordLength || n > maxLen {
		broken = append(broken, fmt.Sprintf("must be %d to %d characters long (it has %d)", MinPasswordLength, maxLen, n))
	}
	var upper, lower, digit, special, space, control bool
	for _, r := range password {
		switch {
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsDigit(r):
			digit = true
		case strings.ContainsRune(Special, r):
			special = true
		case unicode.IsSpace(r):
			space = true
		case unicode.IsControl(r):
			control = true
		}
	}
	if !upper {
		broken = append(broken, "needs an upper-case letter")
	}
	if !lower {
		broken = append(broken, "needs a lower-case letter")
	}
	if !digit {
		broken = append(broken, "needs a digit")
	}
	if !special {
		broken = append(broken, "needs one of the special characters "+Special)
	}
	if space {
		broken = append(broken, "must not contain spaces or other whitespace")
	}
	if control {
		broken = append(broken, "must not contain control characters")
	}
	if isCommon(password) {
		broken = append(broken, "is a common password or a variation of one")
	}
	lp := strings.ToLower(password)
	if u := strings.ToLower(userName); len(u) >= 3 && strings.Contains(lp, u) {
		broken = append(broken, "must not contain the user name")
	}
	for _, w := range strings.FieldsFunc(strings.ToLower(siteName), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
		if len(w) >= 4 && strings.Contains(lp, w) {
			broken = append(broken, "must not contain the site name")
			break
		}
	}
	if len(broken) > 0 {
		return &PolicyError{Broken: broken}
	}
	return nil
}
