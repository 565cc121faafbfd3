// Package sim serves simulated Modbus devices, over TCP and over RTU serial
// lines, for the demo, for `sitegate sim modbus`, and for tests of the
// poller that want a real server on the other end of a socket or a pty.
//
// # Devices
//
// A Model is one device built from points (NewModel, ProfileModel for a
// built-in profile, DefaultModel for the map served without a profile:
// every table 0..99). Each point moves: sine for temperatures, voltages and
// currents, ramp for speeds and setpoints, counter for energy and run
// hours, toggling bools for coils and discrete inputs. The value is
// encoded with the codec of package modbus using the point's type, byte
// order, scale and offset (raw = (value - offset) / scale), so the poller
// decoding it gets the value back. Writes to writable points (functions 5,
// 6, 15, 16) are held and read back; writes anywhere else are exception 2.
// With WithClock (and a ManualClock) every value is predictable, and
// Model.Value says what a read returns.
//
// # Serving
//
// A Server maps unit ids to models, with a default model for every other
// unit id (so it answers any unit id). ListenTCP serves Modbus TCP: a
// front of this package's own accepts the clients, answers device
// identification (43/14) and report server id (17) itself, and relays the
// data functions byte for byte to a github.com/simonvetter/modbus server on
// a loopback port of its own. ServeRTU serves RTU on any
// io.ReadWriter (a pty master from OpenPTY in tests), ServeSerial on a
// serial port opened with github.com/goburrow/serial. RTU framing is this
// package's own (simonvetter has no RTU server): frames are sized by
// function code, checked by CRC, and a bad frame is dropped with everything
// after it until the line is quiet, as a real device resynchronises.
// Both transports answer through the same handler functions and models.
// RTU also answers function 43/14 (read device identification, basic
// objects: VendorName "sitegate", ProductCode the model's name,
// MajorMinorRevision "1.0") and function 17 (report server ID, which
// mbpoll -u uses), and honours broadcasts (unit 0: writes executed by
// every model, never answered).
//
// Line sets RTU timing: Baud makes a pty keep a real line's wire time (11
// bits per character, 3.5-character silence) so that a client's cycle can
// be measured against the formula; Turnaround adds processing time.
//
// # Faults
//
// Server.SetFaults makes one unit id misbehave: bad CRC, wrong unit id or
// truncated replies (RTU), silence, late replies (a stale reply in the
// client's TCP socket when later than its timeout), and addresses refused
// with exception 2. Faults may be limited to the next few requests.
//
// # Caveats
//
//   - simonvetter binds its own listener and does not expose it: its
//     internal port is picked free first and picked again if another
//     process takes it in the instant between.
//   - simonvetter's handler interface has no hook for function codes
//     other than the data ones, which is why the TCP front answers 43 and
//     17 itself; every other function is simonvetter's exception 1. A
//     unit without a model answers identification with exception 0x0B,
//     as a TCP gateway does.
//   - The front serves one request at a time per connection (as Modbus
//     TCP clients send them); a client that pipelines waits.
//   - simonvetter checks quantities itself and drops the TCP connection,
//     instead of answering exception 3, for a read of 0 or more than 125
//     registers (2000 bits), or a bad byte count. RTU answers exception 3.
//   - BadCRC, WrongUnit and Truncate apply to RTU only: simonvetter writes
//     TCP replies itself. A Silent unit on TCP holds its connection (and
//     every later request on it) until the next SetFaults for that unit or
//     Close, as a stuck gateway would.
//   - On TCP, a unit id with no model and no default is answered with
//     exception 0x0B (gateway target failed to respond); on RTU it gets no
//     answer. A scan should count 0x0A and 0x0B as absent.
//   - Close waits for everything this package starts. simonvetter's
//     per-connection goroutines end a moment later, when they see their
//     closed sockets; ServeRTU on an io.ReadWriter without deadlines leaves
//     its reader in Read until the caller closes it.
//   - Integer counters wrap at their type's range, as real ones do, and
//     tick at least one raw step per second so that run hours visibly move
//     (fast-forwarded). 64-bit values stay within ±2^53.
//   - Over a pty without Line.Baud a reply is written at once; goburrow's
//     RTU client relies on that (it reads an exception reply only if all
//     five bytes are there after its fixed sleep).
package sim
