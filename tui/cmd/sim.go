package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
)

func (e *session) simCmd() *cobra.Command {
	link := &cobra.Command{
		Use:         "link down|up NAME",
		Short:       "Make a simulated link unreachable or reachable again (ethernet, wifi, cellular, cellular.sim1, cellular.sim2)",
		Args:        exactArgs(2),
		Annotations: needsTo("users", "cutting simulated links"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "down" && args[0] != "up" {
				return usageErr("sim link %s: say down or up", printable(args[0]))
			}
			if err := e.authorize(cmd); err != nil {
				return err
			}
			n := e.gw.Network()
			if n == nil {
				return fmt.Errorf("the network subsystem is not running")
			}
			if err := n.SetLinkReachable(args[1], args[0] == "up"); err != nil {
				return err
			}
			_ = e.gw.AuditDetail(e.p.Actor(), device.ActionSimLink, args[1], device.ResultOK, args[0])
			_, err := fmt.Fprintf(e.out, "simulated link %s is %s; the uplink follows after the probes (down_after/up_after)\n", args[1], map[string]string{"down": "unreachable", "up": "reachable"}[args[0]])
			return err
		},
	}
	return groupCmd("sim", "Simulated network links (sim backend): cut and restore", link)
}
