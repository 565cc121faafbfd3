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
