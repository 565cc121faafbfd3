package cmd

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
)

func (e *session) reportCmd() *cobra.Command {
	return groupCmd("report", "Signed commissioning reports, and the key that verifies them",
		e.reportCommissioningCmd(), e.reportKeyCmd())
}

func (e *session) reportCommissioningCmd() *cobra.Command {
	var asJSON, markdown bool
	cmd := &cobra.Command{
		Use:   "commissioning [--json|--markdown]",
		Short: "Print a signed report of the site as it is now (verify it with sitegate report verify)",
		Long: "The report names the gateway, firmware, clock, uplink and WAN links, every field device with\n" +
			"its state, success rate and each point's live value and quality, the accounts that changed the\n" +
			"site, and the audit range it covers. It ends with the gateway's ed25519 signature: any\n" +
			"changed byte makes `sitegate report verify FILE --pub KEY` fail.",
		Args:        noArgs,
		Annotations: needs("config-view"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if asJSON && markdown {
				return usageErr("give --json or --markdown, not both")
			}
			f := device.ReportText
			switch {
			case asJSON:
				f = device.ReportJSON
			case markdown:
				f = device.ReportMarkdown
			}
			doc, err := e.gw.SignedReport(e.p.Actor(), f)
			if errors.Is(err, device.ErrNoReportKey) {
				return failure(fmt.Errorf("%w: this gateway was started without a data directory key", err))
			}
			if err != nil {
				return err
			}
			_, err = e.out.Write(doc)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "a JSON document {report, signature} with full precision")
	cmd.Flags().BoolVar(&markdown, "markdown", false, "Markdown tables")
	return cmd
}

func (e *session) reportKeyCmd() *cobra.Command {
	return &cobra.Command{
		Use:         "key",
		Short:       "Print the public key that verifies this gateway's reports (PEM)",
		Args:        noArgs,
		Annotations: needs("config-view"),
		RunE: func(cmd *cobra.Command, args []string) error {
			k := e.gw.ReportKey()
			if k == nil {
				return failure(device.ErrNoReportKey)
			}
			_, err := e.out.Write(k.PublicPEM())
			return err
		},
	}
}
