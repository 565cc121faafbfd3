package modbus

import (
	"bytes"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
)

// tcpGoldens are the request and answer PDUs of the examples in the Modbus
// Application Protocol Specification V1.1b3 (§6.1-6.6, 6.12), each framed
// with an MBAP header as the TCP implementation guide lays it out.
var tcpGoldens = []struct {
	name     string
	call     func(l link) ([]byte, error)
	req, ans []byte // PDUs
	want     []byte // what the call returns
}{
	{"read coils 20-38", func(l link) ([]byte, error) { return readBlock(l, device.TableCoil, 0x13, 0x13) },
		[]byte{0x01, 0x00, 0x13, 0x00, 0x13}, []byte{0x01, 0x03, 0xCD, 0x6B, 0x05}, []byte{0xCD, 0x6B, 0x05}},
	{"read discrete inputs 197-218", func(l link) ([]byte, error) { return readBlock(l, device.TableDiscrete, 0xC4, 0x16) },
		[]byte{0x02, 0x00, 0xC4, 0x00, 0x16}, []byte{0x02, 0x03, 0xAC, 0xDB, 0x35}, []byte{0xAC, 0xDB, 0x35}},
	{"read holding registers 108-110", func(l link) ([]byte, error) { return readBlock(l, device.TableHolding, 0x6B, 3) },
		[]byte{0x03, 0x00, 0x6B, 0x00, 0x03}, []byte{0x03, 0x06, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64}, []byte{0x02, 0x2B, 0x00, 0x00, 0x00, 0x64}},
	{"read input register 9", func(l link) ([]byte, error) { return readBlock(l, device.TableInput, 0x08, 1) },
		[]byte{0x04, 0x00, 0x08, 0x00, 0x01}, []byte{0x04, 0x02, 0x00, 0x0A}, []byte{0x00, 0x0A}},
	{"write coil 173 on", func(l link) ([]byte, error) { return nil, writeCoil(l, 0xAC, true) },
		[]byte{0x05, 0x00, 0xAC, 0xFF, 0x00}, []byte{0x05, 0x00, 0xAC, 0xFF, 0x00}, nil},
	{"write register 2", func(l link) ([]byte, error) { return nil, writeRegister(l, 0x01, 0x03) },
		[]byte{0x06, 0x00, 0x01, 0x00, 0x03}, []byte{0x06, 0x00, 0x01, 0x00, 0x03}, nil},
	{"write registers 2-3", func(l link) ([]byte, error) { return nil, writeRegisters(l, 0x01, []uint16{0x000A, 0x0102}) },
		[]byte{0x10, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x0A, 0x01, 0x02}, []byte{0x10, 0x00, 0x01, 0x00, 0x02}, nil},
	{"exception 2", func(l link) ([]byte, error) { return readBlock(l, device.TableHolding, 0x6B, 3) },
		[]byte{0x03, 0x00, 0x6B, 0x00, 0x03}, []byte{0x83, 0x02}, nil},
}

func mbap(tid uint16, unit byte, pdu []byte) []byte {
	return append([]byte{byte(tid >> 8), byte(tid), 0, 0, byte((len(pdu) + 1) >> 8), byte(len(pdu) + 1), unit}, pdu...)
}

// peer accepts one connection on a loopback port and hands it to serve;
// the connection then stays open until the test ends.
func peer(t testing.TB, serve func(c net.Conn) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if serve(c) == nil {
			_, _ = io.Copy(io.Discard, c)
		}
	}()
	return ln.Addr().String()
}

// readRequest reads one Modbus TCP request frame.
func readRequest(c net.Conn) ([]byte, error) {
	hdr := make([]byte, mbapHeader)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return nil, err
	}
	body := make([]byte, (int(hdr[4])<<8|int(hdr[5]))-1)
	if _, err := io.ReadFull(c, body); err != nil {
		return nil, err
	}
	return append(hdr, body...), nil
}

