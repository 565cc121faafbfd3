package node

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sitegate/sitegate/device/bacnet/stack"
)

// Defaults and bounds of a node. Every table that outside traffic can grow
// has a bound here.
const (
	// DefaultAPDUTimeout is how long a request waits for its answer before
	// it is sent again (clause 12.11.27 suggests 3 s to 6 s; a building
	// network on Ethernet answers in milliseconds, MS/TP in a token cycle).
	DefaultAPDUTimeout = 3 * time.Second
	// DefaultRetries is how often an unanswered request is sent again.
	DefaultRetries = 3
	// DefaultMaxPending bounds the transactions waiting for an answer, all
	// devices together; a request beyond it fails with ErrBusy.
	DefaultMaxPending = 255
	// DefaultMaxDevices bounds the I-Am table. A flood of I-Am from
	// thousands of instances evicts the longest-unseen entries that no
	// request has used, and never grows memory past this.
	DefaultMaxDevices = 2048
	// DefaultMaxSegments is the segment count this node accepts in one
	// segmented answer, and announces in its requests.
	DefaultMaxSegments = 64
	// MaxReassembly bounds the octets of one reassembled segmented answer.
	MaxReassembly = 1 << 17
	// DefaultWindow is the segment window this node acknowledges by.
	DefaultWindow = 16
	// maxServing bounds the confirmed requests served at once; beyond it
	// a request is aborted with out-of-resources instead of queueing
	// behind slow field writes.
	maxServing = 32
	// remoteMaxAPDU is assumed for a device never heard from: the MS/TP
	// maximum, which every BACnet device behind a router can take.
	remoteMaxAPDU = 480
)

