package wifi

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store"
)

// SupplicantHeader starts every wpa_supplicant file this package writes, so
// that a file sitegate owns can be told from one written by hand.
const SupplicantHeader = "# Written by sitegate from the site's wifi section; changes made here are overwritten.\n"

// DefaultCtrlInterface is wpa_supplicant's control socket directory.
const DefaultCtrlInterface = "/run/wpa_supplicant"

// SupplicantConfig returns the wpa_supplicant configuration for the site's
// wifi section: global settings and, when Wi-Fi is enabled (and not
// permanently disabled), one network block. For wpa2-psk the block holds
// the derived key (psk=<hex>), never the passphrase; for wpa3-sae it holds
// sae_password, which SAE needs in clear (see the package caveats).
// ctrlInterface is the control socket directory (DefaultCtrlInterface when
// empty).
func SupplicantConfig(w device.WiFi, ctrlInterface string) ([]byte, error) {
	if ctrlInterface == "" {
		ctrlInterface = DefaultCtrlInterface
	}
	if strings.ContainsAny(ctrlInterface, "\n\r") {
		return nil, fmt.Errorf("control interface %q: one line expected", ctrlInterface)
	}
	var b bytes.Buffer
	b.WriteString(SupplicantHeader)
	fmt.Fprintf(&b, "ctrl_interface=%s\n", ctrlInterface)
	// The site file is the only source of networks: wpa_supplicant must not
	// write its own changes (or a passphrase) back into this file.
	b.WriteString("update_config=0\n")
	if !w.Enabled || w.PermanentlyDisabled {
		return b.Bytes(), nil
	}
	if w.Passphrase.IsPlaceholder() || !w.Passphrase.IsSet() || w.SSID == "" {
		return nil, ErrNotConfigured
	}
	if p := Check(w); len(p) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotConfigured, p[0])
	}
	b.WriteString("\nnetwork={\n")
	fmt.Fprintf(&b, "\tssid=%s\n", hex.EncodeToString([]byte(w.SSID)))
	b.WriteString("\tscan_ssid=1\n")
	switch w.Security {
	case device.SecurityWPA2PSK:
		psk, err := PSK(w.Passphrase.Reveal(), w.SSID)
		if err != nil {
			return nil, err
		}
		b.WriteString("\tkey_mgmt=WPA-PSK\n\tproto=RSN\n\tpairwise=CCMP\n\tieee80211w=1\n")
		fmt.Fprintf(&b, "\tpsk=%s\n", hex.EncodeToString(psk))
	case device.SecurityWPA3SAE:
		// Printable, validated characters, no line breaks: the quoted form
		// is parsed up to the last quote, so embedded quotes are safe.
		b.WriteString("\tkey_mgmt=SAE\n\tproto=RSN\n\tpairwise=CCMP\n\tieee80211w=2\n")
		fmt.Fprintf(&b, "\tsae_password=\"%s\"\n", w.Passphrase.Reveal())
	default:
		return nil, fmt.Errorf("%w: security %s is not supported", ErrNotConfigured, w.Security)
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// WriteSupplicantConfig writes SupplicantConfig(w, ctrlInterface) to path
// atomically with mode 0600. A file at path that sitegate did not write
// (no SupplicantHeader) is replaced too: the site file is the authority on
// the gateway's Wi-Fi, and the old file is kept as path + ".orig" once.
func WriteSupplicantConfig(path string, w device.WiFi, ctrlInterface string) error {
	data, err := SupplicantConfig(w, ctrlInterface)
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(path); err == nil && !bytes.HasPrefix(old, []byte(SupplicantHeader)) {
		orig := path + ".orig"
		if _, err := os.Stat(orig); os.IsNotExist(err) {
			if err := store.WriteSecretFile(orig, old); err != nil {
				return fmt.Errorf("keep %s: %w", orig, err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write wpa_supplicant config: %w", err)
	}
	if err := store.WriteSecretFile(path, data); err != nil {
		return fmt.Errorf("write wpa_supplicant config: %w", err)
	}
	return nil
}

// SupplicantPath is where the systemd unit wpa_supplicant@IF reads its
// configuration: DIR/wpa_supplicant-IF.conf.
func SupplicantPath(dir, iface string) string {
	return filepath.Join(dir, "wpa_supplicant-"+iface+".conf")
}
