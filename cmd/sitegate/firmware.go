package main

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/firmware"
	"github.com/sitegate/sitegate/store"
)

// openFirmware opens the firmware slots of a data directory with the
// options every command and the daemon share. notify may be nil.
func openFirmware(st *store.Store, notify func(string)) (*firmware.Manager, error) {
	return firmware.Open(st, firmware.Options{BaseVersion: baseFirmwareVersion(), Notify: notify})
}

// baseFirmwareVersion is the version this build reports while no slot is
// active: the program's version when it is MAJOR.MINOR.PATCH (a leading
// "v" allowed), else 0.0.0 (development builds).
func baseFirmwareVersion() string {
	if v, err := firmware.ParseVersion(strings.TrimPrefix(version, "v")); err == nil {
		return v.String()
	}
	return "0.0.0"
}

// firmwareError makes an image problem one sentence: what, why, what to do.
func firmwareError(what string, err error) error {
	if a := firmware.Advice(err); a != "" {
		return fmt.Errorf("%s: %w; %s", what, err, a)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func newFirmwareCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "firmware",
		Short: "Create vendor keys, sign, verify, trust and apply firmware images",
		Long: "Firmware images are signed with the vendor's ed25519 key. A gateway installs only\n" +
			"images signed by the key pinned with `firmware trust`, never below its anti-rollback\n" +
			"floor, into the inactive A/B slot; the next start verifies the image again and\n" +
			"commits it or falls back.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("firmware needs a subcommand: keygen, sign, verify, trust, apply or status")
		},
	}
	cmd.AddCommand(newFirmwareKeygenCmd(s), newFirmwareSignCmd(s), newFirmwareVerifyCmd(s),
		newFirmwareTrustCmd(s), newFirmwareApplyCmd(s), newFirmwareStatusCmd(s))
	return cmd
}

func newFirmwareKeygenCmd(s streams) *cobra.Command {
	var prefix string
	cmd := &cobra.Command{
		Use:   "keygen --out PREFIX",
		Short: "Create a vendor signing key pair: PREFIX.key (0600) and PREFIX.pub",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if prefix == "" {
				return usagef("--out is required: the path prefix of the key files, e.g. --out keys/vendor")
			}
			pub, priv, err := firmware.GenerateKey()
			if err != nil {
				return fmt.Errorf("generate key: %w", err)
			}
			if err := firmware.WriteKeyPair(prefix, priv); err != nil {
				return err
			}
			fmt.Fprintf(s.out, "wrote %s%s (private, PKCS#8 PEM, mode 0600: keep it offline, it signs firmware)\n", prefix, firmware.PrivateKeySuffix)
			fmt.Fprintf(s.out, "wrote %s%s (public, PEM: pin it on gateways with `sitegate firmware trust`)\n", prefix, firmware.PublicKeySuffix)
			fmt.Fprintf(s.out, "key id %s\n", firmware.KeyID(pub))
			return nil
		},
	}
	cmd.Flags().StringVar(&prefix, "out", "", "path prefix of the key files")
	return cmd
}