// Config configures a node.
type Config struct {
	// Link is the data link (NewBIP, or an mstp.Link).
	Link DataLink
	// Server, when set, answers Who-Is, ReadProperty, ReadPropertyMultiple,
	// WriteProperty and SubscribeCOV for the gateway's own Device object.
	// Without it the node is a client only and rejects confirmed requests.
	Server *Server
	// OnCOV receives every COV notification (confirmed ones are answered
	// first). It is called on the receive goroutine: it must not block.
	OnCOV func(COV)
	// APDUTimeout, Retries, MaxPending, MaxDevices: see the defaults.
	APDUTimeout time.Duration
	Retries     int
	MaxPending  int
	MaxDevices  int
	// Now is the clock; tests may replace it. Default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// COV is one received COV notification.
type COV struct {
	From         Address
	Confirmed    bool
	Notification stack.COVNotification
}

// Stats are a node's counters. Every dropped frame is counted in exactly
// one of them.
type Stats struct {
	Link LinkStats
	// NPDUs delivered by the link, and sent.
	Received, Sent uint64
	// Malformed NPDUs, APDUs or service bodies dropped.
	Malformed uint64
	// NetworkMessages recognised (I-Am-Router-To-Network...) and skipped.
	NetworkMessages uint64
	// NotForUs: NPDUs for another network number (this node routes nothing).
	NotForUs uint64
	// UnknownInvoke: answers to invoke ids never sent, or no longer waited for.
	UnknownInvoke uint64
	// Timeouts of transactions after every retry; Retries sent.
	Timeouts, Retries uint64
	// SegmentsReceived of segmented answers; SegmentTimeouts of answers that
	// never completed; ReassemblyOverflows past MaxReassembly.
	SegmentsReceived, SegmentTimeouts, ReassemblyOverflows uint64
	// IAmReceived; IAmEvicted: entries of a full I-Am table evicted to
	// make room; IAmDropped: I-Ams not kept because every entry of the full
	// table is in use; Busy: requests refused at MaxPending.
	IAmReceived, IAmEvicted, IAmDropped, Busy uint64
	// COVReceived notifications.
	COVReceived uint64
	// Served confirmed requests; RejectsSent, AbortsSent, ErrorsSent answers.
	Served, RejectsSent, AbortsSent, ErrorsSent uint64
	// COVSent notifications by the server; COVFailed that were not acknowledged.
	COVSent, COVFailed uint64
}

type counters struct {
	received, sent, malformed, networkMessages, notForUs, unknownInvoke   atomic.Uint64
	timeouts, retries, segmentsReceived, segmentTimeouts, reassemblyOverf atomic.Uint64
	iamReceived, iamEvicted, iamDropped, busy, covReceived                atomic.Uint64
	served, rejectsSent, abortsSent, errorsSent, covSent, covFailed       atomic.Uint64
}

// Node is one BACnet node on one data link: the client (transactions,
// discovery, reads, writes, COV subscriptions) and optionally the
// gateway's own Device object (Server). Create it with New, then call Run.
type Node struct {
	cfg  Config
	link DataLink
	log  *slog.Logger
	now  func() time.Time
	c    counters

	running atomic.Bool     // Run is running
	ended   atomic.Bool     // Run has returned: requests fail at once
	runCtx  context.Context // set while Run runs; for work Run owns
	wg      sync.WaitGroup  // goroutines Run waits for
	serving chan struct{}   // semaphore of maxServing

	tsm     tsm
	devices deviceTable
	subs    clientSubs
}

// New checks cfg and returns a node; nothing is sent before Run.
func New(cfg Config) (*Node, error) {
	if cfg.Link == nil {
		return nil, fmt.Errorf("node: no data link: %w", ErrConfig)
	}
	if cfg.APDUTimeout == 0 {
		cfg.APDUTimeout = DefaultAPDUTimeout
	}
	if cfg.Retries == 0 {
		cfg.Retries = DefaultRetries
	}
	if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.MaxDevices <= 0 {
		cfg.MaxDevices = DefaultMaxDevices
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{cfg: cfg, link: cfg.Link, log: cfg.Logger, now: cfg.Now, serving: make(chan struct{}, maxServing)}
	n.tsm.init(cfg.MaxPending)
	n.devices.init(cfg.MaxDevices)
	n.subs.init()
	if cfg.Server != nil {
		if err := cfg.Server.attach(n); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// Stats returns a snapshot of the counters.
func (n *Node) Stats() Stats {
	c := &n.c
	return Stats{Link: n.link.LinkStats(),
		Received: c.received.Load(), Sent: c.sent.Load(), Malformed: c.malformed.Load(),
		NetworkMessages: c.networkMessages.Load(), NotForUs: c.notForUs.Load(),
		UnknownInvoke: c.unknownInvoke.Load(), Timeouts: c.timeouts.Load(), Retries: c.retries.Load(),
		SegmentsReceived: c.segmentsReceived.Load(), SegmentTimeouts: c.segmentTimeouts.Load(),
		ReassemblyOverflows: c.reassemblyOverf.Load(), IAmReceived: c.iamReceived.Load(),
		IAmEvicted: c.iamEvicted.Load(), IAmDropped: c.iamDropped.Load(), Busy: c.busy.Load(), COVReceived: c.covReceived.Load(),
		Served: c.served.Load(), RejectsSent: c.rejectsSent.Load(), AbortsSent: c.abortsSent.Load(),
		ErrorsSent: c.errorsSent.Load(), COVSent: c.covSent.Load(), COVFailed: c.covFailed.Load()}
}

// Run runs the node until ctx ends: the link's receive loop, the
// resubscription of COV subscriptions, and the server's COV checks. Every
// goroutine it starts has ended when it returns.
func (n *Node) Run(ctx context.Context) error {
	if !n.running.CompareAndSwap(false, true) {
		return fmt.Errorf("node: already running: %w", ErrConfig)
	}
	defer func() {
		n.ended.Store(true)
		n.running.Store(false)
		// Nothing will answer the transactions still waiting: end them now
		// rather than at their timeouts.
		n.tsm.mu.Lock()
		for _, x := range n.tsm.pending {
			n.tsm.finish(x, reply{err: ErrNotRunning})
		}
		n.tsm.mu.Unlock()
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n.tsm.mu.Lock()
	n.runCtx = ctx
	n.tsm.mu.Unlock()
	defer n.wg.Wait()
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.maintain(ctx) }()
	if s := n.cfg.Server; s != nil {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); s.run(ctx) }()
		// Announce ourselves once, as clause 16.10 suggests at start-up.
		n.wg.Add(1)
		go func() { defer n.wg.Done(); s.announce() }()
	}
	err := n.link.Run(ctx, n.receive)
	cancel()
	return err
}

// maintain renews COV subscriptions before their lifetime ends.
func (n *Node) maintain(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.renewSubscriptions(ctx)
		}
	}
}

// sendAPDU wraps apdu in an NPDU for to and sends it.
func (n *Node) sendAPDU(to Address, expectingReply bool, apdu []byte) error {
	np := stack.NPDU{ExpectingReply: expectingReply, Payload: apdu}
	if to.Net != 0 {
		np.HasDest, np.DNET, np.DADR, np.HopCount = true, to.Net, []byte(to.Adr), stack.DefaultHopCount
	}
	buf := make([]byte, 0, len(apdu)+24)
	buf, err := stack.AppendNPDU(buf, np)
	if err != nil {
		return fmt.Errorf("send to %s: %w", to, err)
	}
	if err := n.link.Send([]byte(to.MAC), buf); err != nil {
		return err
	}
	n.c.sent.Add(1)
	return nil
}

