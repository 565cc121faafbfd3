package lorawan

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The interop peer is lora-packet (npm), driven by testdata/interop/peer.js.
// Install it with: npm ci --prefix device/lora/lorawan/testdata/interop
// Without it the interop tests skip, except under CI=true, where they fail.
// `go test -run Interop -update` rewrites testdata/golden.json from the
// frames both sides agreed on.

var update = flag.Bool("update", false, "rewrite testdata/golden.json from the lora-packet interop run")

const interopDir = "testdata/interop"

// vec is one operation for the peer, one result from it, and one golden
// record: the fields of all three share names.
type vec struct {
	Op   string `json:"op,omitempty"`
	Name string `json:"name,omitempty"`
	// By names the side that built PHY: lora-packet or sitegate.
	By    string `json:"by,omitempty"`
	Kind  string `json:"kind,omitempty"`
	Error string `json:"error,omitempty"`

	MType     string `json:"mtype,omitempty"` // lora-packet's names: "Unconfirmed Data Up"
	DevAddr   string `json:"devaddr,omitempty"`
	FCnt      uint32 `json:"fcnt"`
	ADR       bool   `json:"adr,omitempty"`
	ACK       bool   `json:"ack,omitempty"`
	FPending  bool   `json:"fpending,omitempty"`
	ADRACKReq bool   `json:"adrackreq,omitempty"`
	FOpts     string `json:"fopts,omitempty"`
	FPort     *int   `json:"fport"`
	Payload   string `json:"payload,omitempty"`
	NwkSKey   string `json:"nwkskey,omitempty"`
	AppSKey   string `json:"appskey,omitempty"`
	MICOK     bool   `json:"mic_ok,omitempty"`

	JoinEUI    string `json:"joineui,omitempty"`
	DevEUI     string `json:"deveui,omitempty"`
	DevNonce   string `json:"devnonce,omitempty"`
	AppKey     string `json:"appkey,omitempty"`
	AppNonce   string `json:"appnonce,omitempty"`
	NetID      string `json:"netid,omitempty"`
	DLSettings int    `json:"dlsettings,omitempty"`
	RxDelay    int    `json:"rxdelay,omitempty"`
	CFList     string `json:"cflist,omitempty"`

	PHY string `json:"phy,omitempty"`
}

// runPeer sends ops to lora-packet and returns its results, one per op.
func runPeer(t *testing.T, ops []vec) []vec {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(interopDir, "node_modules", "lora-packet"))
	}
	if err != nil {
		msg := fmt.Sprintf("lora-packet peer unavailable (%v); install with: npm ci --prefix device/lora/lorawan/testdata/interop", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	in, err := json.Marshal(ops)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, filepath.Join(interopDir, "peer.js"))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("peer.js: %v: %s", err, stderr.String())
	}
	var res []vec
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(ops) {
		t.Fatalf("peer.js answered %d results for %d ops (%v): %s", len(res), len(ops), err, out)
	}
	for i, r := range res {
		if r.Error != "" {
			t.Fatalf("peer.js op %d (%s): %s", i, ops[i].Op, r.Error)
		}
	}
	return res
}

var lpNames = map[MType]string{
	UnconfirmedDataUp: "Unconfirmed Data Up", ConfirmedDataUp: "Confirmed Data Up",
	UnconfirmedDataDown: "Unconfirmed Data Down", ConfirmedDataDown: "Confirmed Data Down",
	JoinRequest: "Join Request", JoinAccept: "Join Accept",
}

func lpMType(t testing.TB, s string) MType {
	for m, n := range lpNames {
		if n == s {
			return m
		}
	}
	t.Fatalf("lora-packet message type %q", s)
	return 0
}

func port(p int) *int { return &p }

// withOp returns copies of vs that ask the peer for op.
func withOp(vs []vec, op string) []vec {
	out := make([]vec, len(vs))
	for i, v := range vs {
		v.Op = op
		out[i] = v
	}
	return out
}

