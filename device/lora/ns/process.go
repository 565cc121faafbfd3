package ns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/sitegate/sitegate/device/lora/band"
	"github.com/sitegate/sitegate/device/lora/lorawan"
	"github.com/sitegate/sitegate/device/lora/semtech"
)

// process handles one de-duplicated frame. It runs on Run's goroutine.
func (s *Server) process(rx semtech.Rx, copies int) {
	r := rx.RXPK
	fr := Frame{Time: s.cfg.Now(), Gateway: rx.Gateway, Gateways: copies, FPort: -1, Size: len(r.Data),
		RSSI: r.RSSI, SNR: r.LSNR, Frequency: r.FrequencyHz(), DataRate: r.Datr.String()}
	var up *Uplink
	mt, err := lorawan.PeekMType(r.Data)
	if err == nil {
		fr.MType = mt.String()
		switch mt {
		case lorawan.JoinRequest:
			err = s.join(rx, &fr)
		case lorawan.UnconfirmedDataUp, lorawan.ConfirmedDataUp:
			up, err = s.data(rx, copies, &fr)
		default:
			s.count(func(st *Stats) { st.Ignored++ })
			fr.Result, err = ResultIgnored, fmt.Errorf("%s is not for a network server", mt)
		}
	} else {
		s.count(func(st *Stats) { st.Malformed++ })
		fr.Result = ResultMalformed
	}
	if err != nil {
		fr.Error = err.Error()
		s.cfg.Log.Debug("lora: frame refused", "gateway", rx.Gateway.String(), "result", fr.Result.String(), "err", err)
	}
	if s.cfg.OnFrame != nil {
		s.cfg.OnFrame(fr)
	}
	if up != nil && s.cfg.OnUplink != nil {
		s.cfg.OnUplink(*up)
	}
}

// join answers a join request.
func (s *Server) join(rx semtech.Rx, fr *Frame) error {
	jr, err := lorawan.DecodeJoinRequest(rx.RXPK.Data)
	if err != nil {
		s.count(func(st *Stats) { st.Malformed++ })
		fr.Result = ResultMalformed
		return err
	}
	fr.DevEUI = jr.DevEUI.String()
	s.mu.Lock()
	defer s.mu.Unlock()
	ds := s.byEUI[jr.DevEUI]
	if ds == nil || ds.dev.Activation != OTAA || ds.dev.JoinEUI != jr.JoinEUI {
		s.stats.UnknownDevice++
		fr.Result = ResultUnknownDevice
		return fmt.Errorf("join request from %s (join eui %s): %w", jr.DevEUI, jr.JoinEUI, ErrUnknownDevice)
	}
	fr.Device = ds.dev.Name
	if err := jr.CheckMIC(ds.dev.AppKey); err != nil {
		s.stats.MICFailures++
		fr.Result = ResultMIC
		return err
	}
	for _, n := range ds.nonces {
		if n == jr.DevNonce {
			s.stats.DevNonceReplays++
			fr.Result = ResultDevNonceReplay
			return fmt.Errorf("join request from %s: devnonce %04x was used before", jr.DevEUI, uint16(jr.DevNonce))
		}
	}
	if ds.rec.JoinNonce >= lorawan.MaxJoinNonce {
		s.stats.Ignored++
		fr.Result = ResultIgnored
		return fmt.Errorf("join request from %s: join nonces exhausted", jr.DevEUI)
	}
	addr, err := s.allocate()
	if err != nil {
		s.stats.StoreErrors++
		fr.Result = ResultStoreError
		return err
	}
	rec := record{HasSession: true, JoinNonce: ds.rec.JoinNonce + 1}
	rec.Session = session{
		DevAddr:     addr,
		Keys:        lorawan.DeriveSessionKeys(ds.dev.AppKey, rec.JoinNonce, s.cfg.NetID, jr.DevNonce),
		RX1DROffset: s.cfg.RX1DROffset,
		RX2DataRate: s.cfg.Plan.RX2DataRate,
		RxDelay:     1,
	}
	nonces := append(append([]lorawan.DevNonce(nil), ds.nonces...), jr.DevNonce)
	if len(nonces) > MaxDevNonces {
		nonces = nonces[len(nonces)-MaxDevNonces:]
	}
	// Remembered before answered: a restart must refuse this nonce again.
	if err := s.cfg.Store.Put(devNonceKey(ds.dev.DevEUI), encodeNonces(nonces)); err != nil {
		s.stats.StoreErrors++
		fr.Result = ResultStoreError
		return fmt.Errorf("store devnonces: %w", err)
	}
	if err := s.cfg.Store.Put(sessionKey(ds.dev.DevEUI), rec.encode()); err != nil {
		s.stats.StoreErrors++
		fr.Result = ResultStoreError
		return fmt.Errorf("store session: %w", err)
	}
	if ds.rec.HasSession {
		s.unindex(ds)
	}
	ds.rec, ds.nonces, ds.macAns = rec, nonces, nil
	s.byAddr[addr] = append(s.byAddr[addr], ds)
	ds.st.LastJoin = fr.Time
	s.stats.Joins++
	fr.Result, fr.DevAddr = ResultJoined, addr.String()

	ja := lorawan.JoinAcceptFrame{AppNonce: rec.JoinNonce, NetID: s.cfg.NetID, DevAddr: addr,
		DLSettings: lorawan.DLSettings{RX1DROffset: rec.Session.RX1DROffset, RX2DataRate: rec.Session.RX2DataRate}, RxDelay: rec.Session.RxDelay}
	if extra := s.cfg.Plan.ExtraFrequencies(); len(extra) > 0 {
		cf, err := lorawan.FrequencyCFList(extra)
		if err != nil {
			return err
		}
		ja.CFList = &cf
	}
	phy, err := ja.Encode(ds.dev.AppKey)
	if err != nil {
		return err
	}
	// Until the join accept, the device uses the region's defaults: RX1 at
	// the uplink's data rate.
	fr.Downlink = s.joinAccept(ds, rx, phy, rec.Session.RX2DataRate)
	return nil
}

