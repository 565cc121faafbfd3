// Package sshd is the console's door: the SSH server (wish), its limits,
// its host key, authentication and the one middleware chain every session
// passes — recover, session registry and login audit, exec commands
// (tui/cmd), the console (tui/ui) and its farewell.
//
// # Lifecycle
//
// NewServer builds the server on a listener it is given; Run accepts
// connections until its context ends, then asks every session to end (a
// console leaves the alternate screen and says why), waits up to the
// grace and closes every connection. Each session gets a context that ends
// with it: exec commands and the console's background work run under it.
//
// # Limits
//
// Before login, per source address (IPv4, or IPv6 /64): a few
// unauthenticated connections, an attempt budget refilled over time, one
// password hash at a time; per connection: three attempts, the login grace,
// eight sessions, a bounded environment. See Limits and DefaultLimits.
//
// # Caveats
//
//   - The host key is created in the data directory (0600) on first use;
//     without it wish would write ./id_ed25519 into the working directory.
//   - A console that does not restore the terminal within the grace is cut
//     off with its connection.
package sshd