// dataVecs are the data frames both sides build and check.
func dataVecs() []vec {
	k := func(v vec) vec {
		v.NwkSKey, v.AppSKey = readmeNwkSKey, readmeAppSKey
		return v
	}
	return []vec{
		k(vec{Name: "unconfirmed up", MType: "Unconfirmed Data Up", DevAddr: "26011bda", FCnt: 1, FPort: port(1), Payload: "0167010c026850"}),
		k(vec{Name: "confirmed up, ADR", MType: "Confirmed Data Up", DevAddr: "26011bda", FCnt: 300, ADR: true, FPort: port(2), Payload: strings.Repeat("a5", 40)}),
		k(vec{Name: "up after rollover", MType: "Unconfirmed Data Up", DevAddr: "01020304", FCnt: 70000, FPort: port(10), Payload: "74657374"}),
		k(vec{Name: "up with FOpts", MType: "Unconfirmed Data Up", DevAddr: "01020304", FCnt: 5, FOpts: "0206c83b", FPort: port(3), Payload: "00"}),
		k(vec{Name: "down ack", MType: "Unconfirmed Data Down", DevAddr: "26011bda", FCnt: 2, ACK: true}),
		k(vec{Name: "down queued", MType: "Unconfirmed Data Down", DevAddr: "26011bda", FCnt: 3, FPending: true, FPort: port(5), Payload: "0102030405"}),
		k(vec{Name: "down mac on port 0", MType: "Unconfirmed Data Down", DevAddr: "26011bda", FCnt: 0x10004, FPort: port(0), Payload: "021403"}),
		k(vec{Name: "confirmed down", MType: "Confirmed Data Down", DevAddr: "aabbccdd", FCnt: 9, FOpts: "021403", FPort: port(1), Payload: "ff"}),
	}
}

func (v vec) data(t testing.TB) (Data, SessionKeys) {
	a, err := ParseDevAddr(v.DevAddr)
	if err != nil {
		t.Fatal(err)
	}
	d := Data{MType: lpMType(t, v.MType), DevAddr: a, FCnt: v.FCnt,
		FCtrl: FCtrl{ADR: v.ADR, ACK: v.ACK, FPending: v.FPending, ADRACKReq: v.ADRACKReq},
		FOpts: mustHex(t, v.FOpts), Payload: mustHex(t, v.Payload)}
	if v.FPort != nil {
		d.HasPort, d.FPort = true, uint8(*v.FPort)
	}
	return d, SessionKeys{NwkSKey: mustKey(t, v.NwkSKey), AppSKey: mustKey(t, v.AppSKey)}
}

// checkData decodes v.PHY with our codec and compares it with v's fields.
func checkData(t *testing.T, v vec) {
	t.Helper()
	d, keys := v.data(t)
	f, err := DecodeData(mustHex(t, v.PHY))
	if err != nil {
		t.Fatalf("%s: %v", v.Name, err)
	}
	if err := f.CheckMIC(keys.NwkSKey, d.FCnt); err != nil {
		t.Fatalf("%s: %v", v.Name, err)
	}
	if f.MType != d.MType || f.DevAddr != d.DevAddr || f.FCnt != uint16(d.FCnt) || f.FCtrl.ACK != v.ACK || f.FCtrl.ADR != v.ADR ||
		f.FCtrl.FPending != v.FPending || !bytes.Equal(f.FOpts, d.FOpts) || f.HasPort != d.HasPort || f.FPort != d.FPort ||
		!bytes.Equal(f.Payload(keys, d.FCnt), d.Payload) {
		t.Fatalf("%s: decoded %+v, payload %x", v.Name, f, f.Payload(keys, d.FCnt))
	}
}

func joinVecs() (reqs, accs, keys []vec) {
	const appKey = "000102030405060708090a0b0c0d0e0f"
	reqs = []vec{
		{Name: "join request", JoinEUI: "70b3d57ed0000000", DevEUI: "0004a30b001c0530", DevNonce: "1234", AppKey: appKey},
		{Name: "join request 2", JoinEUI: "0000000000000000", DevEUI: "70b3d57ed0000001", DevNonce: "0001", AppKey: "2b7e151628aed2a6abf7158809cf4f3c"},
	}
	accs = []vec{
		{Name: "join accept", AppNonce: "abcdef", NetID: "000013", DevAddr: "26011bda", DLSettings: 0x10, RxDelay: 1, AppKey: appKey},
		{Name: "join accept with CFList", AppNonce: "000001", NetID: "000000", DevAddr: "00000001", DLSettings: 0x00, RxDelay: 1, AppKey: appKey,
			CFList: "184f84e85684b85e84886684586e8400"},
	}
	keys = []vec{
		{Name: "session keys", AppKey: appKey, NetID: "000013", AppNonce: "abcdef", DevNonce: "1234"},
		{Name: "session keys 2", AppKey: "2b7e151628aed2a6abf7158809cf4f3c", NetID: "ffffff", AppNonce: "000001", DevNonce: "ffff"},
	}
	return
}

