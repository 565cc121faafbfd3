package mstp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sitegate/sitegate/device/bacnet/node"
)

// Protocol constants of the master node (clause 9.5.3).
const (
	// Npoll: every Npoll-th token the master polls for a new successor.
	Npoll = 50
	// NretryToken: how often a token pass is retried before a new
	// successor is sought.
	NretryToken = 1
	// NminOctets: octets that show the token was taken up.
	NminOctets = 4
	// DefaultMaxInfoFrames is Nmax_info_frames when none is configured.
	DefaultMaxInfoFrames = 1
	// MaxQueue bounds the frames waiting for the token; Send fails with
	// node.ErrQueueFull beyond it.
	MaxQueue = 64
	// MaxAPDU is the largest APDU over MS/TP.
	MaxAPDU = 480
)

// Timing are the master node's timers.
type Timing struct {
	// FrameAbort: silence inside a frame after which it is dropped.
	FrameAbort time.Duration
	// NoToken: silence after which the token is taken for lost.
	NoToken time.Duration
	// ReplyTimeout: how long a reply to a data-expecting-reply frame is awaited.
	ReplyTimeout time.Duration
	// ReplyDelay: how long this node may take to answer one.
	ReplyDelay time.Duration
	// UsageTimeout: how long a station passed the token (or polled) has to
	// start using it (answer).
	UsageTimeout time.Duration
	// Slot: the time per station by which lost-token recovery is staggered.
	Slot time.Duration
	// Turnaround: silence after the last octet received before sending.
	Turnaround time.Duration
}

// StandardTiming is clause 9.5.3's timing at a baud rate. Where the
// standard gives a range, the upper end is used: an operating system
// without real-time scheduling needs the margin, and the ranges exist for
// it.
func StandardTiming(baud int) Timing {
	bit := time.Second / time.Duration(baud)
	return Timing{
		FrameAbort:   100 * time.Millisecond, // 60 bit times minimum, 100 ms maximum
		NoToken:      500 * time.Millisecond,
		ReplyTimeout: 300 * time.Millisecond, // 255..300 ms
		ReplyDelay:   250 * time.Millisecond,
		UsageTimeout: 100 * time.Millisecond, // 20..100 ms
		Slot:         10 * time.Millisecond,
		Turnaround:   40 * bit,
	}
}

// Config configures a master node.
type Config struct {
	// Port is the RS-485 line (a serial port set to Baud, 8N1). Run stops
	// its reader through SetReadDeadline when the port has it, else by
	// closing it, so the port must have one of the two.
	Port io.ReadWriter
	// MAC is this station's address, 0..127.
	MAC uint8
	// MaxMaster is the highest master address polled (default 127).
	MaxMaster uint8
	// MaxInfoFrames is how many frames one token lets this node send.
	MaxInfoFrames int
	// Baud, 9600..115200 (default 38400), for the timing.
	Baud int
	// Timing overrides StandardTiming(Baud) when set.
	Timing *Timing
	Logger *slog.Logger
}

// Stats are a master node's counters and its view of the ring.
type Stats struct {
	node.LinkStats
	TokensReceived, TokensPassed uint64
	PollsSent, PollReplies       uint64
	// LostTokens: times this node generated a token after silence.
	LostTokens uint64
	// ReplyTimeouts: data-expecting-reply frames left unanswered.
	ReplyTimeouts uint64
	// Postponed: requests this node answered with Reply Postponed.
	Postponed  uint64
	SoleMaster bool
	// NextStation is the station the token goes to (this MAC: none known).
	NextStation uint8
}

type outFrame struct {
	dst       uint8
	data      []byte
	expecting bool
}

type rxFrame struct {
	Frame
	at time.Time
}

// Link is an MS/TP master node and the data link it gives the network
// layer (node.DataLink).
type Link struct {
	cfg    Config
	timing Timing
	log    *slog.Logger

	mu     sync.Mutex
	queue  []outFrame
	queued chan struct{}

	lastActivity atomic.Int64 // unix nanos of the last octet in or out
	rx           chan rxFrame

	framesIn, framesOut, malformed, dropped atomic.Uint64
	tokensIn, tokensOut, polls, pollReplies atomic.Uint64
	lost, replyTimeouts, postponed          atomic.Uint64
	soleMaster                              atomic.Bool
	nextStation                             atomic.Uint32

	wmu sync.Mutex // one frame on the wire at a time
}

