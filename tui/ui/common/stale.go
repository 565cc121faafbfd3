package common

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sitegate/sitegate/device"
)

// Stale is a save the gateway refused because the site changed since the
// screen loaded it: who changed what, said for people, with the way out.
type Stale struct {
	err *device.StaleError
	by  string
}

// AsStale returns the refusal in err when it is a stale change.
func AsStale(s *Session, err error) (*Stale, bool) {
	var se *device.StaleError
	if !errors.As(err, &se) {
		return nil, false
	}
	return &Stale{err: se, by: s.Name(se.Author)}, true
}

// Text says what happened and what to do.
func (st *Stale) Text(loc *time.Location, reload string) string {
	e := st.err
	var b strings.Builder
	fmt.Fprintf(&b, "Not saved: the site changed since you loaded it (revision %d, now %d", e.Base, e.Current)
	if e.Author != "" {
		fmt.Fprintf(&b, ", by %s at %s", st.by, e.Time.In(loc).Format("15:04:05"))
	}
	b.WriteString(").")
	if len(e.Changed) > 0 {
		b.WriteString("\nChanged: " + strings.Join(e.Changed, ", ") + ".")
	}
	b.WriteString("\n" + reload + " reloads the site; then make your change again.")
	return b.String()
}

// SiteReader reads the site and its revision.
type SiteReader interface {
	Site() (*device.Site, uint64)
}

// Base is the site a screen shows and bases its changes on: every save is
// made against its revision, and refused if someone saved since.
type Base struct {
	Site  *device.Site
	Rev   uint64
	Stale *Stale // the last save was refused as stale
}

// Load takes the site as it is now and forgets a refusal.
func (b *Base) Load(src SiteReader) { b.Site, b.Rev = src.Site(); b.Stale = nil }

// Apply stores next as the session's principal, based on b.Rev, under
// action; a stale refusal is kept in b.Stale.
func (b *Base) Apply(s *Session, action device.Action, next *device.Site) (device.Change, error) {
	ch, err := s.ApplySite(device.Edit{Action: action, Base: b.Rev}, next)
	if st, ok := AsStale(s, err); ok {
		b.Stale = st
	}
	return ch, err
}

// StaleText explains the refusal and how to reload.
func (b *Base) StaleText(s *Session) string {
	return b.Stale.Text(b.Site.Clock.Location(), s.Keys.Reload.Help().Key)
}