func (v vec) joinRequest(t testing.TB) (JoinRequestFrame, Key) {
	je, err1 := ParseEUI64(v.JoinEUI)
	de, err2 := ParseEUI64(v.DevEUI)
	n, err3 := hex.DecodeString(v.DevNonce)
	if err1 != nil || err2 != nil || err3 != nil || len(n) != 2 {
		t.Fatalf("vector %s: %v %v %v", v.Name, err1, err2, err3)
	}
	return JoinRequestFrame{JoinEUI: je, DevEUI: de, DevNonce: DevNonce(uint16(n[0])<<8 | uint16(n[1]))}, mustKey(t, v.AppKey)
}

func hex24(t testing.TB, s string) uint32 {
	b := mustHex(t, s)
	if len(b) != 3 {
		t.Fatalf("%q is not 3 bytes", s)
	}
	return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
}

func (v vec) joinAccept(t testing.TB) (JoinAcceptFrame, Key) {
	a, err := ParseDevAddr(v.DevAddr)
	if err != nil {
		t.Fatal(err)
	}
	j := JoinAcceptFrame{AppNonce: JoinNonce(hex24(t, v.AppNonce)), NetID: NetID(hex24(t, v.NetID)), DevAddr: a,
		DLSettings: ParseDLSettings(byte(v.DLSettings)), RxDelay: uint8(v.RxDelay)}
	if v.CFList != "" {
		var c CFList
		copy(c[:], mustHex(t, v.CFList))
		j.CFList = &c
	}
	return j, mustKey(t, v.AppKey)
}

func (v vec) sessionKeys(t testing.TB) SessionKeys {
	n := mustHex(t, v.DevNonce)
	return DeriveSessionKeys(mustKey(t, v.AppKey), JoinNonce(hex24(t, v.AppNonce)), NetID(hex24(t, v.NetID)), DevNonce(uint16(n[0])<<8|uint16(n[1])))
}

