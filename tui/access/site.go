package access

import (
	"fmt"
	"reflect"

	"github.com/sitegate/sitegate/device"
)

// ApplySite is the one path for a change of the site made in a session —
// a console screen, exec `config import`, taking the cloud's configuration
// on the Sync tab: it applies next as e says, as p, with CheckSiteChange
// deciding inside the gateway's lock whether p may make it. Whatever a
// screen offered, the rule is checked here against the account as it is
// now.
func (s *Service) ApplySite(p Principal, e device.Edit, next *device.Site) (device.Change, error) {
	e.Actor = p.Actor()
	if p.Setup {
		_ = s.gw.Audit(e.Actor, e.Action, "site", device.ResultDenied)
		return device.Change{}, ErrForbidden
	}
	e.Guard = s.CheckSiteChange
	return s.gw.ApplySite(e, next)
}

// CheckSiteChange is the access rule of a site change by actor (a
// device.SiteGuard): changing the site needs the config-edit permission,
// and the access settings (password length, 2FA, idle timeout) protect
// every account, so changing them needs the users permission.
func (s *Service) CheckSiteChange(current, next *device.Site, actor device.Actor) error {
	if err := s.require(actor, PermConfigEdit); err != nil {
		return err
	}
	if reflect.DeepEqual(normalAccess(current.Access), normalAccess(next.Access)) {
		return nil
	}
	if err := s.require(actor, PermUsers); err != nil {
		return fmt.Errorf("%w: the access settings (password length, 2FA, idle timeout) can only be changed by an admin (%s)", ErrForbidden, PermUsers)
	}
	return nil
}

// normalAccess fills defaults so that an absent and a default value compare
// equal.
func normalAccess(a device.Access) device.Access {
	s := device.Site{Access: a}
	s.ApplyDefaults()
	return s.Access
}
