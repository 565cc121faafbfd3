// Package access decides who may log in and what they may do: accounts
// and roles, the password policy and argon2id hashing, TOTP, lockouts, the
// first-start setup token, invitations, privacy acceptance, and the rule
// of every site change made in a session (ApplySite, CheckSiteChange). It
// holds no UI code; the SSH door, the console and the exec commands call
// it, and every change is checked here again whatever a screen showed.
//
// # Storage
//
// Accounts are kept through the gateway's device.AccountStore: records,
// their audit events and the setup state commit together. The package
// never opens the store itself.
//
// # Roles
//
// admin (users and everything), installer (configure), support (read
// only), viewer (dashboard): see Perm and Can. The role is read from the
// account as it is at the moment of each check, not as it was at login.
//
// # Certificates
//
// SSH user certificates signed by a CA of the site (access.ssh_user_cas)
// log in without an account (cert.go): CheckCertificate decides, cheapest
// checks first and the CA's signature before anything read from the
// certificate is believed; the principals ROLE:GATEWAY_ID,
// ROLE:site=SITE_NAME and ROLE:* grant the role (principal.go); the actor
// is cert:KEYID with the serial in every audit event. Role checks of such
// an actor (require) use the role its certificate grants and check again
// that it is not revoked, expired or signed by a CA no longer trusted.
// Privacy acceptance is stored per key id in one metadata record.
// SignUserCert is the organisation's side (sign.go).
//
// # Caveats
//
//   - The certificates of recent logins are kept in memory (at most
//     MaxCertGrants): `access certs` lists those since the start, and a
//     session whose certificate was forgotten (over a thousand others
//     since) must log in again.
//   - Login failures of every kind are ErrDenied after the same hashing
//     work, so a caller cannot tell an unknown name from a wrong password.
//   - Public-key logins are not counted toward lockout (clients offer
//     every key they hold), and a password lockout does not stop them; an
//     administrator's lock does.
//   - Options.Clock defaults to the system clock, not the gateway's: give
//     both the same clock in tests.
package access
