// Package wifi is the gateway's Wi-Fi client uplink seen from the
// configuration side: the pre-shared key derivation, the wpa_supplicant
// configuration written from the site's wifi section, field checks for
// the console's forms, the scan list and the signal of the current link,
// and the radio lock-out rule shared by Wi-Fi and LoRa.
//
// # Keys
//
// For wpa2-psk the passphrase is never written anywhere in clear: PSK
// derives the 256-bit key of IEEE 802.11i (PBKDF2-HMAC-SHA1 of the
// passphrase, salted with the SSID, 4096 rounds), and SupplicantConfig
// writes that key as psk=<64 hex digits>. A 64-hex-digit passphrase already
// is the key and is used as it is. WriteSupplicantConfig writes the file
// atomically with mode 0600.
//
// # Scanning
//
// A Scanner lists the networks in range, strongest first, one entry per
// SSID. SimScanner returns a fixed, plausible list; LinuxScanner asks
// `iw dev IF scan` and falls back to wpa_supplicant's last results
// (`wpa_cli scan_results`). Both parsers take the tools' output as
// untrusted input (fuzz targets cover them).
//
// # Radio lock-out
//
// wifi.permanently_disabled and lora.permanently_disabled, once true, may
// only be set back to false by device.LocalActor, that is by
// `sitegate radio enable wifi|lora --data DIR` on the stopped gateway.
// CheckRadioChange has the signature of a device.SiteGuard so that every
// path that applies a site (console, exec import, cloud sync) runs it;
// RadioAuditEvents lists the radio.disable and radio.enable events a change
// implies, for the caller to audit after the change is stored.
//
// # Caveats
//
//   - wpa3-sae has no pre-computable key that wpa_supplicant accepts: its
//     network block carries sae_password in clear, in a file of mode 0600
//     that only root can read. wpa2-psk never does.
//   - The SSID is written in hex (ssid=…) so that quotes and non-ASCII bytes
//     need no escaping; wpa_supplicant accepts both forms.
//   - Scan results depend on the driver: hidden networks (empty SSID) and
//     enterprise (802.1X) networks are listed but cannot be chosen, since the
//     site file supports wpa2-psk and wpa3-sae only.
//   - Signal strengths are what the driver reports, in dBm; some drivers
//     report only coarse values.
package wifi
