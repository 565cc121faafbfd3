package openvpn

import (
	"strings"
	"testing"
)

// FuzzParseLine feeds arbitrary lines to the line, state and byte-count
// parsers: no panic, and what parses is well formed.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info",
		">STATE:1700000000,CONNECTED,SUCCESS,10.99.0.2,10.60.0.1,1194,10.60.0.2,41000,fd00::2",
		">BYTECOUNT:1234,5678", ">HOLD:Waiting for hold release:10", "SUCCESS: signal SIGTERM thrown",
		"ERROR: unknown command", "END", "1700000001,RECONNECTING,ping-restart,,,,,", ">", "\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLine(s)
		if err != nil {
			return
		}
		if l.Kind == KindRealtime && (l.Source == "" || strings.ContainsAny(l.Source, ": ")) {
			t.Fatalf("source %q", l.Source)
		}
		if st, err := ParseState(l.Text); err == nil {
			if _, err := ParseStateName(string(st.Name)); err != nil {
				t.Fatalf("state %q", st.Name)
			}
			if st.RemotePort < 0 || st.RemotePort > 65535 {
				t.Fatalf("port %d", st.RemotePort)
			}
		}
		_, _ = ParseByteCount(l.Text)
	})
}
