package tui

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/access"
)

// maxFirmware bounds an uploaded image.
const maxFirmware = 4 << 30

func (e *execSession) firmwareCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "firmware",
		Short: "Show the firmware, or apply a signed image (admin)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return usageErr("firmware needs status or apply") },
	}
	status := &cobra.Command{
		Use:         "status",
		Short:       "Show the running firmware, its slot and the anti-rollback floor",
		Args:        cobra.NoArgs,
		Annotations: needs("health"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fw := e.s.gw.Firmware()
			if fw == nil {
				return fmt.Errorf("no firmware manager runs in this gateway")
			}
			i := fw.Info()
			_, err := fmt.Fprintf(e.out, "version %s, slot %s, floor %s\n", i.Version, dash(i.Slot), dash(i.Floor))
			return err
		},
	}
	apply := &cobra.Command{
		Use:         "apply < image",
		Short:       "Verify a signed image from standard input and install it for the next start",
		Args:        cobra.NoArgs,
		Annotations: needs("users"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.s.acc.Authorize(e.p, access.PermUsers); err != nil {
				return execError{exitForbidden, err}
			}
			fw := e.s.gw.Firmware()
			if fw == nil {
				return fmt.Errorf("no firmware manager runs in this gateway")
			}
			last := time.Time{}
			progress := func(done, total int64) {
				if time.Since(last) > 500*time.Millisecond || done == total {
					last = time.Now()
					fmt.Fprintf(e.errw, "verified and written %d of %d bytes\n", done, total)
					e.s.gw.Publish(device.Event{Kind: device.EventFirmware, Detail: fmt.Sprintf("applying: %d of %d bytes", done, total)})
				}
			}
			v, err := fw.Apply(cmd.Context(), io.LimitReader(e.in, maxFirmware), e.p.Actor(), progress)
			if err != nil {
				return err
			}
			e.s.gw.Publish(device.Event{Kind: device.EventFirmware, Detail: "installed " + v + "; it runs after the next start"})
			_, err = fmt.Fprintf(e.out, "firmware %s installed in the inactive slot: it is verified again and runs after the next start\n", v)
			return err
		},
	}
	cmd.AddCommand(status, apply)
	return cmd
}

func (e *execSession) simCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulated network links (sim backend): cut and restore",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return usageErr("sim needs link down|up NAME") },
	}
	link := &cobra.Command{
		Use:         "link down|up NAME",
		Short:       "Make a simulated link unreachable or reachable again (ethernet, wifi, cellular, cellular.sim1, cellular.sim2)",
		Args:        cobra.ExactArgs(2),
		Annotations: needs("users"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "down" && args[0] != "up" {
				return usageErr("sim link %s: say down or up", printable(args[0]))
			}
			if err := e.s.acc.Authorize(e.p, access.PermUsers); err != nil {
				return execError{exitForbidden, err}
			}
			n := e.s.gw.Network()
			if n == nil {
				return fmt.Errorf("the network subsystem is not running")
			}
			if err := n.SetLinkReachable(args[1], args[0] == "up"); err != nil {
				return err
			}
			_ = e.s.gw.AuditDetail(e.p.Actor(), "sim.link", args[1], device.ResultOK, args[0])
			_, err := fmt.Fprintf(e.out, "simulated link %s is %s; the uplink follows after the probes (down_after/up_after)\n", args[1], map[string]string{"down": "unreachable", "up": "reachable"}[args[0]])
			return err
		},
	}
	cmd.AddCommand(link)
	return cmd
}
