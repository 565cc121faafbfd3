package cmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/internal/textdiff"
)

func (e *session) configCmd() *cobra.Command {
	return groupCmd("config", "Export, import or compare the site file", e.configExportCmd(), e.configImportCmd(), e.configDiffCmd())
}

func (e *session) configExportCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "export [--json]",
		Short:       "Print the site file (secrets as <set>)",
		Args:        noArgs,
		Annotations: needs("config-view"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if asJSON {
				site, rev := e.gw.Site()
				enc := json.NewEncoder(e.out)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Rev  uint64       `json:"rev"`
					Site *device.Site `json:"site"`
				}{rev, site.Redacted()})
			}
			b, err := e.gw.ExportYAML()
			if err != nil {
				return err
			}
			_, err = e.out.Write(b)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON with the revision")
	return cmd
}

func (e *session) configImportCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:         "import [--force] < site.yaml",
		Short:       "Validate a site file from standard input and apply it",
		Args:        noArgs,
		Annotations: needs("config-edit"),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readStdin(e.in)
			if err != nil {
				return err
			}
			current, rev := e.gw.Site()
			next, err := device.ImportSiteYAML(data, current)
			if err != nil {
				return problemsError(err, "nothing was applied")
			}
			// A file exported at an older revision carries it: importing
			// it over someone else's newer change is refused unless --force.
			base := rev
			if next.Revision != nil {
				base = *next.Revision
			}
			ch, err := e.d.Access.ApplySite(e.p, device.Edit{Action: device.ActionConfigImport, Base: base, Force: force}, next)
			var stale *device.StaleError
			if errors.As(err, &stale) && next.Revision != nil {
				return failure(&device.ImportStaleError{StaleError: stale})
			}
			if err != nil {
				return problemsError(err, "nothing was applied")
			}
			if ch.Unchanged {
				fmt.Fprintf(e.out, "no changes: the site is already revision %d\n", ch.Rev)
				return nil
			}
			fmt.Fprintf(e.out, "applied as site revision %d\n", ch.Rev)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "apply even if the site changed since the file was exported (audited)")
	return cmd
}

func (e *session) configDiffCmd() *cobra.Command {
	return &cobra.Command{
		Use:         "diff < site.yaml",
		Short:       "Compare a site file from standard input with the current site",
		Args:        noArgs,
		Annotations: needs("config-view"),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readStdin(e.in)
			if err != nil {
				return err
			}
			current, rev := e.gw.Site()
			// The same problems config validate and config import report.
			proposed, err := device.ImportSiteYAML(data, current)
			if err != nil {
				return problemsError(err, "nothing to compare")
			}
			after, err := device.EncodeSiteYAML(proposed)
			if err != nil {
				return err
			}
			if rev > 0 {
				current.Revision = &rev
			}
			before, err := device.EncodeSiteYAML(current)
			if err != nil {
				return err
			}
			d := textdiff.Unified(fmt.Sprintf("site revision %d", rev), "standard input", string(before), string(after), 3)
			if d == "" {
				fmt.Fprintf(e.out, "no differences from site revision %d\n", rev)
				return nil
			}
			_, err = io.WriteString(e.out, d)
			return err
		},
	}
}

// problemsError turns validation problems into the command's error.
func problemsError(err error, outcome string) error {
	var ve *device.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	return errors.New(device.Report("the site file", outcome, err))
}