// scriptedPeer is a peer that, per step, reads one request and writes
// what the step returns (nil: nothing).
func scriptedPeer(t *testing.T, steps ...func(req []byte) []byte) string {
	return peer(t, func(c net.Conn) error {
		for _, step := range steps {
			req, err := readRequest(c)
			if err != nil {
				return err
			}
			if reply := step(req); reply != nil {
				if _, err := c.Write(reply); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func TestTCPGoldenFrames(t *testing.T) {
	var steps []func([]byte) []byte
	got := make([][]byte, len(tcpGoldens))
	for i, g := range tcpGoldens {
		steps = append(steps, func(req []byte) []byte {
			got[i] = req
			return mbap(uint16(i+1), 0x11, g.ans)
		})
	}
	l := newTCPLink(scriptedPeer(t, steps...), 5*time.Second)
	defer l.close()
	l.setUnit(0x11)
	for i, g := range tcpGoldens {
		out, err := g.call(l)
		if want := mbap(uint16(i+1), 0x11, g.req); !bytes.Equal(got[i], want) {
			t.Errorf("%s: sent % x, want % x", g.name, got[i], want)
		}
		if g.ans[0]&0x80 != 0 {
			var re *RequestError
			if !errors.As(err, &re) || re.Kind != KindException || Exception(err) != g.ans[1] {
				t.Errorf("%s: %v, want exception %d", g.name, err, g.ans[1])
			}
			continue
		}
		if err != nil || !bytes.Equal(out, g.want) {
			t.Errorf("%s: % x, %v; want % x", g.name, out, err, g.want)
		}
	}
}

func TestTCPRefusesWrongAnswers(t *testing.T) {
	read := []byte{0x03, 0x06, 0, 1, 0, 2, 0, 3}
	cases := []struct {
		name  string
		reply func(req []byte) []byte
		kind  string
	}{
		{"stale transaction id", func(req []byte) []byte { return mbap(uint16(req[0])<<8|uint16(req[1])-1, 1, read) }, KindFraming},
		{"other unit", func(req []byte) []byte { return mbap(uint16(req[0])<<8|uint16(req[1]), 2, read) }, KindFraming},
		{"protocol id", func(req []byte) []byte {
			b := mbap(uint16(req[0])<<8|uint16(req[1]), 1, read)
			b[3] = 1
			return b
		}, KindFraming},
		{"length past a frame", func(req []byte) []byte {
			b := mbap(uint16(req[0])<<8|uint16(req[1]), 1, read)
			b[4] = 1
			return b
		}, KindFraming},
		{"short byte count", func(req []byte) []byte {
			return mbap(uint16(req[0])<<8|uint16(req[1]), 1, []byte{0x03, 0x04, 0, 1, 0, 2})
		}, KindFraming},
		{"other function", func(req []byte) []byte {
			return mbap(uint16(req[0])<<8|uint16(req[1]), 1, []byte{0x04, 0x06, 0, 1, 0, 2, 0, 3})
		}, KindFraming},
		{"truncated", func(req []byte) []byte { return mbap(uint16(req[0])<<8|uint16(req[1]), 1, read)[:9] }, KindFraming},
		{"silent", func(req []byte) []byte { return nil }, KindTimeout},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := newTCPLink(scriptedPeer(t, c.reply), 200*time.Millisecond)
			defer l.close()
			l.setUnit(1)
			_, err := readBlock(l, device.TableHolding, 0, 3)
			var re *RequestError
			if !errors.As(err, &re) || re.Kind != c.kind || re.Error() == "" {
				t.Fatalf("err %v, want kind %s", err, c.kind)
			}
		})
	}
}

func TestTCPConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	l := newTCPLink(addr, time.Second)
	_, err = readBlock(l, device.TableHolding, 0, 1)
	var re *RequestError
	if !errors.As(err, &re) || re.Kind != KindConnection {
		t.Fatalf("err %v, want a connection error", err)
	}
}

func TestRequestBounds(t *testing.T) {
	l := newTCPLink("127.0.0.1:1", time.Second) // never dialled: refused before
	for _, err := range []error{
		func() error { _, err := readBlock(l, device.TableHolding, 0, 126); return err }(),
		func() error { _, err := readBlock(l, device.TableCoil, 0, 2001); return err }(),
		func() error { _, err := readBlock(l, device.TableInput, 65535, 2); return err }(),
		func() error { _, err := readBlock(l, device.TableInput, 0, 0); return err }(),
		writeRegisters(l, 0, make([]uint16, 124)),
		func() error { _, err := l.exchange(0x17, make([]byte, maxPDU)); return err }(),
	} {
		if !errors.Is(err, errRequestBounds) {
			t.Errorf("err %v, want errRequestBounds", err)
		}
	}
}

// FuzzTCPResponse feeds the Modbus TCP answer decoder whatever a peer can
// send, in chunks as the socket delivers them, for every kind of request
// the engine sends. Nothing may panic; an answer it takes is exactly the
// frame its header announces, for the transaction and unit asked, and its
// values have the size the request asks for.
func FuzzTCPResponse(f *testing.F) {
	for i, g := range tcpGoldens {
		f.Add(mbap(7, 1, g.ans), uint8(i), uint8(3))
	}
	f.Add(mbap(7, 1, []byte{0x03, 0xFF}), uint8(2), uint8(16))
	f.Add(append(mbap(7, 1, []byte{0x04, 0x02, 0, 1}), 0), uint8(3), uint8(255))
	f.Add(make([]byte, 300), uint8(0), uint8(1))
	f.Fuzz(func(t *testing.T, answer []byte, kind, chunk uint8) {
		if len(answer) > 4*maxADU {
			return
		}
		g := tcpGoldens[int(kind)%len(tcpGoldens)]
		fc := g.req[0]
		var buf [maxADU]byte
		got := 0
		step := int(chunk%32) + 1
		var pdu []byte
		var err error
		for pos := 0; pos < len(answer) && got < len(buf); {
			n := copy(buf[got:], answer[pos:min(pos+step, len(answer))])
			pos += n
			got += n
			if pdu, err = decodeTCPResponse(buf[:got], 7, 1); pdu != nil || err != nil {
				break
			}
		}
		if err != nil {
			var re *RequestError
			if !errors.As(err, &re) || re.Kind != KindFraming || re.Error() == "" {
				t.Fatalf("decode error %#v is not a framing error with a message", err)
			}
			return
		}
		if pdu == nil {
			return // needs more bytes
		}
		if got != mbapHeader-1+(int(buf[4])<<8|int(buf[5])) || buf[0] != 0 || buf[1] != 7 || buf[6] != 1 {
			t.Fatalf("took % x as the answer to transaction 7 of unit 1", buf[:got])
		}
		if !slices.Equal(pdu, buf[mbapHeader:got]) {
			t.Fatalf("pdu % x is not the frame's", pdu)
		}
		data, err := responseData(fc, pdu)
		if err != nil {
			if Exception(err) == 0 && len(pdu) == 2 && pdu[0] == fc|0x80 && pdu[1] != 0 {
				t.Fatalf("exception answer % x not reported as one: %v", pdu, err)
			}
			return
		}
		if fc <= funcReadInputRegisters && len(data) > 1 && int(data[0]) == len(data)-1 {
			// A well-formed answer is taken for the count its byte count
			// says, and refused for one more.
			table := map[byte]device.RegisterTable{1: device.TableCoil, 2: device.TableDiscrete, 3: device.TableHolding, 4: device.TableInput}[fc]
			n := len(data) - 1
			count := uint16(8 * n)
			if !table.IsBit() {
				if n%2 != 0 {
					return
				}
				count = uint16(n / 2)
			}
			if values, err := readPayload(table, count, data); err != nil || !slices.Equal(values, data[1:]) {
				t.Fatalf("answer % x for %d: % x, %v", data, count, values, err)
			}
			if _, err := readPayload(table, count+uint16(8*int(kind&1)+1), data); err == nil {
				t.Fatalf("answer % x taken for more than it holds", data)
			}
		}
	})
}

// batchPeer is a peer that reads n requests and answers them as answer
// says (nil: no answer), all in one write.
func batchPeer(t *testing.T, n int, answer func(reqs [][]byte) []byte) string {
	return peer(t, func(c net.Conn) error {
		var reqs [][]byte
		for range n {
			req, err := readRequest(c)
			if err != nil {
				return err
			}
			reqs = append(reqs, req)
		}
		if b := answer(reqs); b != nil {
			_, err := c.Write(b)
			return err
		}
		return nil
	})
}

// readAnswer is the answer to a read of one holding register holding v.
func readAnswer(req []byte, v byte) []byte {
	return mbap(uint16(req[0])<<8|uint16(req[1]), req[6], []byte{0x03, 0x02, 0, v})
}

func batchOf(units ...byte) []*batchReq {
	var reqs []*batchReq
	for _, u := range units {
		reqs = append(reqs, &batchReq{unit: u, fc: funcReadHoldingRegisters, data: []byte{0, 0, 0, 1}})
	}
	return reqs
}

func TestBatchAnswersInAnyOrder(t *testing.T) {
	addr := batchPeer(t, 3, func(reqs [][]byte) []byte {
		// Last first, in one write, as a server with several workers may.
		return slices.Concat(readAnswer(reqs[2], 30), readAnswer(reqs[0], 10), readAnswer(reqs[1], 20))
	})
	l := newTCPLink(addr, 5*time.Second)
	defer l.close()
	reqs := batchOf(1, 2, 3)
	if err := l.exchangeBatch(reqs); err != nil {
		t.Fatal(err)
	}
	for i, r := range reqs {
		if !r.answered || r.err != nil || !bytes.Equal(r.ans, []byte{2, 0, byte(10 * (i + 1))}) {
			t.Errorf("request %d: answered %v, % x, %v", i, r.answered, r.ans, r.err)
		}
	}
}

func TestBatchTimeoutIsTheFirstUnanswered(t *testing.T) {
	addr := batchPeer(t, 3, func(reqs [][]byte) []byte { return readAnswer(reqs[0], 10) })
	l := newTCPLink(addr, 200*time.Millisecond)
	defer l.close()
	reqs := batchOf(1, 2, 3)
	err := l.exchangeBatch(reqs)
	var re *RequestError
	if !errors.As(err, &re) || re.Kind != KindTimeout {
		t.Fatalf("batch: %v, want a timeout", err)
	}
	if !reqs[0].answered || reqs[0].err != nil {
		t.Errorf("first: %+v, want its answer", reqs[0])
	}
	if !reqs[1].answered || !errors.As(reqs[1].err, &re) || re.Kind != KindTimeout {
		t.Errorf("second: %+v, want the timeout", reqs[1])
	}
	if reqs[2].answered {
		t.Errorf("third: %+v, want it left for a request of its own", reqs[2])
	}
}

func TestBatchRefusesAnAnswerTwice(t *testing.T) {
	addr := batchPeer(t, 2, func(reqs [][]byte) []byte {
		return slices.Concat(readAnswer(reqs[0], 10), readAnswer(reqs[0], 10))
	})
	l := newTCPLink(addr, 5*time.Second)
	defer l.close()
	err := l.exchangeBatch(batchOf(1, 2))
	var re *RequestError
	if !errors.As(err, &re) || re.Kind != KindFraming {
		t.Fatalf("batch: %v, want a framing error", err)
	}
}

// FuzzTCPBatchAnswers feeds the batch's answer reader whatever a peer can
// send, in chunks, for a batch of up to MaxInFlight reads. Nothing may
// panic; every answer taken belongs to a request of the batch, once, with
// the unit it was sent to, and the bytes taken never exceed those given.
func FuzzTCPBatchAnswers(f *testing.F) {
	two := slices.Concat(mbap(100, 1, []byte{0x03, 0x02, 0, 1}), mbap(101, 2, []byte{0x83, 0x02}))
	f.Add(two, uint8(2), uint8(5))
	f.Add(slices.Concat(mbap(101, 2, []byte{0x03, 0x02, 0, 1}), mbap(100, 1, []byte{0x03, 0x02, 0, 1})), uint8(2), uint8(200))
	f.Add(mbap(100, 1, []byte{0x03, 0x02, 0, 1})[:9], uint8(1), uint8(1))
	f.Add(slices.Concat(mbap(100, 1, []byte{0x03, 0x02, 0, 1}), mbap(100, 1, []byte{0x03, 0x02, 0, 1})), uint8(3), uint8(7))
	f.Fuzz(func(t *testing.T, stream []byte, n, chunk uint8) {
		if len(stream) > MaxInFlight*maxADU {
			return
		}
		count := int(n)%MaxInFlight + 1
		var reqs []*batchReq
		for i := range count {
			reqs = append(reqs, &batchReq{unit: byte(i + 1), fc: funcReadHoldingRegisters})
		}
		const first = 100
		buf := make([]byte, 0, MaxInFlight*maxADU)
		step := int(chunk%64) + 1
		total := 0
		for pos := 0; pos < len(stream); pos += step {
			buf = append(buf, stream[pos:min(pos+step, len(stream))]...)
			used, taken, err := takeAnswers(buf, reqs, first)
			if used > len(buf) || taken > count {
				t.Fatalf("took %d bytes of %d, %d answers of %d", used, len(buf), taken, count)
			}
			total += taken
			if err != nil {
				var re *RequestError
				if !errors.As(err, &re) || re.Kind != KindFraming || re.Error() == "" {
					t.Fatalf("error %#v is not a framing error with a message", err)
				}
				return
			}
			buf = append(buf[:0], buf[used:]...)
		}
		answered := 0
		for _, r := range reqs {
			if r.answered {
				answered++
				if r.err == nil && len(r.ans) > maxPDU {
					t.Fatalf("an answer of %d bytes", len(r.ans))
				}
			}
		}
		if answered != total {
			t.Fatalf("%d requests answered, %d answers taken", answered, total)
		}
	})
}
