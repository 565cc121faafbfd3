package sshd

import (
	"context"
	"strings"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/access"
)

// certCheckEvery is how often open certificate sessions are checked for
// expiry; revocations are acted on when the site changes.
const certCheckEvery = time.Minute

// watchCerts ends every open session of a certificate that no longer
// grants its role — revoked by a site change (console, import, the cloud's
// desired configuration), its CA no longer trusted, or expired — until ctx
// ends.
func (s *Server) watchCerts(ctx context.Context) {
	sub := s.gw.SubscribeTo(4, device.EventSite)
	defer sub.Close()
	tick := s.clk.NewTicker(certCheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-sub.C():
			if !ok {
				return
			}
		case <-tick.C():
		}
		s.endInvalidCerts()
	}
}

// endInvalidCerts ends the open sessions whose certificate no longer
// grants their role, saying why.
func (s *Server) endInvalidCerts() {
	s.mu.Lock()
	var open []*sessionState
	for st := range s.open {
		if st.p.Cert != nil {
			open = append(open, st)
		}
	}
	s.mu.Unlock()
	for _, st := range open {
		err := s.acc.CheckCert(*st.p.Cert)
		if err == nil {
			continue
		}
		reason := strings.TrimPrefix(err.Error(), access.ErrForbidden.Error()+": ")
		s.log.Info("certificate session ended", "actor", st.p.Actor().ID, "serial", st.p.Cert.Serial, "reason", reason)
		s.endOnRequest(st, reason)
	}
}
