package snmp

import (
	"context"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/snmp/snmptest"
)

// BenchmarkWalkSNMPD measures OIDs per second fetched from Debian's snmpd
// with GETBULK (MaxRepetitions per request), v2c and v3 authPriv, walking
// MaxWalkRows varbinds of the agent's whole tree per iteration.
func BenchmarkWalkSNMPD(b *testing.B) {
	addr := snmptest.StartSNMPD(b)
	for _, tt := range []struct {
		name string
		dev  device.SNMPDevice
	}{
		{"v2c", device.SNMPDevice{Name: "a", Address: addr, Version: device.SNMPv2c, Community: snmptest.Community}},
		{"v3-sha256-aes128", device.SNMPDevice{Name: "a", Address: addr, Version: device.SNMPv3, User: &device.SNMPUser{
			Name: snmptest.User256, Auth: device.SNMPAuthSHA256, AuthKey: snmptest.AuthKey256, Priv: device.SNMPPrivAES128, PrivKey: snmptest.PrivKey256}}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			a := newAgent(tt.dev)
			defer a.close()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			// Once before timing: snmpd loads its tables on first use.
			if _, _, err := a.walk(ctx, "1.3.6.1", MaxWalkRows); err != nil {
				b.Fatal(err)
			}
			var oids int
			req0, _ := a.figures()
			b.ResetTimer()
			for b.Loop() {
				vars, _, err := a.walk(ctx, "1.3.6.1", MaxWalkRows)
				if err != nil {
					b.Fatal(err)
				}
				oids += len(vars)
			}
			b.ReportMetric(float64(oids)/b.Elapsed().Seconds(), "oids/s")
			reqs, _ := a.figures()
			b.ReportMetric(float64(oids)/float64(reqs-req0), "oids/request")
		})
	}
}
