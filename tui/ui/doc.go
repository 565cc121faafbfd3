// Package ui is the console's screens: the root model of a session (App:
// header, tabs, status line, help bar) and one file per screen — the
// dashboard, logs, site, field tree (field.go; its tree at scale in
// field_tree.go, Modbus forms in field_modbus.go, the decode lab, adding
// the units of a scan in field_scan.go, the commissioning report in
// field_report.go), LoRa, sync, network, security (firewall, endpoints,
// support window; read-only), users, profile and the first-login wizards.
//
// # Keys
//
// The help bar shows the keys of what has the keys: a screen's, or a
// form's while one is open (letters are typed into it then, so ? and q
// do not work); ? lays out every key of the screen, the tabs and the
// global keys in as many columns as fit. While the terminal is smaller
// than 80×24 only quitting works. The digits 1..9 and then 0 show the
// first ten tabs (an administrator's with network and LoRa); ten tabs fit
// 80 columns only closed up, without padding or the space after the
// digit. A key the role may not use says the
// screen is read-only for it and who may.
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
//     second old. The Security tab reads the health and the support
//     window the same way, once a second and on site changes.
//   - A site with more than 12 field devices opens with every device
//     folded; the find field (/) ignores folds.
package ui