func newFirmwareSignCmd(s streams) *cobra.Command {
	var keyPath, ver, minVer, hardware, out string
	cmd := &cobra.Command{
		Use:   "sign --key K --version V --min-version M [--hardware H] IMAGE -o FILE",
		Short: "Sign a firmware payload into an image",
		Long: "Sign IMAGE (the raw firmware payload) with the vendor's private key and write the\n" +
			"signed image to FILE. --min-version is the anti-rollback floor that gateways adopt\n" +
			"once this image has booted: give the oldest version that is still safe to run.",
		Args: exactArgs(1, "IMAGE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case keyPath == "":
				return usagef("--key is required: the vendor's private key file (PREFIX.key from `firmware keygen`)")
			case ver == "":
				return usagef("--version is required, e.g. --version 1.4.2")
			case minVer == "":
				return usagef("--min-version is required: the oldest version still safe to run, e.g. --min-version 1.3.0 (0.0.0 keeps the floor)")
			case out == "":
				return usagef("-o is required: the signed image file to write")
			}
			v, err := firmware.ParseVersion(ver)
			if err != nil {
				return usagef("--version: %v", err)
			}
			floor, err := firmware.ParseVersion(minVer)
			if err != nil {
				return usagef("--min-version: %v", err)
			}
			if v.Less(floor) {
				return usagef("--min-version %s is above --version %s: an image must be allowed to run itself", floor, v)
			}
			if abs(out) == abs(args[0]) {
				return usagef("-o %s is the payload itself: write the signed image to another file", out)
			}
			key, err := firmware.LoadPrivateKey(keyPath)
			if err != nil {
				return err
			}
			in, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("open payload: %w", err)
			}
			defer in.Close()
			var m firmware.Manifest
			err = store.WriteFile(out, 0o644, func(w io.Writer) error {
				var err error
				m, err = firmware.Sign(w, in, key, firmware.Manifest{Version: v.String(), MinVersion: floor.String(), Hardware: hardware})
				return err
			})
			if err != nil {
				return fmt.Errorf("sign %s: %w", args[0], err)
			}
			fmt.Fprintf(s.out, "signed %s as %s: version %s (min_version %s) for hardware %s, %d bytes, sha256 %s, key id %s\n",
				args[0], out, m.Version, m.MinVersion, m.Hardware, m.Size, m.SHA256, firmware.KeyID(key.Public().(ed25519.PublicKey)))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&keyPath, "key", "", "vendor private key file (PREFIX.key)")
	f.StringVar(&ver, "version", "", "image version, MAJOR.MINOR.PATCH")
	f.StringVar(&minVer, "min-version", "", "anti-rollback floor adopted after this image boots, MAJOR.MINOR.PATCH")
	f.StringVar(&hardware, "hardware", firmware.DefaultHardware, "hardware id the image is built for")
	f.StringVarP(&out, "out", "o", "", "signed image file to write")
	return cmd
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// openImage opens an image file, or standard input for "-".
func openImage(name string, stdin io.Reader) (io.Reader, func(), string, error) {
	if name == "-" {
		return stdin, func() {}, "standard input", nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, name, fmt.Errorf("open image: %w", err)
	}
	return f, func() { f.Close() }, name, nil
}

func newFirmwareVerifyCmd(s streams) *cobra.Command {
	var pubPath string
	cmd := &cobra.Command{
		Use:   "verify --pub P FILE",
		Short: "Verify a signed image (signature, size and SHA-256) without installing it",
		Args:  exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pubPath == "" {
				return usagef("--pub is required: the vendor's public key file (PREFIX.pub)")
			}
			pub, err := firmware.LoadPublicKey(pubPath)
			if err != nil {
				return err
			}
			r, done, name, err := openImage(args[0], s.in)
			if err != nil {
				return err
			}
			defer done()
			m, err := firmware.Verify(r, pub)
			if err != nil {
				return firmwareError(name, err)
			}
			fmt.Fprintf(s.out, "%s: valid firmware image: version %s (min_version %s) for hardware %s, %d bytes, created %s, signed by key %s\n",
				name, m.Version, m.MinVersion, m.Hardware, m.Size, m.Created.UTC().Format(time.RFC3339), firmware.KeyID(pub))
			return nil
		},
	}
	cmd.Flags().StringVar(&pubPath, "pub", "", "vendor public key file (PREFIX.pub)")
	return cmd
}

