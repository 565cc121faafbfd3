// Package sshd is the console's door: the SSH server (wish), its limits,
// its host key, authentication and the one middleware chain every session
// passes — recover, session registry, exec commands (tui/cmd), the console
// (tui/ui) and its farewell.
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
// Before login (see Limits and DefaultLimits): per connection, the SSH
// version line within VersionTimeout (5 s) and the login within LoginGrace
// (30 s), three attempts; per source address (IPv4, or IPv6 /64), eight
// unauthenticated connections, an attempt budget refilled over time, one
// password hash at a time. In all, 64 unauthenticated connections, shared
// in the spirit of OpenSSH's MaxStartups start:rate:full and
// PerSourcePenalties: from EarlyDropStart on, an address that already
// holds a connection logging in is refused at random with a probability
// rising to 1 at the cap; an address holding none is never dropped at
// random and, when the door is full, takes the oldest slot of the address
// holding the most; an address whose connections stall (no version line,
// or the grace exceeded) accrues penalty time and is refused while it
// lasts. A slot is freed the moment its client authenticates.
//
// After login: eight sessions per connection, a bounded environment, and
// heavy exec commands (config diff and import, firmware apply, scans) one
// at a time per account and two in all, the others waiting their turn in
// a bounded queue.
//
// # Audit and logs
//
// A login is audited (login.success) and logged the moment authentication
// succeeds, whatever follows — a session, `ssh -N`, or a client that
// closes at once — and once per connection. A client whose address has
// spent its attempt budget is told when to try again (an authentication
// banner) and disconnected. Refusals are summed per address over ten
// seconds in the system log, so a flood cannot push other lines out of
// the in-memory log; client-chosen user names are escaped and bounded.
//
// # Certificates
//
// A public key that is an SSH certificate logs in as a certificate
// (tui/access CheckCertificate and LoginCertificate), never as an account's
// key, whatever the user name. Every refusal spends one of the address's
// password attempts, is audited and logged once, and is told to the client
// as a banner; an address out of attempts is disconnected before any
// check. Open certificate sessions are checked again whenever the site
// changes and every minute (watchCerts): a revoked, expired or untrusted
// certificate's sessions end, saying why.
//
// # Caveats
//
//   - The host key is created in the data directory (0600) on first use;
//     without it wish would write ./id_ed25519 into the working directory.
//   - A console that does not restore the terminal within the grace is cut
//     off with its connection.
//   - Budgets and penalties are per source address: users behind one NAT
//     share them, and a flood from more addresses than there are slots
//     still competes with them (each new address takes the oldest slot of
//     the heaviest holder, so a real login, which takes milliseconds, is
//     rarely the one taken).
//   - VersionTimeout and LoginGrace are socket deadlines on real time; the
//     attempt budgets and penalties run on Config.Clock.
//   - OpenSSH shows the rate limit's banner at its default log level (INFO)
//     and hides it at ERROR or QUIET.
//   - Which exec commands are heavy is decided here from the command words
//     (heavyCommands); the console's own long operations are bound by
//     their session only.
package sshd
