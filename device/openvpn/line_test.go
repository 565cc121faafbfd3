package openvpn

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Lines as the management notes print them.
func TestParseLine(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Line
	}{
		{">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info", Line{Kind: KindRealtime, Source: "INFO", Text: "OpenVPN Management Interface Version 5 -- type 'help' for more info"}},
		{">HOLD:Waiting for hold release:10", Line{Kind: KindRealtime, Source: "HOLD", Text: "Waiting for hold release:10"}},
		{">BYTECOUNT:1234,5678", Line{Kind: KindRealtime, Source: "BYTECOUNT", Text: "1234,5678"}},
		{">NEED-OK:Need 'token-insertion-request' confirmation MSG:Please insert your cryptographic token", Line{Kind: KindRealtime, Source: "NEED-OK", Text: "Need 'token-insertion-request' confirmation MSG:Please insert your cryptographic token"}},
		{"SUCCESS: hold release succeeded", Line{Kind: KindSuccess, Text: "hold release succeeded"}},
		{"ERROR: unknown command, enter 'help' for more options", Line{Kind: KindError, Text: "unknown command, enter 'help' for more options"}},
		{"END", Line{Kind: KindEnd}},
		{"1700000000,CONNECTED,SUCCESS,10.99.0.2,10.60.0.1,1194,,", Line{Kind: KindData, Text: "1700000000,CONNECTED,SUCCESS,10.99.0.2,10.60.0.1,1194,,"}},
	} {
		got, err := ParseLine(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseLine(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{">", ">:x", ">info:lower", ">NO COLON", "a\x00b", "\xff", strings.Repeat("x", MaxLine+1)} {
		if _, err := ParseLine(bad); !errors.Is(err, ErrLine) {
			t.Errorf("ParseLine(%q): %v", clip(bad), err)
		}
	}
}

func TestParseState(t *testing.T) {
	st, err := ParseState("1700000000,CONNECTED,SUCCESS,10.99.0.2,10.60.0.1,1194,10.60.0.2,41000,fd00::2")
	if err != nil {
		t.Fatal(err)
	}
	if st.Time.Unix() != 1700000000 || st.Name != StateConnected || st.Description != "SUCCESS" || st.LocalIP.String() != "10.99.0.2" ||
		st.Remote != "10.60.0.1" || st.RemotePort != 1194 || st.LocalPort != 41000 || st.LocalIPv6.String() != "fd00::2" {
		t.Errorf("%+v", st)
	}
	if st, err := ParseState("1700000001,RECONNECTING,ping-restart,,,,,"); err != nil || st.Name != StateReconnect || st.Description != "ping-restart" {
		t.Errorf("%+v %v", st, err)
	}
	for _, bad := range []string{"", "x,CONNECTED", "1,NOPE", "1,CONNECTED,,999.1.1.1", "1,CONNECTED,,,,70000", "1,2,3,4,5,6,7,8,9,10", "-1,WAIT"} {
		if _, err := ParseState(bad); !errors.Is(err, ErrLine) {
			t.Errorf("ParseState(%q): %v", bad, err)
		}
	}
	if b, err := ParseByteCount("12,34"); err != nil || b != (ByteCount{12, 34}) {
		t.Errorf("%+v %v", b, err)
	}
	for _, bad := range []string{"", "1", "1,", "a,b", "-1,2"} {
		if _, err := ParseByteCount(bad); !errors.Is(err, ErrLine) {
			t.Errorf("ParseByteCount(%q): %v", bad, err)
		}
	}
}

// serve plays OpenVPN's side of a management connection over a pipe:
// answer maps each command to the lines sent back.
func serve(t *testing.T, answer func(cmd string) []string, greeting ...string) (*Client, *[]Line) {
	t.Helper()
	a, b := net.Pipe()
	var mu sync.Mutex
	var rt []Line
	c := NewClient(a, func(l Line) { mu.Lock(); rt = append(rt, l); mu.Unlock() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = b.Write([]byte(">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info\r\n"))
		for _, g := range greeting {
			if _, err := b.Write([]byte(g + "\r\n")); err != nil {
				return
			}
		}
		buf := make([]byte, 512)
		for {
			n, err := b.Read(buf)
			if err != nil {
				return
			}
			for _, line := range answer(strings.TrimSpace(string(buf[:n]))) {
				if _, err := b.Write([]byte(line + "\r\n")); err != nil {
					return
				}
			}
		}
	}()
	t.Cleanup(func() { c.Close(); b.Close(); <-done })
	return c, &rt
}

func TestClientCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _ := serve(t, func(cmd string) []string {
		switch cmd {
		case "state on":
			return []string{"SUCCESS: real-time state notification set to ON"}
		case "state":
			return []string{">BYTECOUNT:1,2", "1700000001,WAIT,,,,,,", "END"}
		case "hold release":
			return []string{"SUCCESS: hold release succeeded"}
		case "signal SIGTERM":
			return []string{"SUCCESS: signal SIGTERM thrown"}
		}
		return []string{"ERROR: unknown command, enter 'help' for more options"}
	})
	st, err := c.StateOn(ctx)
	if err != nil || st.Name != StateWait {
		t.Fatalf("StateOn: %+v %v", st, err)
	}
	if err := c.HoldRelease(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.ByteCount(ctx, 5*time.Second); !errors.Is(err, ErrCommand) || !strings.Contains(err.Error(), "openvpn bytecount: openvpn refused the command: unknown command") {
		t.Errorf("refused command: %v", err)
	}
	if err := c.Signal(ctx, "SIGKILL"); err == nil || !strings.Contains(err.Error(), "SIGTERM") {
		t.Errorf("SIGKILL: %v", err)
	}
	if _, _, err := c.Command(ctx, "state\nsignal SIGTERM"); err == nil {
		t.Error("a command of two lines was sent")
	}
	if err := c.Signal(ctx, "SIGTERM"); err != nil {
		t.Fatal(err)
	}
}

// Garbage from the management interface ends the connection with an
// error naming it; a pending command gets that error.
func TestClientGarbage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, junk := range [][]string{{">:nothing"}, {strings.Repeat("A", MaxLine+10)}, {"SUCCESS: a", "SUCCESS: b"}, manyLines()} {
		c, _ := serve(t, func(string) []string { return nil }, junk...)
		_, _, err := c.Command(ctx, "state")
		select {
		case <-c.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("the connection stays up after garbage")
		}
		// An unasked answer may be taken for the command's (the protocol
		// has no ids), but the connection ends on the next one.
		if err != nil && !errors.Is(err, ErrLine) || !errors.Is(c.Err(), ErrLine) {
			t.Errorf("%q: %v / %v", clip(junk[0]), err, c.Err())
		}
	}
}

func manyLines() []string {
	out := make([]string, MaxLines+1)
	for i := range out {
		out[i] = "1,WAIT"
	}
	return append(out, "END")
}
