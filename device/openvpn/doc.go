// Package openvpn speaks OpenVPN's management interface, written from
// OpenVPN's management notes (doc/management-notes.txt, shipped by
// Debian as /usr/share/doc/openvpn/management-notes.txt.gz): no Go
// library for it is served here.
//
// # The protocol
//
// A line protocol over a Unix or TCP socket. The client sends one command
// per line; OpenVPN answers "SUCCESS: text" or "ERROR: text", or, for
// commands that print several lines, those lines and then "END".
// Real-time messages (">SOURCE:text": INFO, HOLD, STATE, BYTECOUNT,
// FATAL, LOG ...) may come at any time, between the lines of an answer
// too. ParseLine, ParseState (the up to nine comma-separated fields of a
// state line) and ParseByteCount read them; Client runs commands one at a
// time and hands real-time messages to a callback: StateOn, ByteCount,
// HoldRelease and Signal are the commands device/support uses.
//
// # Bounds
//
// A line is at most MaxLine bytes and an answer at most MaxLines lines; a
// line that is not of the notes' forms, too long, not UTF-8, or an answer
// nobody asked for ends the connection with an error wrapping ErrLine.
// Commands containing a line break are refused (no command injection
// through a value). Signal sends only SIGHUP, SIGTERM, SIGUSR1, SIGUSR2.
//
// # Caveats
//
// The protocol has no request ids: an answer that arrives unasked just
// as a command is sent is taken for that command's, and the connection
// ends at the next one. A command whose context ends closes the
// connection, since its late answer could no longer be told apart.
package openvpn
