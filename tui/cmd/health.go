package cmd

import (
	"fmt"
	"io"
	"slices"
	"strings"
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

// writeHealth prints health in sections: the gateway, then clock, WAN,
// uplink, field and outbox, each headed by its name, then the alerts.
func writeHealth(w io.Writer, h device.Health) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	section := func(name string) { fmt.Fprintf(tw, "\n%s\t\n", strings.ToUpper(name)) }
	line := func(k, format string, a ...any) { fmt.Fprintf(tw, "  %s\t%s\n", k, fmt.Sprintf(format, a...)) }

	fmt.Fprintf(tw, "GATEWAY\t\n")
	line("id", "%s", h.GatewayID)
	line("site", "%s (revision %d)", h.Site, h.SiteRev)
	line("uptime", "%s", (time.Duration(h.UptimeS) * time.Second).String())
	line("firmware", "%s", format.Dash(strings.TrimSpace(h.Firmware.Version+" "+h.Firmware.Slot)))
	line("sessions", "%d", h.Sessions)
	line("store", "%s", format.Bytes(h.Store.SizeBytes))
	line("audit", "%d of %d events (%d evicted)%s", h.Store.AuditEvents, h.Store.AuditCapacity, h.Store.AuditEvicted, warnIf(h.Store.AuditNearFull, " NEARLY FULL"))

	section("clock")
	if h.Clock.Synced {
		line("state", "synchronised")
		line("offset", "%+.1f ms", h.Clock.OffsetMS)
		line("source", "%s (stratum %d)", h.Clock.Source, h.Clock.Stratum)
	} else {
		line("state", "NOT SYNCHRONISED (certificates and signatures may be judged wrongly)")
	}
	if !h.Clock.LastSync.IsZero() {
		line("last sync", "%s UTC", h.Clock.LastSync.UTC().Format(time.DateTime))
	}
	if h.Clock.Error != "" {
		line("error", "%s", h.Clock.Error)
	}

	section("wan")
	line("active", "%s", format.Dash(h.WAN.Active))
	for _, l := range h.WAN.Links {
		detail := l.State
		if l.SIM > 0 {
			detail += fmt.Sprintf(", SIM %d", l.SIM)
		}
		if l.Signal != nil {
			detail += fmt.Sprintf(", %d dBm", *l.Signal)
		}
		if l.LimitMB > 0 {
			detail += fmt.Sprintf(", %.0f of %d MB this month", l.UsageMB, l.LimitMB)
		}
		if l.Detail != "" {
			detail += ", " + l.Detail
		}
		line(l.Name, "%s", detail)
	}
	if len(h.WAN.Links) == 0 {
		line("links", "none reported")
	}

	section("uplink")
	switch {
	case h.Uplink.Connected:
		line("state", "connected")
	case h.Uplink.Broker == "":
		line("state", "offline (no broker configured)")
	default:
		line("state", "disconnected")
	}
	if h.Uplink.Broker != "" {
		line("broker", "%s", h.Uplink.Broker)
	}
	if !h.Uplink.LastPublish.IsZero() {
		line("last publish", "%s UTC", h.Uplink.LastPublish.UTC().Format(time.DateTime))
	}
	if h.Uplink.Error != "" {
		line("error", "%s", h.Uplink.Error)
	}

	section("field")
	line("devices", "%d of %d online", h.Field.DevicesOnline, h.Field.DevicesTotal)
	protos := make([]string, 0, len(h.Field.Protocols))
	for p := range h.Field.Protocols {
		protos = append(protos, p)
	}
	slices.Sort(protos)
	for _, p := range protos {
		c := h.Field.Protocols[p]
		line(p, "%d of %d online", c.DevicesOnline, c.DevicesTotal)
	}

	section("outbox")
	line("queued", "%d of %d records%s", h.Outbox.Depth, h.Outbox.Capacity, warnIf(h.Outbox.NearFull, " NEARLY FULL"))
	line("oldest", "%s", (time.Duration(h.Outbox.OldestAgeS) * time.Second).String())
	line("evicted", "%d", h.Outbox.Evicted)

	section("alerts")
	if len(h.Alerts) == 0 {
		line("none", "")
	}
	for _, a := range h.Alerts {
		line(a.Rule, "%s since %s UTC %s", a.Severity, a.Since.UTC().Format(time.DateTime), a.Detail)
	}
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