func TestInteropLoraPacket(t *testing.T) {
	var golden []vec

	// 1. lora-packet builds data frames; we decode, authenticate and decrypt.
	ops := withOp(dataVecs(), "buildData")
	for i, r := range runPeer(t, ops) {
		v := ops[i]
		v.Op, v.By, v.Kind, v.PHY = "", "lora-packet", "data", r.PHY
		checkData(t, v)
		golden = append(golden, v)
	}

	// 2. We build data frames; lora-packet decodes, checks MIC, decrypts.
	ops = dataVecs()
	for i := range ops {
		d, keys := ops[i].data(t)
		b, err := d.Encode(keys)
		if err != nil {
			t.Fatal(err)
		}
		ops[i].Op, ops[i].PHY = "decodeData", hex.EncodeToString(b)
	}
	for i, r := range runPeer(t, ops) {
		v := ops[i]
		want := v.FPort
		if !r.MICOK || r.MType != v.MType || r.DevAddr != v.DevAddr || r.FCnt != v.FCnt&0xffff || r.ACK != v.ACK || r.ADR != v.ADR ||
			r.FPending != v.FPending || r.FOpts != v.FOpts || r.Payload != v.Payload || (want == nil) != (r.FPort == nil) || (want != nil && *want != *r.FPort) {
			t.Fatalf("%s: lora-packet decoded our frame %s as %+v", v.Name, v.PHY, r)
		}
		v.Op, v.By, v.Kind = "", "sitegate", "data"
		golden = append(golden, v)
	}

	reqs, accs, skeys := joinVecs()
	// 3. Join requests, both ways.
	ops = withOp(reqs, "buildJoinRequest")
	for _, v := range reqs {
		j, k := v.joinRequest(t)
		v.Op, v.PHY = "decodeJoinRequest", hex.EncodeToString(j.Encode(k))
		ops = append(ops, v)
	}
	res := runPeer(t, ops)
	for i, v := range reqs {
		r := res[i]
		want, k := v.joinRequest(t)
		got, err := DecodeJoinRequest(mustHex(t, r.PHY))
		if err != nil || got.JoinEUI != want.JoinEUI || got.DevEUI != want.DevEUI || got.DevNonce != want.DevNonce || got.CheckMIC(k) != nil {
			t.Fatalf("%s: lora-packet's join request %s decoded as %+v, %v", v.Name, r.PHY, got, err)
		}
		v.By, v.Kind, v.PHY = "lora-packet", "joinrequest", r.PHY
		golden = append(golden, v)
	}
	for i, v := range reqs {
		r := res[len(reqs)+i]
		if !r.MICOK || r.JoinEUI != v.JoinEUI || r.DevEUI != v.DevEUI || r.DevNonce != v.DevNonce || r.MType != "Join Request" {
			t.Fatalf("%s: lora-packet decoded our join request as %+v", v.Name, r)
		}
		v.By, v.Kind, v.PHY = "sitegate", "joinrequest", ops[len(reqs)+i].PHY
		golden = append(golden, v)
	}

	// 4. Join accepts, both ways.
	ops = withOp(accs, "buildJoinAccept")
	for _, v := range accs {
		j, k := v.joinAccept(t)
		b, err := j.Encode(k)
		if err != nil {
			t.Fatal(err)
		}
		v.Op, v.PHY = "decodeJoinAccept", hex.EncodeToString(b)
		ops = append(ops, v)
	}
	res = runPeer(t, ops)
	for i, v := range accs {
		r := res[i]
		want, k := v.joinAccept(t)
		got, err := DecodeJoinAccept(mustHex(t, r.PHY), k)
		if err != nil || got.AppNonce != want.AppNonce || got.NetID != want.NetID || got.DevAddr != want.DevAddr ||
			got.DLSettings != want.DLSettings || got.RxDelay != want.RxDelay || (got.CFList == nil) != (want.CFList == nil) {
			t.Fatalf("%s: lora-packet's join accept %s decoded as %+v, %v", v.Name, r.PHY, got, err)
		}
		v.By, v.Kind, v.PHY = "lora-packet", "joinaccept", r.PHY
		golden = append(golden, v)
	}
	for i, v := range accs {
		r := res[len(accs)+i]
		if !r.MICOK || r.AppNonce != v.AppNonce || r.NetID != v.NetID || r.DevAddr != v.DevAddr || r.DLSettings != v.DLSettings ||
			r.RxDelay != v.RxDelay || r.CFList != v.CFList || r.MType != "Join Accept" {
			t.Fatalf("%s: lora-packet decoded our join accept as %+v", v.Name, r)
		}
		v.By, v.Kind, v.PHY = "sitegate", "joinaccept", ops[len(accs)+i].PHY
		golden = append(golden, v)
	}

	// 5. Session keys.
	for i, r := range runPeer(t, withOp(skeys, "sessionKeys")) {
		v := skeys[i]
		k := v.sessionKeys(t)
		if k.NwkSKey.Reveal() != r.NwkSKey || k.AppSKey.Reveal() != r.AppSKey {
			t.Fatalf("%s: session keys differ from lora-packet's", v.Name)
		}
		v.By, v.Kind, v.NwkSKey, v.AppSKey = "lora-packet", "sessionkeys", r.NwkSKey, r.AppSKey
		golden = append(golden, v)
	}

	if *update {
		b, err := json.MarshalIndent(golden, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("testdata/golden.json", append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGoldens checks the frames recorded from the interop run without the
// peer: every frame decodes to its fields, and our encoder rebuilds it.
func TestGoldens(t *testing.T) {
	b, err := os.ReadFile("testdata/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden []vec
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, v := range golden {
		kinds[v.Kind]++
		switch v.Kind {
		case "data":
			checkData(t, v)
			d, keys := v.data(t)
			if b, err := d.Encode(keys); err != nil || hex.EncodeToString(b) != v.PHY {
				t.Fatalf("%s (%s): encode = %x, %v; want %s", v.Name, v.By, b, err, v.PHY)
			}
		case "joinrequest":
			j, k := v.joinRequest(t)
			if got := hex.EncodeToString(j.Encode(k)); got != v.PHY {
				t.Fatalf("%s: encode = %s, want %s", v.Name, got, v.PHY)
			}
		case "joinaccept":
			j, k := v.joinAccept(t)
			b, err := j.Encode(k)
			if err != nil || hex.EncodeToString(b) != v.PHY {
				t.Fatalf("%s: encode = %x, want %s", v.Name, b, v.PHY)
			}
			if _, err := DecodeJoinAccept(b, k); err != nil {
				t.Fatal(err)
			}
		case "sessionkeys":
			k := v.sessionKeys(t)
			if k.NwkSKey.Reveal() != v.NwkSKey || k.AppSKey.Reveal() != v.AppSKey {
				t.Fatalf("%s: session keys differ", v.Name)
			}
		default:
			t.Fatalf("golden kind %q", v.Kind)
		}
	}
	if kinds["data"] == 0 || kinds["joinrequest"] == 0 || kinds["joinaccept"] == 0 || kinds["sessionkeys"] == 0 {
		t.Fatalf("goldens cover %v", kinds)
	}
}
