package cmd

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/internal/format"
)

// Bounds of `firmware apply`.
const (
	maxFirmware   = 4 << 30                // bytes of an uploaded image
	firmwareEvery = 500 * time.Millisecond // progress lines at most this often
)

// errNoFirmware means the gateway runs without a firmware manager.
var errNoFirmware = fmt.Errorf("no firmware manager runs in this gateway")

func (e *session) firmwareCmd() *cobra.Command {
	return groupCmd("firmware", "Show the firmware, or apply a signed image (admin)", e.firmwareStatusCmd(), e.firmwareApplyCmd())
}

func (e *session) firmwareStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:         "status",
		Short:       "Show the running firmware, its slot and the anti-rollback floor",
		Args:        noArgs,
		Annotations: needs("health"),
		RunE: func(cmd *cobra.Command, args []string) error {
			fw := e.gw.Firmware()
			if fw == nil {
				return errNoFirmware
			}
			i := fw.Info()
			_, err := fmt.Fprintf(e.out, "version %s, slot %s, floor %s\n", i.Version, format.Dash(i.Slot), format.Dash(i.Floor))
			return err
		},
	}
}

func (e *session) firmwareApplyCmd() *cobra.Command {
	return &cobra.Command{
		Use:         "apply < image",
		Short:       "Verify a signed image from standard input and install it for the next start",
		Args:        noArgs,
		Annotations: needsTo("users", "installing firmware"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.authorize(cmd); err != nil {
				return err
			}
			fw := e.gw.Firmware()
			if fw == nil {
				return errNoFirmware
			}
			var last time.Time
			progress := func(done, total int64) {
				if now := e.d.Clock.Now(); now.Sub(last) > firmwareEvery || done == total {
					last = now
					fmt.Fprintf(e.errw, "verified and written %d of %d bytes\n", done, total)
					e.gw.Publish(device.Event{Kind: device.EventFirmware, Detail: fmt.Sprintf("applying: %d of %d bytes", done, total)})
				}
			}
			v, err := fw.Apply(cmd.Context(), io.LimitReader(e.in, maxFirmware), e.p.Actor(), progress)
			if err != nil {
				return err
			}
			e.gw.Publish(device.Event{Kind: device.EventFirmware, Detail: "installed " + v + "; it runs after the next start"})
			_, err = fmt.Fprintf(e.out, "firmware %s installed in the inactive slot: it is verified again and runs after the next start\n", v)
			return err
		},
	}
}
