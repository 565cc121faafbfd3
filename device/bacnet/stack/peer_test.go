package stack

import (
	"bufio"
	"bytes"
	"os"
	"strings"
	"testing"
)

// Frames captured from @bacnet-js/client (an implementation nobody here
// wrote) by the interop test: each decodes through every layer to what the
// peer was serving, and re-encodes to the same octets where this stack
// encodes the same way.
func TestPeerFrames(t *testing.T) {
	f, err := os.Open("../testdata/peer-frames.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	frames := map[string][]byte{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		name, hx, _ := strings.Cut(line, " ")
		frames[name] = unhex(t, hx)
	}
	apdu := func(name string) APDU {
		t.Helper()
		b, ok := frames[name]
		if !ok {
			t.Fatalf("no %s frame recorded", name)
		}
		v, err := DecodeBVLC(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		n, err := DecodeNPDU(v.NPDU)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		a, err := DecodeAPDU(n.Payload)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return a
	}
	iam, err := DecodeIAm(apdu("unconfirmed-i-am").Payload)
	if err != nil || iam.Device.Instance != 1234 || iam.VendorID != 999 || iam.Segmentation != NoSegmentation {
		t.Fatalf("i-am %+v %v", iam, err)
	}
	if body, _ := AppendIAm(nil, iam); !bytes.Equal(body, apdu("unconfirmed-i-am").Payload) {
		t.Fatalf("i-am re-encodes as % X", body)
	}
	rp, err := DecodeReadPropertyAck(apdu("complex-ack-read-property").Payload)
	if err != nil || rp.Property != PropObjectList || len(rp.Values) != 4 || rp.Values[3].Object != (ObjectID{ObjectBinaryValue, 3}) {
		t.Fatalf("object-list ack %+v %v", rp, err)
	}
	if body, _ := AppendReadPropertyAck(nil, rp); !bytes.Equal(body, apdu("complex-ack-read-property").Payload) {
		t.Fatalf("read-property-ack re-encodes as % X", body)
	}
	rpm, err := DecodeRPMAck(apdu("complex-ack-read-property-multiple").Payload)
	if err != nil || len(rpm) != 4 || rpm[1].Values[0].String != "supply-temp" {
		t.Fatalf("rpm ack %+v %v", rpm, err)
	}
	if body, _ := AppendRPMAck(nil, rpm); !bytes.Equal(body, apdu("complex-ack-read-property-multiple").Payload) {
		t.Fatalf("rpm ack re-encodes as % X", body)
	}
	for _, name := range []string{"confirmed-confirmed-cov-notification", "unconfirmed-unconfirmed-cov-notification"} {
		n, err := DecodeCOVNotification(apdu(name).Payload)
		if err != nil || n.Device.Instance != 1234 || len(n.Values) != 2 || n.Values[0].Property != PropPresentValue ||
			n.Values[0].Index != NoIndex || n.Values[1].Values[0].Bits.Length != 4 {
			t.Fatalf("%s: %+v %v", name, n, err)
		}
	}
	for _, name := range []string{"simple-ack-subscribe-cov", "simple-ack-write-property"} {
		if a := apdu(name); a.Type != PDUSimpleAck {
			t.Fatalf("%s: %+v", name, a)
		}
	}
}