// New checks cfg and returns the link; nothing is sent before Run.
func New(cfg Config) (*Link, error) {
	if cfg.Port == nil {
		return nil, fmt.Errorf("mstp: no port: %w", node.ErrConfig)
	}
	_, hasDeadline := cfg.Port.(interface{ SetReadDeadline(time.Time) error })
	_, hasClose := cfg.Port.(io.Closer)
	if !hasDeadline && !hasClose {
		return nil, fmt.Errorf("mstp: the port can neither time out nor close, so Run could not stop its reader: %w", node.ErrConfig)
	}
	if cfg.MAC > MaxMasterMAC {
		return nil, fmt.Errorf("mstp: mac %d is outside 0..127: %w", cfg.MAC, node.ErrConfig)
	}
	if cfg.MaxMaster == 0 {
		cfg.MaxMaster = MaxMasterMAC
	}
	if cfg.MaxMaster > MaxMasterMAC || cfg.MaxMaster < cfg.MAC {
		return nil, fmt.Errorf("mstp: max_master %d must be %d..127: %w", cfg.MaxMaster, cfg.MAC, node.ErrConfig)
	}
	if cfg.MaxInfoFrames <= 0 {
		cfg.MaxInfoFrames = DefaultMaxInfoFrames
	}
	if cfg.Baud == 0 {
		cfg.Baud = 38400
	}
	switch cfg.Baud {
	case 9600, 19200, 38400, 57600, 76800, 115200:
	default:
		return nil, fmt.Errorf("mstp: baud %d is not one of 9600, 19200, 38400, 57600, 76800, 115200: %w", cfg.Baud, node.ErrConfig)
	}
	t := StandardTiming(cfg.Baud)
	if cfg.Timing != nil {
		t = *cfg.Timing
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Link{cfg: cfg, timing: t, log: cfg.Logger, queued: make(chan struct{}, 1), rx: make(chan rxFrame, 16)}
	l.nextStation.Store(uint32(cfg.MAC))
	return l, nil
}

// MaxAPDU is MaxAPDU.
func (l *Link) MaxAPDU() int { return MaxAPDU }

// LinkStats returns the link's counters.
func (l *Link) LinkStats() node.LinkStats {
	return node.LinkStats{FramesIn: l.framesIn.Load(), FramesOut: l.framesOut.Load(),
		Malformed: l.malformed.Load(), Dropped: l.dropped.Load()}
}

// Stats returns the master node's counters.
func (l *Link) Stats() Stats {
	return Stats{LinkStats: l.LinkStats(), TokensReceived: l.tokensIn.Load(), TokensPassed: l.tokensOut.Load(),
		PollsSent: l.polls.Load(), PollReplies: l.pollReplies.Load(), LostTokens: l.lost.Load(),
		ReplyTimeouts: l.replyTimeouts.Load(), Postponed: l.postponed.Load(), SoleMaster: l.soleMaster.Load(),
		NextStation: uint8(l.nextStation.Load())}
}

// Send queues an NPDU for station dst[0] (empty: broadcast); it goes out
// when this node holds the token.
func (l *Link) Send(dst []byte, npdu []byte) error {
	to := uint8(Broadcast)
	switch len(dst) {
	case 0:
	case 1:
		to = dst[0]
	default:
		return fmt.Errorf("mstp send: %d-octet address is not an MS/TP station: %w", len(dst), node.ErrConfig)
	}
	if len(npdu) > MaxData {
		return fmt.Errorf("mstp send: %d octets: %w", len(npdu), ErrTooLong)
	}
	// The NPDU control octet's data-expecting-reply bit picks the frame
	// type (clause 9.5.1), so the network layer needs no MS/TP knowledge.
	expecting := len(npdu) >= 2 && npdu[1]&0x04 != 0 && to != Broadcast
	l.mu.Lock()
	if len(l.queue) >= MaxQueue {
		l.mu.Unlock()
		l.dropped.Add(1)
		return node.ErrQueueFull
	}
	l.queue = append(l.queue, outFrame{dst: to, data: append([]byte(nil), npdu...), expecting: expecting})
	l.mu.Unlock()
	select {
	case l.queued <- struct{}{}:
	default:
	}
	return nil
}

func (l *Link) pop() (outFrame, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) == 0 {
		return outFrame{}, false
	}
	f := l.queue[0]
	l.queue = l.queue[1:]
	return f, true
}

