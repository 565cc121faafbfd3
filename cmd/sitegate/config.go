package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/wifi"
)

func newConfigCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Export, import and validate site files",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("config needs a subcommand: export, import or validate")
		},
	}
	cmd.AddCommand(newConfigExportCmd(s), newConfigImportCmd(s), newConfigValidateCmd(s))
	return cmd
}

func newConfigExportCmd(s streams) *cobra.Command {
	var dir, out string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "export --data DIR [-o FILE] [--json]",
		Short: "Write the site file of a stopped gateway (secrets as <set>)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, gw, err := openOffline(dir)
			if err != nil {
				return err
			}
			defer st.Close()
			var b []byte
			if asJSON {
				site, rev := gw.Site()
				b, err = json.MarshalIndent(struct {
					Rev  uint64       `json:"rev"`
					Site *device.Site `json:"site"`
				}{rev, site.Redacted()}, "", "  ")
				b = append(b, '\n')
			} else {
				b, err = gw.ExportYAML()
			}
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = s.out.Write(b)
				return err
			}
			// The file holds no secrets, but the site layout is still
			// nobody else's business.
			return os.WriteFile(out, b, 0o600)
		},
	}
	addDataFlag(cmd, &dir)
	cmd.Flags().StringVarP(&out, "output", "o", "", "write to FILE instead of standard output")
	cmd.Flags().BoolVar(&asJSON, "json", false, "write JSON with the revision instead of YAML")
	return cmd
}

func newConfigImportCmd(s streams) *cobra.Command {
	var dir string
	var force bool
	cmd := &cobra.Command{
		Use:   "import --data DIR [--force] FILE|-",
		Short: "Validate a site file and store it as a new revision",
		Long: "Validate a site file and store it as a new revision of a stopped gateway's site.\n" +
			"Every problem is reported at once and nothing is stored unless the whole file\n" +
			"is valid. Secrets written as <set> keep their stored values. A file exported at\n" +
			"an older revision (its `revision:` line) is refused unless --force. A data\n" +
			"directory that does not exist yet is created (provisioning before first start).",
		Args: exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readInput(args[0], s.in)
			if err != nil {
				return err
			}
			st, gw, err := openProvisioning(dir)
			if err != nil {
				return err
			}
			defer st.Close()
			gw.AddSiteGuard(refuseRadioReenable)
			ch, err := gw.ImportYAML(device.Edit{Actor: device.LocalActor, Action: device.ActionConfigImport, Force: force}, data)
			var stale *device.ImportStaleError
			if errors.As(err, &stale) {
				return stale
			}
			if err != nil {
				return problemsError(args[0], "nothing was stored", err)
			}
			if ch.Unchanged {
				fmt.Fprintf(s.out, "no changes: the site is already revision %d\n", ch.Rev)
				return nil
			}
			fmt.Fprintf(s.out, "imported %s as site revision %d\n", args[0], ch.Rev)
			return nil
		},
	}
	addDataFlag(cmd, &dir)
	cmd.Flags().BoolVar(&force, "force", false, "store the file even if the site changed since it was exported (audited)")
	return cmd
}

// refuseRadioReenable keeps an offline import from clearing a radio's
// permanent disable: the README promises that only `sitegate radio
// enable` does that (audited radio.enable), so physical access alone is
// not enough to do it silently through a site file.
func refuseRadioReenable(current, next *device.Site, _ device.Actor) error {
	var ve device.ValidationError
	for _, r := range wifi.Radios() {
		if r.PermanentlyDisabled(current) && !r.PermanentlyDisabled(next) {
			ve.Problems = append(ve.Problems, device.Problem{Path: string(r) + ".permanently_disabled",
				Message: fmt.Sprintf("a site file cannot clear it; run `sitegate radio enable %s --data DIR` on the stopped gateway (physical access, audited radio.enable), then import the file again", r)})
		}
	}
	if len(ve.Problems) > 0 {
		return &ve
	}
	return nil
}

func newConfigValidateCmd(s streams) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "validate FILE|- [--data DIR]",
		Short: "Check a site file without storing it",
		Long: "Check a site file and report every problem with its path. With --data, secrets\n" +
			"written as <set> are checked against what that gateway has stored.",
		Args: exactArgs(1, "FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readInput(args[0], s.in)
			if err != nil {
				return err
			}
			stored := device.DefaultSite()
			if dir != "" {
				st, gw, err := openOffline(dir)
				if err != nil {
					return err
				}
				stored, _ = gw.Site()
				st.Close()
			}
			// Decoding, secret and validation problems in one answer, the
			// same list config import gives.
			if _, err := device.ImportSiteYAML(data, stored); err != nil {
				return problemsError(args[0], "it is not valid", err)
			}
			fmt.Fprintf(s.out, "%s is valid\n", args[0])
			return nil
		},
	}
	addDataFlag(cmd, &dir)
	return cmd
}