func newFirmwareTrustCmd(s streams) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "trust --data DIR PUB",
		Short: "Pin the vendor public key whose images this gateway installs (physical access)",
		Long: "Pin PUB as the only key whose images this gateway installs, replacing an earlier\n" +
			"one. This works only on a stopped gateway's data directory, so it needs physical\n" +
			"access; it is never offered over SSH.",
		Args: exactArgs(1, "PUB"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, gw, err := openOffline(dir)
			if err != nil {
				return err
			}
			defer st.Close()
			pub, err := firmware.LoadPublicKey(args[0])
			if err != nil {
				return err
			}
			m, err := openFirmware(st, nil)
			if err != nil {
				return err
			}
			if err := m.Trust(pub, device.LocalActor); err != nil {
				return err
			}
			fmt.Fprintf(s.out, "gateway %s now installs only firmware signed by key %s\n", gw.ID(), firmware.KeyID(pub))
			return nil
		},
	}
	addDataFlag(cmd, &dir)
	return cmd
}

func newFirmwareApplyCmd(s streams) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "apply --data DIR FILE",
		Short: "Install a signed image into the inactive slot; it boots at the next start",
		Long: "Verify FILE (or standard input for -) while writing it into the inactive slot of a\n" +
			"stopped gateway and mark it pending. The next `sitegate run` verifies it again and\n" +
			"commits it, or falls back to the running slot.",
		Args: exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, _, err := openOffline(dir)
			if err != nil {
				return err
			}
			defer st.Close()
			m, err := openFirmware(st, nil)
			if err != nil {
				return err
			}
			r, done, name, err := openImage(args[0], s.in)
			if err != nil {
				return err
			}
			defer done()
			before := m.Status()
			next := int64(1)
			mf, err := m.Apply(cmd.Context(), r, device.LocalActor, func(d, total int64) {
				// At most one line per tenth, so a log of the run stays short.
				if total > 0 && d*10/total >= next {
					next = d*10/total + 1
					fmt.Fprintf(s.err, "writing %s: %3d%% (%.1f of %.1f MiB)\n", before.Active.Other().File(), d*100/total, float64(d)/(1<<20), float64(total)/(1<<20))
				}
			})
			if err != nil {
				return firmwareError(fmt.Sprintf("%s was not installed", name), err)
			}
			after := m.Status()
			fmt.Fprintf(s.out, "version %s written to %s and pending (running %s); the next start of the gateway verifies it again and boots it, or stays on the running firmware\n",
				mf.Version, after.Pending.File(), after.Running)
			return nil
		},
	}
	addDataFlag(cmd, &dir)
	return cmd
}

func newFirmwareStatusCmd(s streams) *cobra.Command {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status --data DIR [--json]",
		Short: "Show the slots, the running version, the floor and the trusted key",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, _, err := openOffline(dir)
			if err != nil {
				return err
			}
			defer st.Close()
			m, err := openFirmware(st, nil)
			if err != nil {
				return err
			}
			fs := m.Status()
			if asJSON {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(fs)
			}
			slot := string(fs.Active)
			if slot == "" {
				slot = "none (base firmware)"
			}
			key := fs.VendorKey
			if key == "" {
				key = "none: no image can be installed until `sitegate firmware trust` pins one"
			}
			tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "running\t%s\n", fs.Running)
			fmt.Fprintf(tw, "active slot\t%s\n", slot)
			fmt.Fprintf(tw, "anti-rollback floor\t%s\n", fs.Floor)
			fmt.Fprintf(tw, "hardware\t%s\n", fs.Hardware)
			fmt.Fprintf(tw, "vendor key\t%s\n", key)
			for _, sl := range []firmware.Slot{firmware.SlotA, firmware.SlotB} {
				info, ok := fs.Slots[sl]
				if !ok {
					fmt.Fprintf(tw, "%s\tempty\n", sl.File())
					continue
				}
				fmt.Fprintf(tw, "%s\t%s %s (written %s)\n", sl.File(), info.Version, info.Status, info.Written.UTC().Format(time.DateTime))
			}
			if fs.Failure != "" {
				fmt.Fprintf(tw, "last failure\t%s: %s\n", fs.FailedAt.UTC().Format(time.DateTime), fs.Failure)
			}
			return tw.Flush()
		},
	}
	addDataFlag(cmd, &dir)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