// popReplyTo takes the first queued reply (not expecting one) for dst.
func (l *Link) popReplyTo(dst uint8) (outFrame, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, f := range l.queue {
		if f.dst == dst && !f.expecting {
			l.queue = append(l.queue[:i], l.queue[i+1:]...)
			return f, true
		}
	}
	return outFrame{}, false
}

func (l *Link) touch() { l.lastActivity.Store(time.Now().UnixNano()) }

func (l *Link) silence() time.Duration {
	return time.Since(time.Unix(0, l.lastActivity.Load()))
}

func (l *Link) write(f Frame) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	// Turnaround: leave the line quiet briefly after the last octet so the
	// station that sent it can release its driver (9.5.5.1).
	if s := l.silence(); s < l.timing.Turnaround {
		time.Sleep(l.timing.Turnaround - s)
	}
	b, err := AppendFrame(nil, f)
	if err != nil {
		l.dropped.Add(1)
		return
	}
	if _, err := l.cfg.Port.Write(b); err != nil {
		l.log.Warn("mstp: write failed", "err", err)
		return
	}
	l.touch()
	l.framesOut.Add(1)
	switch f.Type {
	case Token:
		l.tokensOut.Add(1)
	case PollForMaster:
		l.polls.Add(1)
	}
}

// Run runs the master node until ctx ends: a reader goroutine decodes
// frames from the port, and this goroutine runs the master state machine
// (clause 9.5.6), handing data frames to deliver.
func (l *Link) Run(parent context.Context, deliver func(src, npdu []byte)) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	l.touch()
	var wg sync.WaitGroup
	readErr := make(chan error, 1)
	wg.Add(2)
	go func() {
		defer wg.Done()
		readErr <- l.read(ctx)
		cancel() // a dead port ends the state machine too
	}()
	go func() {
		defer wg.Done()
		<-ctx.Done()
		if d, ok := l.cfg.Port.(interface{ SetReadDeadline(time.Time) error }); ok {
			_ = d.SetReadDeadline(time.Unix(1, 0))
		} else if c, ok := l.cfg.Port.(io.Closer); ok {
			_ = c.Close()
		}
	}()
	m := master{l: l, ctx: ctx, deliver: deliver, ts: l.cfg.MAC, max: l.cfg.MaxMaster}
	m.run()
	cancel()
	wg.Wait()
	if err := <-readErr; err != nil && parent.Err() == nil {
		return err
	}
	return nil
}

