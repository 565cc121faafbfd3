package sshd

import (
	"fmt"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// Session bounds per connection: a logged-in user is trusted with a few
// sessions, not with unbounded memory.
const (
	maxSessionsPerConn = 8
	maxEnvPerSession   = 32
	maxEnvBytes        = 4096
)

type connSessions struct{ n int }

// sessionChannel wraps the ssh package's session handler: it caps the
// sessions of one connection and the environment a client may send (the
// ssh package appends every "env" request without a bound).
func (s *Server) sessionChannel(srv *ssh.Server, conn *gossh.ServerConn, newChan gossh.NewChannel, ctx ssh.Context) {
	s.connMu.Lock()
	cs, _ := ctx.Value(keySessions).(*connSessions)
	if cs == nil {
		cs = &connSessions{}
		ctx.SetValue(keySessions, cs)
	}
	if cs.n >= maxSessionsPerConn {
		s.connMu.Unlock()
		_ = newChan.Reject(gossh.ResourceShortage, fmt.Sprintf("at most %d sessions per connection", maxSessionsPerConn))
		return
	}
	cs.n++
	s.connMu.Unlock()
	defer func() {
		s.connMu.Lock()
		cs.n--
		s.connMu.Unlock()
	}()
	ssh.DefaultSessionHandler(srv, conn, envLimited{newChan}, ctx)
}

// envLimited filters a session's requests: "env" beyond the bounds is
// refused before the ssh package stores it.
type envLimited struct{ gossh.NewChannel }

func (e envLimited) Accept() (gossh.Channel, <-chan *gossh.Request, error) {
	ch, reqs, err := e.NewChannel.Accept()
	if err != nil {
		return ch, reqs, err
	}
	out := make(chan *gossh.Request)
	go func() {
		defer close(out)
		count, size := 0, 0
		for r := range reqs {
			if r.Type == "env" {
				count++
				size += len(r.Payload)
				if count > maxEnvPerSession || size > maxEnvBytes {
					if r.WantReply {
						_ = r.Reply(false, nil)
					}
					continue
				}
			}
			out <- r
		}
	}()
	return ch, out, nil
}
