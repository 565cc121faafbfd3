// Package modbus is the gateway's Modbus engine: it plans the fewest reads
// that cover a device's points, polls every device of the site over TCP and
// RTU, decodes registers into values, isolates points a device refuses,
// tracks each device's state and statistics, and serves the console's scan,
// raw reads and writes (device.FieldBus).
//
// # Topology
//
// One endpoint per physical connection (a TCP address, or a serial line)
// owns its link in one goroutine, which also runs the poll cycles of every
// device behind it (by unit id) with one timer; the console's reads, writes
// and scans are sent to that goroutine and served between two cycles. A
// device is polled on a grid of its interval (the instants that are whole
// multiples of it), so devices of one interval on one connection are read
// back to back, once per interval: the gateway wakes once per interval
// and connection, not once per device. The first cycles come at start.
// A site change rebuilds the topology without restarting the gateway.
//
// # Pipelining
//
// A TCP bus with max_in_flight above 1 sends the first read of every device
// due together in batches of that many requests, answers matched by
// transaction id in any order, so a burst of devices costs a few writes
// and reads instead of a round trip each. A batch waits for each answer up
// to the longest timeout of its devices; when none comes, the first
// request still unanswered is the one that timed out, and the others are
// asked again alone. The default (1) sends one request at a time, for
// servers that drop what arrives while they work.
//
// # Failure handling
//
// A cycle stops at the first request that gets no usable answer, so a hung
// device costs one timeout per cycle and only on its own connection. After
// a timeout or a malformed answer the TCP connection is dropped (the late
// reply must not be read as the answer to the next request) and a serial
// line is drained until quiet. A device that fails OfflineAfter
// cycles in a row is offline and polled with a growing interval. An
// exception 2 or 3 on a merged read splits it until the refused points
// stand alone; they are reported as errors and the rest keeps being read
// merged.
//
// # Caveats
//
//   - Requests have no context: deadlines are the link's timeout, enforced
//     per request. Modbus TCP is this package's own client (tcp.go, pdu.go):
//     one request outstanding per connection, buffers reused, one read
//     deadline per request.
//   - RTU uses goburrow's packager (framing, CRC) over this package's own
//     transporter, which reads the answer as soon as it is complete instead
//     of sleeping a fixed estimate, and keeps the 3.5-character silence.
//   - The grid is placed by the wall clock (a step of the clock moves it);
//     a cycle that overruns its interval skips the slots it missed.
//   - Values are float64 after scaling: 64-bit integers beyond 2^53 lose
//     precision.
package modbus
