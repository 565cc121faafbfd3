// Package ui is the console's screens: the root model of a session (App:
// header, tabs, status line, help bar) and one file per screen — the
// dashboard, logs, site, field tree (with its Modbus forms and decode
// lab), LoRa, sync, network, users, profile and the first-login wizards.
//
// # Where things are
//
// The SSH door (tui/sshd) builds one App per session from the session's
// own dependencies (Deps) and a common.Session; the App gives each screen
// the common.Session and only the part of the gateway it needs (the
// *Source interfaces in each screen's file). Shared widgets and the one
// key map are in tui/ui/common. Access rules are tui/access's; the domain
// rules of the site (the Modbus topology, probation) are device's.
//
// # Changes
//
// Every screen keeps the revision of the site it shows and saves with
// device.Edit{Base: that revision}: a save after someone else's is refused
// (a *device.StaleError), the screen says who changed what, and ctrl+r
// reloads.
//
// # Caveats
//
//   - Messages other than input go to every screen, so background results
//     reach the screen that started the work whichever tab is shown;
//     screens ignore what is not theirs.
//   - The network tab exists only when the gateway runs its network
//     subsystem, the LoRa tab only when it runs a LoRa driver (the daemon
//     always does; LoRa turned off shows as such).
//   - The LoRa tab reads the driver on a command, once a second and on
//     its devices' readings, never in Update; what it shows is at most a
//     second old.
package ui
