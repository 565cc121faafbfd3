package device_test

import (
	"fmt"
	"testing"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
)

// BenchmarkSiteChange measures one stored site change, durable: a change
// that touches no secret (/name), one that changes the Wi-Fi passphrase
// (/secret: the secret store's key rotation — a new key file written
// beside the old, every record encrypted again, the old key overwritten
// after the commit). The difference is the secret store's cost per change
// of a secret; a change that touches none costs the sealing only (one
// decryption per secret to see that it is unchanged).
func BenchmarkSiteChange(b *testing.B) {
	for _, kind := range []string{"name", "secret"} {
		b.Run(kind, func(b *testing.B) {
			st := storetest.New(b)
			gw, err := device.NewGateway(st, device.GatewayOptions{GatewayID: "gw-bench"})
			if err != nil {
				b.Fatal(err)
			}
			s := wirelessSite("Kx7#pLm2qRt9vWz4", "73915284", "46028137")
			if _, err := gw.ApplySite(device.Edit{Actor: installer, Action: device.ActionConfigChange, Base: 0}, s); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := range b.N {
				s, rev := gw.Site()
				if kind == "name" {
					s.Site.Name = fmt.Sprintf("Plant room %d", i)
				} else {
					s.WiFi.Passphrase = device.Secret(fmt.Sprintf("Kx7#pLm2qRt9v%05d", i))
				}
				if _, err := gw.ApplySite(device.Edit{Actor: installer, Action: device.ActionConfigChange, Base: rev}, s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSealUnchanged measures what sealing adds to a change that
// touches no secret: one decryption per secret to see it is unchanged,
// inside the change's transaction (no commit measured).
func BenchmarkSealUnchanged(b *testing.B) {
	st := storetest.New(b)
	s := wirelessSite("Kx7#pLm2qRt9vWz4", "73915284", "46028137")
	err := st.Update(func(tx *store.Tx) error {
		if _, err := device.SealSite(tx, s, device.SiteSecretPrefix); err != nil {
			return err
		}
		b.ResetTimer()
		for range b.N {
			if _, err := device.SealSite(tx, s, device.SiteSecretPrefix); err != nil {
				return err
			}
		}
		b.StopTimer()
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
