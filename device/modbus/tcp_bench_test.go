package modbus

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
)

// answeringPeer answers every request with 40 input registers (20 float32
// points, as the meter of the end-to-end measurement) until the test ends.
// It allocates nothing per request, so the allocations reported are the
// client's.
func answeringPeer(b *testing.B) string {
	return peer(b, func(c net.Conn) error {
		var req [mbapHeader + 5]byte
		ans := mbap(0, 0, append([]byte{funcReadInputRegisters, 80}, make([]byte, 80)...))
		for {
			if _, err := io.ReadFull(c, req[:]); err != nil {
				return err
			}
			ans[0], ans[1], ans[6] = req[0], req[1], req[6]
			if _, err := c.Write(ans); err != nil {
				return err
			}
		}
	})
}

// BenchmarkTCPRead is one read of 40 input registers over loopback, one
// request at a time (the default): the client's cost per transaction, and
// that it allocates nothing. The peer runs in the same process.
func BenchmarkTCPRead(b *testing.B) {
	l := newTCPLink(answeringPeer(b), time.Second)
	defer l.close()
	l.setUnit(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := readBlock(l, device.TableInput, 0, 40); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTCPBatch16 is the same read for 16 units in one batch
// (max_in_flight: 16); per op is per batch.
func BenchmarkTCPBatch16(b *testing.B) {
	l := newTCPLink(answeringPeer(b), time.Second)
	defer l.close()
	reqs := make([]*batchReq, MaxInFlight)
	for i := range reqs {
		reqs[i] = &batchReq{unit: byte(i + 1), fc: funcReadInputRegisters, data: []byte{0, 0, 0, 40}}
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := l.exchangeBatch(reqs); err != nil {
			b.Fatal(err)
		}
	}
}
