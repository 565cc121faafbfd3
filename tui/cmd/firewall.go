package cmd

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
)

// firewallCmd is `firewall status [--json]`: per interface what is open
// and what was dropped (issue 17).
func (e *session) firewallCmd() *cobra.Command {
	var asJSON bool
	status := &cobra.Command{
		Use:         "status [--json]",
		Short:       "Show the firewall: open ports and drop counters per interface",
		Args:        noArgs,
		Annotations: needs("health"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := e.gw.Health().Firewall
			f.Endpoints = nil // endpoints [--json] shows them
			if asJSON {
				return e.writeJSON(f)
			}
			return writeFirewall(e.out, f)
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return groupCmd("firewall", "The gateway's firewall (table inet sitegate)", status)
}

// endpointsCmd is `endpoints [--json]`: the allow-list and what its names
// resolve to.
func (e *session) endpointsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "endpoints [--json]",
		Short:       "Show the destinations the gateway may contact and their addresses",
		Args:        noArgs,
		Annotations: needs("health"),
		RunE: func(cmd *cobra.Command, args []string) error {
			eps := e.gw.Health().Firewall.Endpoints
			if eps == nil {
				eps = []device.EndpointHealth{}
			}
			if asJSON {
				return e.writeJSON(eps)
			}
			return writeEndpoints(e.out, eps)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func writeFirewall(w io.Writer, f device.FirewallHealth) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	state := "off (the site's firewall.enabled is false)"
	switch {
	case f.Active:
		state = "on since " + f.Applied.UTC().Format(time.DateTime) + " UTC"
	case f.Enabled:
		state = "NOT APPLIED (needs sitegate run --net linux as root)"
	}
	fmt.Fprintf(tw, "firewall\t%s\n", state)
	if f.Error != "" {
		fmt.Fprintf(tw, "error\t%s\n", f.Error)
	}
	if len(f.Interfaces) > 0 {
		fmt.Fprintf(tw, "\nINTERFACE\tKIND\tOPEN\tDROPPED IN\tDROPPED OUT\n")
		for _, i := range f.Interfaces {
			open := strings.Join(i.OpenPorts, ", ")
			if open == "" {
				open = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", i.Name, i.Kind, open, drops(i.InDrops), drops(i.OutDrops))
		}
		fmt.Fprintf(tw, "(other)\t\t\t%s\t\n", drops(f.OtherDrops))
	}
	return tw.Flush()
}

func drops(c device.DropCounter) string { return fmt.Sprintf("%d pkts / %d B", c.Packets, c.Bytes) }

func writeEndpoints(w io.Writer, eps []device.EndpointHealth) error {
	if len(eps) == 0 {
		_, err := fmt.Fprintln(w, "no endpoints: the gateway may contact any destination (list them in the site's endpoints:)")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "HOST\tPORT\tPROTO\tADDRESSES\tNOTE\n")
	for _, ep := range eps {
		addrs := strings.Join(ep.Addresses, ", ")
		if addrs == "" {
			addrs = "-"
		}
		note := ep.Error
		if ep.Truncated {
			note = strings.TrimSpace(note + " more addresses than allowed; the first are used")
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", ep.Host, ep.Port, ep.Proto, addrs, note)
	}
	return tw.Flush()
}
