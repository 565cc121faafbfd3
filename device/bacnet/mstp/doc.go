// Package mstp is BACnet MS/TP (clause 9) for the gateway: the frame
// format with its header CRC-8 and data CRC-16 (Annex G), the receive
// frame state machine, and the master node state machine (token passing,
// poll for master, reply postponed, lost-token recovery) over any
// io.ReadWriter that is an RS-485 line. A Link is a node.DataLink, so the
// same network and application layers run over MS/TP as over BACnet/IP.
//
// # Master node
//
// One goroutine runs the state machine of clause 9.5.6, named as there
// (IDLE, USE_TOKEN, WAIT_FOR_REPLY, DONE_WITH_TOKEN, PASS_TOKEN,
// NO_TOKEN, POLL_FOR_MASTER, ANSWER_DATA_REQUEST); a reader goroutine
// decodes frames and keeps the silence timer. Send queues an NPDU; it goes
// out while this station holds the token, at most MaxInfoFrames per token,
// as data-expecting-reply when the NPDU's control octet asks for a reply.
// A request addressed to this station is answered in the same token
// cycle when the network layer replies within T_reply_delay, else with
// Reply Postponed and the answer follows with this station's token.
//
// # Timing
//
// StandardTiming gives clause 9.5.3's parameters at 9600..115200 baud.
// Where the standard gives a range (T_frame_abort, T_reply_timeout,
// T_usage_timeout) the upper end is used, because this runs on an
// operating system without real-time scheduling. Config.Timing overrides
// them.
//
// # Caveats
//
//   - Master node only: no slave node, no extended (COBS) frames, no
//     auto-baud or automatic MAC address.
//   - The port's baud rate and framing (8N1) are set by whoever opens it.
//   - The timers are those of Go's scheduler: on a loaded machine a reply
//     can come late enough for the peer to poll again; the protocol
//     recovers, at the cost of a token cycle.
package mstp