// read is the receive frame state machine over the port.
func (l *Link) read(ctx context.Context) error {
	var d Decoder
	buf := make([]byte, 512)
	last := time.Now()
	for {
		n, err := l.cfg.Port.Read(buf)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return fmt.Errorf("mstp: read: %w", err)
		}
		now := time.Now()
		if d.InFrame() && now.Sub(last) > l.timing.FrameAbort {
			d.Reset() // T_frame_abort: the rest of that frame is not coming
			l.malformed.Add(1)
		}
		last = now
		l.touch()
		for _, c := range buf[:n] {
			f, ok, err := d.Feed(c)
			if err != nil {
				l.malformed.Add(1)
				continue
			}
			if !ok {
				continue
			}
			l.framesIn.Add(1)
			f.Data = append([]byte(nil), f.Data...)
			select {
			case l.rx <- rxFrame{Frame: f, at: now}:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

type state int

const (
	stInitialize state = iota
	stIdleM
	stUseToken
	stWaitForReply
	stDoneWithToken
	stPassToken
	stNoToken
	stPollForMaster
	stAnswerDataRequest
)

// master holds the state machine's variables (9.5.2), named as there.
type master struct {
	l       *Link
	ctx     context.Context
	deliver func(src, npdu []byte)

	ts, ns, ps, max uint8
	frameCount      int
	tokenCount      int
	retryCount      int
	soleMaster      bool
	replyTo         uint8 // WAIT_FOR_REPLY: the station asked; ANSWER_DATA_REQUEST: the asker
	replyBy         time.Time
	pending         *rxFrame // a frame that ended a wait and is handled in IDLE
}

func (m *master) next(a uint8) uint8 { return uint8((int(a) + 1) % (int(m.max) + 1)) }

func (m *master) setNS(ns uint8) {
	m.ns = ns
	m.l.nextStation.Store(uint32(ns))
}

// wait returns the next frame, or false once silence reaches limit (or
// ctx ends: m.ctx.Err() tells).
func (m *master) wait(limit time.Duration) (rxFrame, bool) {
	if m.pending != nil {
		f := *m.pending
		m.pending = nil
		return f, true
	}
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		left := limit - m.l.silence()
		if left <= 0 {
			// Frames decoded but not yet taken count as activity.
			select {
			case f := <-m.l.rx:
				return f, true
			default:
				return rxFrame{}, false
			}
		}
		t.Reset(left)
		select {
		case <-m.ctx.Done():
			return rxFrame{}, false
		case f := <-m.l.rx:
			return f, true
		case <-t.C:
		}
	}
}

func (m *master) send(t FrameType, dst uint8, data []byte) {
	m.l.write(Frame{Type: t, Dest: dst, Src: m.ts, Data: data})
}

// restartPoll polls the station after `after` for a successor, knowing
// none meanwhile: the shared action of GenerateToken, FindNewSuccessor and
// SoleMasterRestartMaintenancePFM.
func (m *master) restartPoll(after uint8, tokenCount int) state {
	m.ps = m.next(after)
	m.send(PollForMaster, m.ps, nil)
	m.setNS(m.ts)
	m.retryCount, m.tokenCount = 0, tokenCount
	return stPollForMaster
}

func (m *master) run() {
	st := stInitialize
	for m.ctx.Err() == nil {
		st = m.step(st)
	}
}

func (m *master) step(st state) state {
	l, tm := m.l, m.l.timing
	switch st {
	case stInitialize:
		m.setNS(m.ts)
		m.ps = m.ts
		m.tokenCount = Npoll // poll for a successor at the first token
		m.soleMaster = false
		l.soleMaster.Store(false)
		return stIdleM

	case stIdleM:
		f, ok := m.wait(tm.NoToken)
		if !ok {
			if m.ctx.Err() != nil {
				return stIdleM
			}
			return stNoToken
		}
		return m.idleFrame(f)

	case stNoToken:
		// Stagger recovery by station address, so the lowest takes it.
		f, ok := m.wait(tm.NoToken + time.Duration(m.ts)*tm.Slot)
		if ok {
			m.pending = &f
			return stIdleM
		}
		if m.ctx.Err() != nil {
			return stNoToken
		}
		l.lost.Add(1)
		return m.restartPoll(m.ts, 0) // GenerateToken

	case stUseToken:
		if m.frameCount >= l.cfg.MaxInfoFrames {
			return stDoneWithToken
		}
		out, ok := l.pop()
		if !ok {
			return stDoneWithToken
		}
		m.frameCount++
		if out.expecting {
			m.send(DataExpectingReply, out.dst, out.data)
			m.replyTo = out.dst
			return stWaitForReply
		}
		m.send(DataNotExpectingReply, out.dst, out.data)
		return stDoneWithToken

	case stWaitForReply:
		f, ok := m.wait(tm.ReplyTimeout)
		if !ok {
			if m.ctx.Err() == nil {
				l.replyTimeouts.Add(1)
				m.frameCount = l.cfg.MaxInfoFrames
			}
			return stDoneWithToken
		}
		if f.Dest == m.ts && f.Src == m.replyTo {
			switch f.Type {
			case DataNotExpectingReply:
				m.deliver([]byte{f.Src}, f.Data)
				return stDoneWithToken
			case ReplyPostponed, TestResponse:
				return stDoneWithToken
			}
		}
		m.pending = &f // ReceivedUnexpectedFrame
		return stIdleM

	case stDoneWithToken:
		l.mu.Lock()
		more := len(l.queue) > 0
		l.mu.Unlock()
		switch {
		case m.frameCount < l.cfg.MaxInfoFrames && more:
			return stUseToken
		case m.tokenCount < Npoll-1 && m.soleMaster:
			// Alone on the line: keep the token; pause briefly for work
			// instead of spinning.
			if !more {
				t := time.NewTimer(tm.Slot)
				select {
				case <-l.queued:
				case f := <-l.rx:
					m.pending = &f
				case <-t.C:
				case <-m.ctx.Done():
				}
				t.Stop()
				if m.pending != nil {
					m.soleMaster = false
					l.soleMaster.Store(false)
					return stIdleM
				}
			}
			m.frameCount = 0
			m.tokenCount++
			return stUseToken
		case (m.tokenCount < Npoll-1 && !m.soleMaster) || m.ns == m.next(m.ts):
			m.tokenCount++
			m.send(Token, m.ns, nil)
			m.retryCount = 0
			return stPassToken
		case m.next(m.ps) != m.ns:
			m.ps = m.next(m.ps)
			m.send(PollForMaster, m.ps, nil)
			m.retryCount = 0
			return stPollForMaster
		case !m.soleMaster:
			m.ps = m.ts
			m.send(Token, m.ns, nil)
			m.retryCount, m.tokenCount = 0, 1
			return stPassToken
		default:
			return m.restartPoll(m.ns, 1) // SoleMasterRestartMaintenancePFM
		}

	case stPassToken:
		f, ok := m.wait(tm.UsageTimeout)
		if ok {
			m.pending = &f // SawTokenUser
			return stIdleM
		}
		if m.ctx.Err() != nil {
			return stPassToken
		}
		if m.retryCount < NretryToken {
			m.retryCount++
			m.send(Token, m.ns, nil)
			return stPassToken
		}
		return m.restartPoll(m.ns, 0) // FindNewSuccessor

	case stPollForMaster:
		f, ok := m.wait(tm.UsageTimeout)
		if ok {
			if f.Type == ReplyToPollForMaster && f.Dest == m.ts {
				l.pollReplies.Add(1)
				m.soleMaster = false
				l.soleMaster.Store(false)
				m.setNS(f.Src)
				m.send(Token, m.ns, nil)
				m.ps = m.ts
				m.tokenCount, m.retryCount = 0, 0
				return stPassToken
			}
			m.pending = &f
			return stIdleM
		}
		if m.ctx.Err() != nil {
			return stPollForMaster
		}
		switch {
		case m.soleMaster:
			m.frameCount = 0
			return stUseToken
		case m.ns != m.ts:
			m.send(Token, m.ns, nil)
			m.retryCount = 0
			return stPassToken
		case m.next(m.ps) != m.ts:
			m.ps = m.next(m.ps)
			m.send(PollForMaster, m.ps, nil)
			m.retryCount = 0
			return stPollForMaster
		default:
			m.soleMaster = true
			l.soleMaster.Store(true)
			m.frameCount = 0
			return stUseToken
		}

	case stAnswerDataRequest:
		t := time.NewTimer(time.Until(m.replyBy))
		defer t.Stop()
		for {
			if out, ok := l.popReplyTo(m.replyTo); ok {
				m.send(DataNotExpectingReply, out.dst, out.data)
				return stIdleM
			}
			select {
			case <-l.queued:
				continue
			case <-t.C:
			case <-m.ctx.Done():
				return stIdleM
			}
			break
		}
		// The answer takes longer: say so, and send it with our token.
		l.postponed.Add(1)
		m.send(ReplyPostponed, m.replyTo, nil)
		return stIdleM
	}
	return stIdleM
}

// idleFrame handles a frame received in IDLE.
func (m *master) idleFrame(f rxFrame) state {
	l := m.l
	if f.Dest != m.ts && f.Dest != Broadcast {
		return stIdleM // others' traffic: activity, nothing more
	}
	switch f.Type {
	case Token:
		if f.Dest != m.ts {
			return stIdleM
		}
		l.tokensIn.Add(1)
		m.frameCount = 0
		m.soleMaster = false
		l.soleMaster.Store(false)
		return stUseToken
	case PollForMaster:
		if f.Dest == m.ts {
			m.send(ReplyToPollForMaster, f.Src, nil)
		}
	case DataNotExpectingReply:
		m.deliver([]byte{f.Src}, f.Data)
	case DataExpectingReply:
		m.deliver([]byte{f.Src}, f.Data)
		if f.Dest == m.ts {
			m.replyTo = f.Src
			m.replyBy = f.at.Add(l.timing.ReplyDelay)
			return stAnswerDataRequest
		}
	case TestRequest:
		if f.Dest == m.ts {
			m.send(TestResponse, f.Src, f.Data)
		}
	}
	return stIdleM
}
