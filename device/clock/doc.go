// Package clock keeps track of whether the gateway's clock can be trusted.
// Certificates, signatures and audit timestamps all depend on it
// (README requirement 9), so the console and the health stream show it.
//
// A Clock asks the site's NTP servers (clock.ntp_servers: a host, or
// host:port; the port defaults to 123) for the time when it starts and then
// once per Period (default 5 minutes), re-reading the server list every
// round so that a site change takes effect without a restart. With a
// Gateway it also listens for site changes and asks the new servers at
// once.
//
//	c := clock.New(clock.Options{Gateway: gw, SetClock: setClock, Logger: log})
//	gw.AddHealthSource(c.FillHealth) // the health section "clock"
//	c.Start(ctx)
//	defer c.Stop()
//
// Sync runs one round at once (tests, and a console "sync now"); Status
// gives the details of the latest round, server by server.
//
// # Choosing an answer
//
// Every server of a round is asked at the same time, each with its own
// Timeout. An answer counts only when ntp.Response.Validate accepts it
// (leap indicator, stratum 1..15, kiss-of-death, freshness, root distance)
// and its root distance is at most MaxRootDistance.
//
// Of the valid answers, the largest group whose offsets lie within
// MaxDisagreement of one member is taken, and only if it is a strict
// majority of the valid answers; the answer in the middle of that group (its
// median by offset) is the result, and the group's other members agree with
// it. Valid answers outside the group are reported as outliers ("lying
// servers") and ignored. With one good and one lying server there is no
// majority: nothing is believed and the clock is reported unsynchronised,
// because there is no way to tell which of the two lies. Configure three or
// more servers where that matters; a pool name counts as one server (it is
// asked once per round).
//
// # Synchronised
//
// The clock is synchronised when the latest accepted answer is at most two
// periods old and says that |offset| < 1 s. Offset is the server's time minus
// ours (add it to the local time to get the server's). UnsyncedFor tells how
// long it has not been synchronised, which health turns into the
// clock.unsynced alert after an hour.
//
// # Setting the clock
//
// By default the service only reports. With Options.SetClock (sitegate run
// --set-clock, which needs root) an accepted offset above StepThreshold
// (128 ms) is corrected by stepping the system clock with settimeofday(2);
// smaller offsets are left alone. Slewing (adjtime) is not portable and is
// not used, so a host that needs sub-128 ms accuracy should run a full NTP
// daemon (chrony, systemd-timesyncd) and leave SetClock off. Nothing is
// audited here: Options.OnStep tells the caller of each step, and the caller
// audits it.
//
// # Caveats
//
//   - A single configured server cannot be cross-checked: whatever it says
//     (if Validate accepts it) is believed.
//   - This is an SNTP client: one packet per server per round, no filtering
//     of network jitter and no frequency discipline. Offsets are accurate to
//     about half the round trip.
//   - Stepping moves the wall clock backwards as readily as forwards; Go's
//     timers use the monotonic clock and are not affected, but timestamps
//     written around the step are.
//   - A kiss-of-death answer suspends that server: for RATE four periods,
//     for DENY and RSTR a day (RFC 5905, section 7.4).
//   - Options.Now is used for the service's own bookkeeping (last sync,
//     expiry); the network query always measures the system clock, which
//     is what SetClock corrects.
package clock