// allocate picks a free DevAddr within the NetID: its 7 low bits as NwkID,
// then 25 random bits. Called with s.mu held.
func (s *Server) allocate() (lorawan.DevAddr, error) {
	nwkID := uint32(s.cfg.NetID) & 0x7f
	var b [4]byte
	for range 32 {
		if _, err := io.ReadFull(s.cfg.Rand, b[:]); err != nil {
			return 0, fmt.Errorf("allocate devaddr: %w", err)
		}
		a := lorawan.DevAddr(nwkID<<25 | binary.BigEndian.Uint32(b[:])&(1<<25-1))
		if len(s.byAddr[a]) == 0 {
			return a, nil
		}
	}
	return 0, errors.New("allocate devaddr: no free address found")
}

func (s *Server) unindex(ds *devState) {
	a := ds.rec.Session.DevAddr
	list := s.byAddr[a]
	for i, o := range list {
		if o == ds {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(s.byAddr, a)
	} else {
		s.byAddr[a] = list
	}
}

// data handles an uplink data frame.
func (s *Server) data(rx semtech.Rx, copies int, fr *Frame) (*Uplink, error) {
	f, err := lorawan.DecodeData(rx.RXPK.Data)
	if err != nil {
		s.count(func(st *Stats) { st.Malformed++ })
		fr.Result = ResultMalformed
		return nil, err
	}
	fr.DevAddr, fr.FCnt = f.DevAddr.String(), uint32(f.FCnt)
	if f.HasPort {
		fr.FPort = int(f.FPort)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cands := s.byAddr[f.DevAddr]
	if len(cands) == 0 {
		s.stats.UnknownDevice++
		fr.Result = ResultUnknownDevice
		return nil, fmt.Errorf("devaddr %s: %w", f.DevAddr, ErrUnknownDevice)
	}
	var (
		ds     *devState
		fcnt   uint32
		status lorawan.FCntStatus
		last   error
	)
	for _, c := range cands {
		n, st, err := lorawan.CheckUplink(f, c.rec.Session.Keys.NwkSKey, c.rec.Session.FCntUp)
		if err == nil {
			ds, fcnt, status = c, n, st
			break
		}
		if last == nil || errors.Is(err, lorawan.ErrReplay) || errors.Is(err, lorawan.ErrFCntExhausted) {
			last = err
		}
	}
	if ds == nil {
		switch {
		case errors.Is(last, lorawan.ErrReplay):
			s.stats.Replays++
			fr.Result = ResultReplay
		case errors.Is(last, lorawan.ErrFCntExhausted):
			s.stats.Ignored++
			fr.Result = ResultIgnored
		default:
			s.stats.MICFailures++
			fr.Result = ResultMIC
		}
		return nil, last
	}
	fr.Device, fr.DevEUI, fr.FCnt = ds.dev.Name, ds.dev.DevEUI.String(), fcnt
	confirmed := f.MType == lorawan.ConfirmedDataUp
	if status == lorawan.FCntRetransmission {
		s.stats.Retransmissions++
		fr.Result = ResultRetransmission
		if confirmed {
			fr.Downlink = s.answer(ds, rx, true)
		}
		return nil, nil
	}

	sess := &ds.rec.Session
	prev := *sess
	sess.FCntUp = fcnt + 1
	if err := s.cfg.Store.Put(sessionKey(ds.dev.DevEUI), ds.rec.encode()); err != nil {
		// Not remembered, not accepted: after a restart the frame would be
		// new again, so it must not be delivered now.
		*sess = prev
		s.stats.StoreErrors++
		fr.Result = ResultStoreError
		return nil, fmt.Errorf("store session: %w", err)
	}
	payload := f.Payload(sess.Keys, fcnt)
	mac := f.FOpts
	if f.HasPort && f.FPort == 0 {
		mac = payload
	}
	s.handleMAC(ds, mac, rx, copies)

	r := rx.RXPK
	st := &ds.st
	st.LastUplink, st.LastFCnt, st.RSSI, st.SNR = fr.Time, fcnt, r.RSSI, r.LSNR
	st.DataRate, st.Frequency, st.Gateways = r.Datr.String(), r.FrequencyHz(), copies
	st.Uplinks++
	s.stats.Uplinks++
	fr.Result = ResultOK
	fr.Downlink = s.answer(ds, rx, confirmed)
	if !f.HasPort || f.FPort == 0 {
		return nil, nil
	}
	return &Uplink{Device: ds.dev.Name, DevEUI: ds.dev.DevEUI, DevAddr: f.DevAddr, FPort: f.FPort, Payload: payload,
		FCnt: fcnt, Confirmed: confirmed, RSSI: r.RSSI, SNR: r.LSNR, Frequency: r.FrequencyHz(), DataRate: r.Datr.String(),
		Gateway: rx.Gateway, Gateways: copies, Time: rx.Received}, nil
}

// handleMAC answers or records the MAC commands of an uplink. Called with
// s.mu held.
func (s *Server) handleMAC(ds *devState, b []byte, rx semtech.Rx, copies int) {
	cmds, err := lorawan.ParseMACCommands(b, lorawan.Uplink)
	if err != nil {
		s.cfg.Log.Debug("lora: mac commands", "device", ds.dev.Name, "err", err)
	}
	for _, c := range cmds {
		switch c := c.(type) {
		case lorawan.LinkCheckReq:
			margin := 0.0
			if dr, err := s.cfg.Plan.ParseDataRate(rx.RXPK.Datr.String()); err == nil {
				margin = math.Max(0, math.Min(254, rx.RXPK.LSNR-dr.RequiredSNR))
			}
			ds.macAns = append(ds.macAns, lorawan.LinkCheckAns{Margin: uint8(margin), GwCnt: uint8(min(copies, 255))})
		case lorawan.DevStatusAns:
			b, m := c.Battery, c.Margin
			ds.st.Battery, ds.st.Margin = &b, &m
		}
	}
}

// answer sends what a class A device is owed after an uplink: an
// acknowledgement, MAC answers, a queued downlink. It reports whether a
// downlink went out. Called with s.mu held.
func (s *Server) answer(ds *devState, rx semtech.Rx, ack bool) bool {
	if !ack && len(ds.macAns) == 0 && len(ds.queue) == 0 {
		return false
	}
	sess := &ds.rec.Session
	delay := time.Duration(max(sess.RxDelay, 1)) * time.Second
	win, ok := s.window(rx, delay)
	if !ok {
		s.stats.TooLate++
		return false
	}
	drIndex := s.cfg.Plan.RX1DataRate(s.upDR(rx), sess.RX1DROffset)
	if win == rx2 {
		drIndex = sess.RX2DataRate
	}
	dr, err := s.cfg.Plan.DataRate(drIndex)
	if err != nil {
		s.stats.TxErrors++
		return false
	}
	fopts, _ := lorawan.AppendMACCommands(nil, lorawan.Downlink, ds.macAns...)
	if len(fopts) > lorawan.MaxFOpts {
		fopts = fopts[:0]
	}
	d := lorawan.Data{MType: lorawan.UnconfirmedDataDown, DevAddr: sess.DevAddr, FCnt: sess.FCntDown, FOpts: fopts}
	d.FCtrl.ACK = ack
	sent := 0
	if len(ds.queue) > 0 && len(ds.queue[0].payload)+len(fopts) <= dr.MaxPayload {
		q := ds.queue[0]
		d.HasPort, d.FPort, d.Payload = true, q.port, q.payload
		sent = 1
	}
	d.FCtrl.FPending = len(ds.queue) > sent
	phy, err := d.Encode(sess.Keys)
	if err != nil {
		s.stats.TxErrors++
		return false
	}
	prev := sess.FCntDown
	sess.FCntDown++
	if err := s.cfg.Store.Put(sessionKey(ds.dev.DevEUI), ds.rec.encode()); err != nil {
		sess.FCntDown = prev
		s.stats.StoreErrors++
		return false
	}
	if !s.send(rx, phy, win, delay, drIndex) {
		return false
	}
	ds.queue = ds.queue[sent:]
	ds.macAns = nil
	ds.st.QueueLength = len(ds.queue)
	ds.st.Downlinks++
	if ack {
		s.stats.Acks++
	}
	return true
}

type rxWindow uint8

const (
	rx1 rxWindow = iota + 1
	rx2
)

// window picks the receive window a downlink can still make: RX1 opens
// delay after the uplink's end, RX2 one second later.
func (s *Server) window(rx semtech.Rx, delay time.Duration) (rxWindow, bool) {
	now := s.cfg.Now()
	if !s.cfg.PreferRX2 && now.Before(rx.Received.Add(delay-s.cfg.TxLead)) {
		return rx1, true
	}
	if now.Before(rx.Received.Add(delay + time.Second - s.cfg.TxLead)) {
		return rx2, true
	}
	return 0, false
}

// upDR is the uplink's data rate index (DR0 when unknown).
func (s *Server) upDR(rx semtech.Rx) uint8 {
	if dr, err := s.cfg.Plan.ParseDataRate(rx.RXPK.Datr.String()); err == nil {
		return dr.Index
	}
	return 0
}

// joinAccept sends a join accept in JOIN_ACCEPT_DELAY1 (RX1, at the
// uplink's data rate: the device uses the region's defaults until it has
// the accept) or JOIN_ACCEPT_DELAY2 (RX2). Called with s.mu held.
func (s *Server) joinAccept(ds *devState, rx semtech.Rx, phy []byte, rx2DR uint8) bool {
	d1 := s.cfg.Plan.JoinAcceptDelay1
	win, ok := s.window(rx, d1)
	if !ok {
		s.stats.TooLate++
		return false
	}
	dr := s.upDR(rx)
	if win == rx2 {
		dr = rx2DR
	}
	if !s.send(rx, phy, win, d1, dr) {
		return false
	}
	ds.st.Downlinks++
	return true
}

// send hands a downlink to the gateway that heard rx best, timed from its
// tmst: RX1 on the uplink's frequency after delay (the RX1 delay), RX2 on
// the plan's RX2 frequency one second later. Called with s.mu held.
func (s *Server) send(rx semtech.Rx, phy []byte, win rxWindow, delay time.Duration, drIndex uint8) bool {
	dr, err := s.cfg.Plan.DataRate(drIndex)
	if err != nil {
		s.stats.TxErrors++
		return false
	}
	freq := rx.RXPK.Freq
	if win == rx2 {
		delay += time.Second
		freq = semtech.HzToMHz(s.cfg.Plan.RX2Frequency)
	}
	// tmst is the concentrator's 32-bit microsecond counter: the addition
	// wraps with it.
	tmst := rx.RXPK.Tmst + uint32(delay/time.Microsecond)
	tx := semtech.TXPK{Tmst: &tmst, Freq: freq, RFCh: 0, Powe: s.cfg.Plan.DownlinkPower, Modu: dr.Modulation.String(),
		Codr: "4/5", IPol: true, Data: phy}
	if dr.Modulation == band.FSK {
		tx.Datr = semtech.DataRate{FSK: dr.BitRate}
		tx.Codr, tx.IPol, tx.FDev = "", false, 25000
	} else {
		tx.Datr = semtech.DataRate{LoRa: dr.Name()}
	}
	if _, err := s.cfg.TX.Send(rx.Gateway, tx); err != nil {
		s.stats.TxErrors++
		s.cfg.Log.Debug("lora: downlink not sent", "gateway", rx.Gateway.String(), "err", err)
		return false
	}
	s.stats.Downlinks++
	return true
}
