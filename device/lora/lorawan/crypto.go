package lorawan

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
)

// Dir is the direction of a data frame, as it enters blocks B0 and Ai.
type Dir uint8

// Directions.
const (
	Uplink   Dir = 0
	Downlink Dir = 1
)

// String names the direction.
func (d Dir) String() string {
	if d == Uplink {
		return "up"
	}
	return "down"
}

// cmacRb is the constant of RFC 4493 section 2.3 for 128-bit blocks.
const cmacRb = 0x87

// CMAC computes AES-CMAC (RFC 4493) incrementally: Write the message in
// any number of pieces, then Sum.
type CMAC struct {
	block  cipher.Block
	k1, k2 [aes.BlockSize]byte
	x      [aes.BlockSize]byte // the chaining value
	buf    [aes.BlockSize]byte // the block not yet processed
	n      int                 // bytes in buf
}

// NewCMAC returns a CMAC keyed with k.
func NewCMAC(k Key) *CMAC {
	b := newBlock(k)
	c := &CMAC{block: b}
	// Subkeys, RFC 4493 section 2.3: L = AES(K, 0); K1 = L<<1 (^Rb), K2 = K1<<1 (^Rb).
	var l [aes.BlockSize]byte
	b.Encrypt(l[:], l[:])
	c.k1 = dbl(l)
	c.k2 = dbl(c.k1)
	return c
}

// dbl doubles a block in GF(2^128): a left shift, reduced by Rb.
func dbl(in [aes.BlockSize]byte) [aes.BlockSize]byte {
	var out [aes.BlockSize]byte
	for i := 0; i < aes.BlockSize-1; i++ {
		out[i] = in[i]<<1 | in[i+1]>>7
	}
	out[aes.BlockSize-1] = in[aes.BlockSize-1] << 1
	if in[0]&0x80 != 0 {
		out[aes.BlockSize-1] ^= cmacRb
	}
	return out
}

// Write adds p to the message. It never fails.
func (c *CMAC) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		// The last block is treated apart (xor with a subkey), so a full
		// buffer is processed only once more data follows it.
		if c.n == aes.BlockSize {
			subtle.XORBytes(c.x[:], c.x[:], c.buf[:])
			c.block.Encrypt(c.x[:], c.x[:])
			c.n = 0
		}
		m := copy(c.buf[c.n:], p)
		c.n += m
		p = p[m:]
	}
	return total, nil
}

// Sum returns the 16-byte tag of the message written so far.
func (c *CMAC) Sum() [aes.BlockSize]byte {
	last := c.buf
	if c.n == aes.BlockSize {
		subtle.XORBytes(last[:], last[:], c.k1[:])
	} else {
		// Padding: a single 1 bit, then zeros (RFC 4493 section 2.4, step 4).
		last[c.n] = 0x80
		for i := c.n + 1; i < aes.BlockSize; i++ {
			last[i] = 0
		}
		subtle.XORBytes(last[:], last[:], c.k2[:])
	}
	var t [aes.BlockSize]byte
	subtle.XORBytes(t[:], c.x[:], last[:])
	c.block.Encrypt(t[:], t[:])
	return t
}

// Sum128 returns AES-CMAC(k, msg), the whole 16-byte tag.
func Sum128(k Key, msg []byte) [aes.BlockSize]byte {
	c := NewCMAC(k)
	c.Write(msg)
	return c.Sum()
}

// MIC is a message integrity code: the first four bytes of an AES-CMAC.
type MIC [4]byte

// Equal compares two MICs in constant time.
func (m MIC) Equal(o MIC) bool { return subtle.ConstantTimeCompare(m[:], o[:]) == 1 }

func micOf(c *CMAC) MIC {
	t := c.Sum()
	return MIC(t[:4])
}

// dataMIC computes the MIC of a data frame (specification 4.4): the CMAC
// of block B0 followed by msg = MHDR | FHDR | FPort | FRMPayload, keyed
// with the NwkSKey and bound to the full 32-bit frame counter.
func dataMIC(nwkSKey Key, dir Dir, addr DevAddr, fcnt uint32, msg []byte) MIC {
	var b0 [aes.BlockSize]byte
	b0[0] = 0x49
	// b0[1:5] are zero.
	b0[5] = byte(dir)
	binary.LittleEndian.PutUint32(b0[6:], uint32(addr))
	binary.LittleEndian.PutUint32(b0[10:], fcnt)
	// b0[14] is zero.
	b0[15] = byte(len(msg))
	c := NewCMAC(nwkSKey)
	c.Write(b0[:])
	c.Write(msg)
	return micOf(c)
}

// cryptFRM encrypts or decrypts (the same operation) FRMPayload
// (specification 4.3.3): data xor AES(K, A1) | AES(K, A2) | ..., where Ai
// binds the block number to direction, address and full frame counter.
func cryptFRM(k Key, dir Dir, addr DevAddr, fcnt uint32, data []byte) []byte {
	out := make([]byte, len(data))
	if len(data) == 0 {
		return out
	}
	b := newBlock(k)
	var a, s [aes.BlockSize]byte
	a[0] = 0x01
	a[5] = byte(dir)
	binary.LittleEndian.PutUint32(a[6:], uint32(addr))
	binary.LittleEndian.PutUint32(a[10:], fcnt)
	for i := 0; i*aes.BlockSize < len(data); i++ {
		a[15] = byte(i + 1)
		b.Encrypt(s[:], a[:])
		end := min((i+1)*aes.BlockSize, len(data))
		subtle.XORBytes(out[i*aes.BlockSize:end], data[i*aes.BlockSize:end], s[:])
	}
	return out
}

// SessionKeys are the keys of one session: NwkSKey signs every data frame
// and encrypts port 0, AppSKey encrypts application payloads.
type SessionKeys struct {
	NwkSKey Key
	AppSKey Key
}

// DeriveSessionKeys derives a session's keys after a join (specification
// 6.2.5): NwkSKey = aes128_encrypt(AppKey, 0x01 | AppNonce | NetID |
// DevNonce | pad16), AppSKey likewise with 0x02.
func DeriveSessionKeys(appKey Key, appNonce JoinNonce, netID NetID, devNonce DevNonce) SessionKeys {
	b := newBlock(appKey)
	derive := func(kind byte) Key {
		var in Key
		in[0] = kind
		put24(in[1:], uint32(appNonce))
		put24(in[4:], uint32(netID))
		binary.LittleEndian.PutUint16(in[7:], uint16(devNonce))
		var out Key
		b.Encrypt(out[:], in[:])
		return out
	}
	return SessionKeys{NwkSKey: derive(0x01), AppSKey: derive(0x02)}
}

func put24(b []byte, v uint32) {
	b[0], b[1], b[2] = byte(v), byte(v>>8), byte(v>>16)
}

func get24(b []byte) uint32 { return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 }

// newBlock returns the AES-128 block cipher of k.
func newBlock(k Key) cipher.Block {
	b, err := aes.NewCipher(k[:])
	if err != nil {
		// aes.NewCipher fails only for key sizes other than 16, 24 or 32.
		panic("lorawan: aes: " + err.Error())
	}
	return b
}
