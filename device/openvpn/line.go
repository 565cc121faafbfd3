package openvpn

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Bounds of the management protocol as this client reads it.
const (
	// MaxLine is the longest line accepted; OpenVPN's own lines are far
	// shorter (a state line is under 200 bytes).
	MaxLine = 4096
	// MaxLines is how many lines a multi-line answer (ending in END) may
	// have.
	MaxLines = 256
)

// Errors of the management protocol.
var (
	// ErrLine means a line from the management interface is not one of
	// the forms the management notes define.
	ErrLine = errors.New("not a management interface line")
	// ErrCommand means OpenVPN answered a command with ERROR.
	ErrCommand = errors.New("openvpn refused the command")
	// ErrClosed means the management connection ended.
	ErrClosed = errors.New("management connection closed")
)

// Kind is what a line is.
type Kind uint8

// Line kinds (management notes, "OUTPUT FORMAT").
const (
	KindData     Kind = iota // a line of a multi-line answer
	KindSuccess              // SUCCESS: text
	KindError                // ERROR: text
	KindEnd                  // END, the last line of a multi-line answer
	KindRealtime             // >SOURCE:text
)

var kindNames = []string{"data", "success", "error", "end", "realtime"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Line is one parsed line.
type Line struct {
	Kind   Kind
	Source string // of a real-time message: BYTECOUNT, HOLD, INFO, STATE ...
	Text   string
}

// ParseLine parses one line without its line ending.
func ParseLine(s string) (Line, error) {
	switch {
	case len(s) > MaxLine:
		return Line{}, fmt.Errorf("%w: %d bytes, at most %d", ErrLine, len(s), MaxLine)
	case !utf8.ValidString(s):
		return Line{}, fmt.Errorf("%w: not UTF-8", ErrLine)
	case strings.ContainsAny(s, "\r\n\x00"):
		return Line{}, fmt.Errorf("%w: control characters in %q", ErrLine, clip(s))
	case s == "END":
		return Line{Kind: KindEnd}, nil
	case strings.HasPrefix(s, ">"):
		src, text, ok := strings.Cut(s[1:], ":")
		if !ok || src == "" || strings.IndexFunc(src, func(r rune) bool { return !(r >= 'A' && r <= 'Z' || r == '-' || r == '_') }) >= 0 {
			return Line{}, fmt.Errorf("%w: real-time message %q has no SOURCE: before its text", ErrLine, clip(s))
		}
		return Line{Kind: KindRealtime, Source: src, Text: text}, nil
	case strings.HasPrefix(s, "SUCCESS:"):
		return Line{Kind: KindSuccess, Text: strings.TrimSpace(s[len("SUCCESS:"):])}, nil
	case strings.HasPrefix(s, "ERROR:"):
		return Line{Kind: KindError, Text: strings.TrimSpace(s[len("ERROR:"):])}, nil
	}
	return Line{Kind: KindData, Text: s}, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// StateName is an OpenVPN state (management notes, "COMMAND -- state").
type StateName string

// The states the notes list.
const (
	StateConnecting  StateName = "CONNECTING"
	StateWait        StateName = "WAIT"
	StateAuth        StateName = "AUTH"
	StateGetConfig   StateName = "GET_CONFIG"
	StateAssignIP    StateName = "ASSIGN_IP"
	StateAddRoutes   StateName = "ADD_ROUTES"
	StateConnected   StateName = "CONNECTED"
	StateReconnect   StateName = "RECONNECTING"
	StateExiting     StateName = "EXITING"
	StateResolve     StateName = "RESOLVE"
	StateTCPConnect  StateName = "TCP_CONNECT"
	StateAuthPending StateName = "AUTH_PENDING"
)

var knownStates = []StateName{StateConnecting, StateWait, StateAuth, StateGetConfig, StateAssignIP, StateAddRoutes,
	StateConnected, StateReconnect, StateExiting, StateResolve, StateTCPConnect, StateAuthPending}

// ParseStateName returns the state called s.
func ParseStateName(s string) (StateName, error) {
	for _, n := range knownStates {
		if string(n) == s {
			return n, nil
		}
	}
	return "", fmt.Errorf("%w: unknown state %q", ErrLine, clip(s))
}

func (n StateName) String() string { return string(n) }

// State is one state line: up to nine comma-separated fields.
type State struct {
	Time        time.Time
	Name        StateName
	Description string     // the reason of RECONNECTING and EXITING
	LocalIP     netip.Addr // the tunnel's IPv4 address (ASSIGN_IP, CONNECTED)
	Remote      string     // the server's address (CONNECTED)
	RemotePort  int
	Local       string
	LocalPort   int
	LocalIPv6   netip.Addr
}

// ParseState parses the text of a >STATE: line, or a line of the answer
// to the state command.
func ParseState(s string) (State, error) {
	f := strings.Split(s, ",")
	if len(f) < 2 || len(f) > 9 {
		return State{}, fmt.Errorf("%w: state %q has %d fields, want 2..9", ErrLine, clip(s), len(f))
	}
	for len(f) < 9 {
		f = append(f, "")
	}
	secs, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || secs < 0 {
		return State{}, fmt.Errorf("%w: state time %q is not a unix time", ErrLine, clip(f[0]))
	}
	st := State{Time: time.Unix(secs, 0).UTC(), Description: f[2], Remote: f[4], Local: f[6]}
	if st.Name, err = ParseStateName(f[1]); err != nil {
		return State{}, err
	}
	for _, a := range []struct {
		s   string
		dst *netip.Addr
	}{{f[3], &st.LocalIP}, {f[8], &st.LocalIPv6}} {
		if a.s == "" {
			continue
		}
		if *a.dst, err = netip.ParseAddr(a.s); err != nil {
			return State{}, fmt.Errorf("%w: state address %q", ErrLine, clip(a.s))
		}
	}
	for _, p := range []struct {
		s   string
		dst *int
	}{{f[5], &st.RemotePort}, {f[7], &st.LocalPort}} {
		if p.s == "" {
			continue
		}
		n, err := strconv.Atoi(p.s)
		if err != nil || n < 0 || n > 65535 {
			return State{}, fmt.Errorf("%w: state port %q", ErrLine, clip(p.s))
		}
		*p.dst = n
	}
	return st, nil
}

// ByteCount is a >BYTECOUNT: line: bytes from and to the server.
type ByteCount struct {
	In, Out uint64
}

// ParseByteCount parses the text of a >BYTECOUNT: line.
func ParseByteCount(s string) (ByteCount, error) {
	in, out, ok := strings.Cut(s, ",")
	a, err1 := strconv.ParseUint(in, 10, 64)
	b, err2 := strconv.ParseUint(out, 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return ByteCount{}, fmt.Errorf("%w: bytecount %q is not IN,OUT", ErrLine, clip(s))
	}
	return ByteCount{In: a, Out: b}, nil
}
