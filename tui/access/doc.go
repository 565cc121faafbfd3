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
// # Caveats
//
//   - Login failures of every kind are ErrDenied after the same hashing
//     work, so a caller cannot tell an unknown name from a wrong password.
//   - Public-key logins are not counted toward lockout (clients offer
//     every key they hold), and a password lockout does not stop them; an
//     administrator's lock does.
//   - Options.Clock defaults to the system clock, not the gateway's: give
//     both the same clock in tests.
package access
