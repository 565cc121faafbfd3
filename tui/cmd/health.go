package cmd

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/internal/format"
)

func (e *session) healthCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "health [--json]",
		Short:       "Show the gateway's health",
		Args:        noArgs,
		Annotations: needs("health"),
		RunE: func(cmd *cobra.Command, args []string) error {
			h := e.gw.Health()
			if asJSON {
				return e.writeJSON(h)
			}
			return writeHealth(e.out, h)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func writeHealth(w io.Writer, h device.Health) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "gateway\t%s\n", h.GatewayID)
	fmt.Fprintf(tw, "site\t%s (revision %d)\n", h.Site, h.SiteRev)
	fmt.Fprintf(tw, "uptime\t%s\n", (time.Duration(h.UptimeS) * time.Second).String())
	fmt.Fprintf(tw, "sessions\t%d\n", h.Sessions)
	fmt.Fprintf(tw, "store\t%s\n", format.Bytes(h.Store.SizeBytes))
	fmt.Fprintf(tw, "audit\t%d of %d events (%d evicted)%s\n", h.Store.AuditEvents, h.Store.AuditCapacity, h.Store.AuditEvicted, warnIf(h.Store.AuditNearFull, " NEARLY FULL"))
	fmt.Fprintf(tw, "outbox\t%d queued, oldest %ds, %d evicted%s\n", h.Outbox.Depth, h.Outbox.OldestAgeS, h.Outbox.Evicted, warnIf(h.Outbox.NearFull, " NEARLY FULL"))
	return tw.Flush()
}

func (e *session) alertsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "alerts [--json]",
		Short:       "Show the raised health alerts",
		Args:        noArgs,
		Annotations: needs("health"),
		RunE: func(cmd *cobra.Command, args []string) error {
			alerts := e.gw.Health().Alerts
			if asJSON {
				if alerts == nil {
					alerts = []device.Alert{}
				}
				return e.writeJSON(alerts)
			}
			if len(alerts) == 0 {
				_, err := fmt.Fprintln(e.out, "no alerts")
				return err
			}
			tw := tabwriter.NewWriter(e.out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "RULE\tSEVERITY\tSINCE (UTC)\tDETAIL")
			for _, a := range alerts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Rule, a.Severity, a.Since.UTC().Format(time.DateTime), a.Detail)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}
