package access

import (
	"fmt"
	"strings"

	"github.com/sitegate/sitegate/device"
)

// CertPrincipal is one principal of a user certificate as the gateway
// reads it: ROLE:GATEWAY_ID, ROLE:site=SITE_NAME or ROLE:*.
type CertPrincipal struct {
	Role  device.Role
	Scope Scope
	// Name is the gateway id (ScopeGateway) or the site name (ScopeSite).
	Name string
}

// Scope is what a certificate principal grants its role on.
type Scope int

// Scopes.
const (
	ScopeGateway Scope = iota + 1 // one gateway, by its id
	ScopeSite                     // every gateway of one site, by the site's name
	ScopeAny                      // every gateway that trusts the CA
)

var scopeNames = map[Scope]string{ScopeGateway: "gateway", ScopeSite: "site", ScopeAny: "any"}

// String names the scope.
func (s Scope) String() string {
	if n, ok := scopeNames[s]; ok {
		return n
	}
	return fmt.Sprintf("scope(%d)", int(s))
}

// ParseScope reads a scope name (gateway, site, any).
func ParseScope(s string) (Scope, error) {
	for k, v := range scopeNames {
		if v == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w: %q (valid: gateway, site, any)", ErrPrincipal, printable(s))
}

// sitePrefix starts a site scope.
const sitePrefix = "site="

// MaxPrincipalLength bounds one principal: a role, a colon and a site name
// of at most device.MaxSiteNameLength characters (up to 4 bytes each).
const MaxPrincipalLength = 16 + len(sitePrefix) + 4*device.MaxSiteNameLength

// ParsePrincipal reads one certificate principal. Principals that are not
// of this form (an OpenSSH user name, another system's principal) are
// ErrPrincipal: a certificate may carry them, they grant nothing here.
func ParsePrincipal(s string) (CertPrincipal, error) {
	if len(s) > MaxPrincipalLength {
		return CertPrincipal{}, fmt.Errorf("%w: %d bytes long, at most %d", ErrPrincipal, len(s), MaxPrincipalLength)
	}
	roleName, scope, ok := strings.Cut(s, ":")
	if !ok {
		return CertPrincipal{}, fmt.Errorf("%w: %q has no ROLE: prefix", ErrPrincipal, printable(s))
	}
	role, err := device.ParseRole(roleName)
	if err != nil || roleName != role.String() {
		return CertPrincipal{}, fmt.Errorf("%w: %q is not a role (admin, installer, support, viewer)", ErrPrincipal, printable(roleName))
	}
	switch {
	case scope == "*":
		return CertPrincipal{Role: role, Scope: ScopeAny}, nil
	case strings.HasPrefix(scope, sitePrefix):
		name := scope[len(sitePrefix):]
		if name == "" {
			return CertPrincipal{}, fmt.Errorf("%w: %q names no site", ErrPrincipal, printable(s))
		}
		return CertPrincipal{Role: role, Scope: ScopeSite, Name: name}, nil
	case scope == "":
		return CertPrincipal{}, fmt.Errorf("%w: %q names no gateway", ErrPrincipal, printable(s))
	}
	return CertPrincipal{Role: role, Scope: ScopeGateway, Name: scope}, nil
}

// String writes the principal as a certificate carries it.
func (p CertPrincipal) String() string {
	switch p.Scope {
	case ScopeAny:
		return p.Role.String() + ":*"
	case ScopeSite:
		return p.Role.String() + ":" + sitePrefix + p.Name
	}
	return p.Role.String() + ":" + p.Name
}

// Grants reports whether the principal grants its role on the gateway
// gatewayID of the site siteName.
func (p CertPrincipal) Grants(gatewayID, siteName string) bool {
	switch p.Scope {
	case ScopeAny:
		return true
	case ScopeSite:
		return p.Name == siteName
	case ScopeGateway:
		return p.Name == gatewayID
	}
	return false
}
