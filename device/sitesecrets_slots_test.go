package device

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
)

// Every Secret field of the site, in every section, is one of
// secretSlots: a field missing there would be stored in clear in every
// site revision. The full site file sets every kind of secret.
func TestSecretSlotsCoverEverySecretField(t *testing.T) {
	raw, err := os.ReadFile("../testdata/sites/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSite(raw)
	if err != nil {
		t.Fatal(err)
	}
	slots := map[*Secret]string{}
	for _, sl := range secretSlots(s) {
		slots[sl.field] = sl.path
	}
	found := 0
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem(), path)
			}
		case reflect.Struct:
			for i := range v.NumField() {
				if f := v.Type().Field(i); f.IsExported() {
					walk(v.Field(i), path+"."+f.Name)
				}
			}
		case reflect.Slice:
			for i := range v.Len() {
				walk(v.Index(i), path+"[]")
			}
		case reflect.String:
			if v.Type() != reflect.TypeFor[Secret]() || v.String() == "" {
				return
			}
			found++
			if _, ok := slots[v.Addr().Interface().(*Secret)]; !ok {
				t.Errorf("%s is a secret the secret store does not hold (add it to secretSlots)", path)
			}
		}
	}
	walk(reflect.ValueOf(s).Elem(), "site")
	if found < 5 {
		t.Fatalf("only %d secrets set in full.yaml: the test sees too little", found)
	}
}

// A data directory sealed before the LoRa keys were secret slots holds
// them in clear in its revisions: opening it seals them too, keeps every
// other reference working, and leaves no LoRa key in the file.
func TestRevisionsSealedWithoutLoRaKeysAreSealedAgain(t *testing.T) {
	raw, err := os.ReadFile("../testdata/sites/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var lora []string
	wantPass := ""
	for i := range 2 {
		s, err := ParseSite(raw)
		if err != nil {
			t.Fatal(err)
		}
		s.LoRa.Devices[0].AppKey = Secret(fmt.Sprintf("%032x", 0xa0+i)) // a new key in the second revision
		// As the earlier code sealed it: every slot but the LoRa keys.
		err = st.Update(func(tx *store.Tx) error {
			for _, sl := range secretSlots(s) {
				if strings.HasPrefix(sl.path, "lora.") || !sl.field.IsSet() {
					continue
				}
				v, err := tx.PutSecret(SiteSecretPrefix+sl.name, []byte(sl.field.Reveal()))
				if err != nil {
					return err
				}
				*sl.field = secretRef(SiteSecretPrefix+sl.name, v)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range s.LoRa.Devices {
			for _, k := range []Secret{d.AppKey, d.NwkSKey, d.AppSKey} {
				if k.IsSet() {
					lora = append(lora, k.Reveal())
				}
			}
		}
		body, _ := json.Marshal(s)
		if _, err := st.PutConfig(SiteDoc, "u-old", body); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PutMeta(metaSiteSecrets, []byte("sealed")); err != nil {
		t.Fatal(err)
	}
	orig, _ := ParseSite(raw)
	wantPass = orig.WiFi.Passphrase.Reveal()
	st.Close()

	st, err = store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := NewGateway(st, GatewayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cur, _ := gw.Site()
	if got := cur.LoRa.Devices[0].AppKey.Reveal(); got != fmt.Sprintf("%032x", 0xa1) {
		t.Fatalf("the LoRa key after sealing: %q", got)
	}
	if cur.WiFi.Passphrase.Reveal() != wantPass {
		t.Fatalf("the Wi-Fi passphrase, sealed before, is lost: %q", cur.WiFi.Passphrase.Reveal())
	}
	st.Close()
	storetest.ScanForSecrets(t, dir, lora)
}
