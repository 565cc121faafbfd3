// Package common is what every screen of the console shares: the session
// a screen runs in (who, theme, clock, the rules it asks), the component
// contract, the one key map, the messages screens send the root, and the
// widgets (form, busy indicator, stale-change notice, QR code, text
// helpers).
//
// # Screens
//
// A screen is a model with its keys and a size (Component); only the root
// (package ui) returns a tea.View, screens return strings. A screen is
// given a *Session and the narrow interface of the gateway it needs,
// never the SSH server.
//
// # Background work
//
// Anything that can block (a device write, a scan, a hash) runs as a
// tea.Cmd under Session.Ctx, which ends with the session, so nothing a
// screen starts outlives it.
//
// # Caveats
//
//   - Session.Principal is the account as it was at login or at the last
//     change this session made; every change is checked again by the
//     rules (tui/access) against the account as it is now.
//   - The styles live in themes/; no colour is chosen here.
package common
