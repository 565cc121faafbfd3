package lorasim

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/sitegate/sitegate/device/lora/lorawan"
)

// FleetJoinEUI is the JoinEUI of every Fleet sensor.
var FleetJoinEUI = lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0x00, 0x00, 0x00}

// Fleet returns n simulated sensors with identities anyone can compute,
// so that a site can list them: sensor i (from 1) is called lora-i, has
// DevEUI 70b3d57ed001xxxx (i in the last two bytes) and an AppKey made
// from its DevEUI. These keys are public by construction: never give
// them to a real device.
func Fleet(n int, interval time.Duration) []Sensor {
	out := make([]Sensor, 0, n)
	for i := 1; i <= n; i++ {
		eui := lorawan.EUI64{0x70, 0xb3, 0xd5, 0x7e, 0xd0, 0x01}
		binary.BigEndian.PutUint16(eui[6:], uint16(i))
		out = append(out, Sensor{Name: fmt.Sprintf("lora-%d", i), DevEUI: eui, JoinEUI: FleetJoinEUI, AppKey: FleetKey(eui), Interval: interval})
	}
	return out
}

// FleetKey is the AppKey of the Fleet sensor with DevEUI eui: the first
// 16 bytes of SHA-256("sitegate lorasim " + eui).
func FleetKey(eui lorawan.EUI64) lorawan.Key {
	sum := sha256.Sum256([]byte("sitegate lorasim " + eui.String()))
	var k lorawan.Key
	copy(k[:], sum[:])
	return k
}
