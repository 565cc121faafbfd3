package common

import (
	"context"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/themes"
	"github.com/sitegate/sitegate/tui/access"
)

// Rules are the access rules a screen asks before and when it changes
// something; *access.Service implements them.
type Rules interface {
	// Authorize checks that p may use perm now.
	Authorize(p access.Principal, perm access.Perm) error
	// ApplySite applies a site change as p: the one path for every
	// change made in a session.
	ApplySite(p access.Principal, e device.Edit, next *device.Site) (device.Change, error)
	// Names maps account ids to names, for showing audit records.
	Names() map[string]string
}

// Session is what one console session's screens share: who is logged in,
// the theme, the key map, the clock and a context that ends with the
// session. It belongs to one session.
type Session struct {
	// Ctx ends when the session ends: background work runs under it.
	Ctx       context.Context
	Principal access.Principal
	Rules     Rules
	Clock     clockwork.Clock
	Styles    *themes.Styles
	Keys      *KeyMap
	GatewayID string
	Version   string
}

// Now returns the session's clock reading.
func (s *Session) Now() time.Time { return s.Clock.Now() }

// Can reports whether the session's role holds perm (to decide what to
// offer; the rules check again when it is used).
func (s *Session) Can(perm access.Perm) bool { return access.Can(s.Principal.Account.Role, perm) }

// Authorize checks perm against the account as it is now.
func (s *Session) Authorize(perm access.Perm) error { return s.Rules.Authorize(s.Principal, perm) }

// Actor returns the session's audit actor.
func (s *Session) Actor() device.Actor { return s.Principal.Actor() }

// ApplySite applies a site change as the session's principal.
func (s *Session) ApplySite(e device.Edit, next *device.Site) (device.Change, error) {
	return s.Rules.ApplySite(s.Principal, e, next)
}

// Name shows an account id (an audit actor, a revision's author) as a name
// for people.
func (s *Session) Name(id string) string { return NameOf(s.Rules.Names(), id) }

// NameOf shows id by its name in names, or as itself.
func NameOf(names map[string]string, id string) string {
	if n, ok := names[id]; ok {
		return n
	}
	return id
}
