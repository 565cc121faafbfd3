// Package cmd is the console's exec commands: `ssh <gateway> COMMAND`
// without a terminal. Run builds a fresh cobra tree for every session and
// runs one command line in it, with the session's own streams and a
// context that ends with the session.
//
// # Files
//
// One file per command group: whoami, health (and alerts), logs, config,
// points (and its Modbus alias and bus scans), device (add, clone, remove,
// list), profile (register maps: list, show, export, import from CSV,
// remove), report (signed commissioning reports and their key), lora
// (devices and frames of the embedded network server), sync, firmware,
// sim; help lists what the caller's role may run; cmd.go dispatches,
// checks roles and audits.
//
// # Exit statuses
//
// 0 success, 1 failure (one sentence on stderr), 2 usage mistake (with
// the usage line), 126 not allowed for the role (audited command.denied),
// 127 no such command or subcommand. Every command that runs is audited
// command.exec with its result.
//
// # Caveats
//
//   - The role is checked against the account as it is when the command
//     starts; a change of the site is checked again inside the gateway's
//     lock (tui/access.ApplySite).
//   - Client text echoed back is escaped and cut to a bound; stdin is
//     bounded (a site file 4 MiB, a CSV register map 256 KiB, a firmware
//     image 4 GiB).
//   - A refusal names what the command needs in its own words (sync cut:
//     "cutting or restoring the uplink needs the admin role"), since some
//     commands share a permission whose name would mislead.
package cmd