// receive is the link's deliver: one NPDU from src.
func (n *Node) receive(src, npdu []byte) {
	n.c.received.Add(1)
	np, err := stack.DecodeNPDU(npdu)
	if err != nil {
		n.c.malformed.Add(1)
		n.log.Debug("bacnet: dropped npdu", "from", fmtMAC(string(src)), "err", err)
		return
	}
	if np.IsNetworkMessage {
		// Routers announce themselves and ask for networks; this node
		// routes nothing and answers replies through the router they
		// came from, so it needs none of them.
		n.c.networkMessages.Add(1)
		return
	}
	if np.HasDest && np.DNET != stack.GlobalNetwork {
		n.c.notForUs.Add(1)
		return
	}
	from := Address{MAC: string(src)}
	if np.HasSource {
		from.Net, from.Adr = np.SNET, string(np.SADR)
	}
	a, err := stack.DecodeAPDU(np.Payload)
	if err != nil {
		n.c.malformed.Add(1)
		n.log.Debug("bacnet: dropped apdu", "from", from, "err", err)
		return
	}
	switch a.Type {
	case stack.PDUUnconfirmedRequest:
		n.unconfirmed(from, a)
	case stack.PDUConfirmedRequest:
		n.confirmed(from, a)
	default:
		n.tsm.answer(n, from, a)
	}
}

func (n *Node) unconfirmed(from Address, a stack.APDU) {
	switch stack.UnconfirmedService(a.Service) {
	case stack.ServiceIAm:
		m, err := stack.DecodeIAm(a.Payload)
		if err != nil {
			n.c.malformed.Add(1)
			return
		}
		n.c.iamReceived.Add(1)
		n.devices.seen(n, m, from)
	case stack.ServiceWhoIs:
		w, err := stack.DecodeWhoIs(a.Payload)
		if err != nil {
			n.c.malformed.Add(1)
			return
		}
		if s := n.cfg.Server; s != nil {
			s.whoIs(from, w)
		}
	case stack.ServiceUnconfirmedCOVNotification:
		cov, err := stack.DecodeCOVNotification(a.Payload)
		if err != nil {
			n.c.malformed.Add(1)
			return
		}
		n.c.covReceived.Add(1)
		if n.cfg.OnCOV != nil {
			n.cfg.OnCOV(COV{From: from, Notification: cov})
		}
	}
	// Other unconfirmed services need no answer and are ignored.
}

func (n *Node) confirmed(from Address, a stack.APDU) {
	if a.Segmented {
		// This node takes no segmented requests (segmentation-supported
		// says so); clause 20.1.2.11 has it abort them.
		n.abort(from, a.InvokeID, stack.AbortSegmentationNotSupported)
		return
	}
	if stack.ConfirmedService(a.Service) == stack.ServiceConfirmedCOVNotification {
		cov, err := stack.DecodeCOVNotification(a.Payload)
		if err != nil {
			n.c.malformed.Add(1)
			n.reject(from, a.InvokeID, stack.RejectInvalidTag)
			return
		}
		n.c.covReceived.Add(1)
		n.simpleAck(from, a.InvokeID, a.Service)
		if n.cfg.OnCOV != nil {
			n.cfg.OnCOV(COV{From: from, Confirmed: true, Notification: cov})
		}
		return
	}
	s := n.cfg.Server
	if s == nil {
		n.reject(from, a.InvokeID, stack.RejectUnrecognizedService)
		return
	}
	// Serve on its own goroutine: an answer may wait for a field write.
	select {
	case n.serving <- struct{}{}:
	default:
		n.abort(from, a.InvokeID, stack.AbortOutOfResources)
		return
	}
	n.tsm.mu.Lock()
	ctx := n.runCtx
	n.tsm.mu.Unlock()
	// The payload aliases the link's receive buffer, which the next frame
	// overwrites (DataLink's contract): the goroutine gets its own copy.
	a.Payload = append([]byte(nil), a.Payload...)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		defer func() { <-n.serving }()
		s.serve(ctx, from, a)
	}()
}

func (n *Node) simpleAck(to Address, invoke, service uint8) {
	b, _ := stack.AppendAPDU(nil, stack.APDU{Type: stack.PDUSimpleAck, InvokeID: invoke, Service: service})
	_ = n.sendAPDU(to, false, b)
}

func (n *Node) reject(to Address, invoke uint8, r stack.RejectReason) {
	n.c.rejectsSent.Add(1)
	b, _ := stack.AppendAPDU(nil, stack.APDU{Type: stack.PDUReject, InvokeID: invoke, Reason: uint8(r)})
	_ = n.sendAPDU(to, false, b)
}

func (n *Node) abort(to Address, invoke uint8, r stack.AbortReason) {
	n.c.abortsSent.Add(1)
	b, _ := stack.AppendAPDU(nil, stack.APDU{Type: stack.PDUAbort, Server: true, InvokeID: invoke, Reason: uint8(r)})
	_ = n.sendAPDU(to, false, b)
}

func (n *Node) errorPDU(to Address, invoke, service uint8, cls stack.ErrorClass, code stack.ErrorCode) {
	n.c.errorsSent.Add(1)
	b, _ := stack.AppendAPDU(nil, stack.APDU{Type: stack.PDUError, InvokeID: invoke, Service: service, ErrorClass: cls, ErrorCode: code})
	_ = n.sendAPDU(to, false, b)
}
