package cmd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/tui/internal/format"
)

// Bounds of the field commands.
const (
	// fieldTimeout bounds a read through the driver (--now) or a write.
	fieldTimeout = 15 * time.Second
	// progressEvery is how often a scan reports its progress on stderr.
	progressEvery = 250 * time.Millisecond
	// maxUnitID is the highest Modbus unit id a scan probes.
	maxUnitID = 247
)

func (e *session) pointsCmd() *cobra.Command {
	return groupCmd("points", "Read and write the points of field devices, whatever their protocol",
		e.pointsReadCmd("read DEVICE [POINT] [--json] [--now]"), e.pointsWriteCmd())
}

func (e *session) modbusCmd() *cobra.Command {
	read := e.pointsReadCmd("read DEVICE [POINT] [--json] [--now]")
	read.Short += " (the same as points read)"
	return groupCmd("modbus", "Read Modbus values and scan buses", read, e.modbusScanCmd())
}

// pointsReadCmd is `points read`, and `modbus read` (its alias).
func (e *session) pointsReadCmd(use string) *cobra.Command {
	var asJSON, now bool
	cmd := &cobra.Command{
		Use:         use,
		Short:       "Show the latest values of a device (or one point); --now reads the device now",
		Args:        rangeArgs(1, 2),
		Annotations: needs("field-read"),
		RunE: func(cmd *cobra.Command, args []string) error {
			readings, err := e.readings(cmd.Context(), args, now)
			if err != nil {
				return err
			}
			if asJSON {
				return e.writeJSON(readings)
			}
			// Text rounds to each point's precision; JSON keeps it all.
			precision := map[string]int{}
			if info, ok := e.gw.Field().Device(args[0]); ok {
				for _, p := range info.Points {
					precision[p.Name] = p.Precision
				}
			}
			tw := tabwriter.NewWriter(e.out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "POINT\tVALUE\tUNIT\tQUALITY\tAGE\tERROR")
			at := e.d.Clock.Now()
			for _, r := range readings {
				age := ""
				if !r.TS.IsZero() {
					age = at.Sub(r.TS).Round(100 * time.Millisecond).String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Point, device.FormatValue(r.Value, precision[r.Point]), r.Unit, r.Quality, age, r.Error)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of {device, point, value, unit, quality, error, ts}")
	cmd.Flags().BoolVar(&now, "now", false, "read through the driver now instead of showing the latest poll")
	return cmd
}

// readings returns the latest readings of args[0] (only point args[1] when
// given), or reads them now through the driver.
func (e *session) readings(ctx context.Context, args []string, now bool) ([]field.Reading, error) {
	hub := e.gw.Field()
	dev := args[0]
	info, ok := hub.Device(dev)
	if !ok {
		return nil, failure(fmt.Errorf("no device %q in the site: `config export` lists the devices", printable(dev)))
	}
	var points []string
	if len(args) == 2 {
		if !hasPoint(info, args[1]) && !(info.DynamicPoints && sent(hub, dev, args[1])) {
			return nil, failure(fmt.Errorf("device %s has no point %q", dev, printable(args[1])))
		}
		points = []string{args[1]}
	}
	if now {
		ctx, cancel := context.WithTimeout(ctx, fieldTimeout)
		defer cancel()
		return hub.Read(ctx, dev, points)
	}
	readings, _ := hub.Latest(dev)
	if len(points) == 0 {
		return readings, nil
	}
	var one []field.Reading
	for _, r := range readings {
		if r.Point == points[0] {
			one = append(one, r)
		}
	}
	return one, nil
}

// sent reports whether a device whose points are what it sends (LoRa)
// has sent point.
func sent(hub *field.Hub, dev, point string) bool {
	rs, _ := hub.Latest(dev)
	for _, r := range rs {
		if r.Point == point {
			return true
		}
	}
	return false
}

func hasPoint(info field.DeviceInfo, name string) bool {
	for _, p := range info.Points {
		if p.Name == name {
			return true
		}
	}
	return false
}

func (e *session) pointsWriteCmd() *cobra.Command {
	var priority int
	var relinquish bool
	cmd := &cobra.Command{
		Use:         "write DEVICE POINT VALUE|--relinquish [--priority N]",
		Short:       "Write a value to a writable point (or relinquish its priority) and wait for the device to confirm it (audited)",
		Args:        rangeArgs(2, 3),
		Annotations: needs("field-write"),
		RunE: func(cmd *cobra.Command, args []string) error {
			v, err := writeValue(args, relinquish)
			if err != nil {
				return err
			}
			if priority < 0 || priority > 16 {
				return usageErr("--priority %d: give 1..16, or 0 for the point's default", priority)
			}
			if _, ok := e.gw.Field().Device(args[0]); !ok {
				return failure(fmt.Errorf("no device %q in the site: `config export` lists the devices", printable(args[0])))
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), fieldTimeout)
			defer cancel()
			w := field.Write{Device: args[0], Point: args[1], Value: v, Priority: priority}
			if err := e.gw.WritePoint(ctx, e.p.Actor(), w); err != nil {
				if errors.Is(err, field.ErrNoPoint) {
					return failure(fmt.Errorf("device %s has no point %q", args[0], printable(args[1])))
				}
				return err
			}
			if relinquish {
				_, err = fmt.Fprintf(e.out, "relinquished %s.%s%s\n", args[0], args[1], warnIf(priority > 0, " at priority "+strconv.Itoa(priority)))
				return err
			}
			_, err = fmt.Fprintf(e.out, "wrote %s to %s.%s\n", v, args[0], args[1])
			return err
		},
	}
	cmd.Flags().IntVar(&priority, "priority", 0, "command priority 1..16 where the protocol has one (BACnet); 0 for the point's default")
	cmd.Flags().BoolVar(&relinquish, "relinquish", false, "release the command at --priority (BACnet: write NULL) instead of writing a value")
	return cmd
}

// writeValue is the value `points write` writes: VALUE, or no value with
// --relinquish (one of them).
func writeValue(args []string, relinquish bool) (field.Value, error) {
	switch {
	case relinquish && len(args) == 3:
		return field.Value{}, usageErr("give a VALUE or --relinquish, not both")
	case relinquish:
		return field.Value{}, nil
	case len(args) == 2:
		return field.Value{}, usageErr("give the VALUE to write (or --relinquish to release a BACnet priority)")
	case strings.EqualFold(args[2], "null"):
		return field.Value{}, usageErr("to release a priority (BACnet NULL), use --relinquish instead of a value")
	}
	v, err := field.ParseValue(args[2])
	if err != nil {
		return field.Value{}, usageErr("%v", err)
	}
	return v, nil
}

func (e *session) modbusScanCmd() *cobra.Command {
	var from, to int
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "scan BUS [--from N] [--to N] [--json]",
		Short:       "Find the units that answer on a bus",
		Args:        exactArgs(1),
		Annotations: needs("field-write"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if from < 1 || to > maxUnitID || from > to {
				return usageErr("--from %d --to %d: unit ids are 1..%d", from, to, maxUnitID)
			}
			var last time.Time
			found, err := e.gw.Field().Discover(cmd.Context(), field.Modbus, field.Query{Target: args[0], From: from, To: to}, func(p field.Progress) {
				// Progress on stderr, at most a few lines a second.
				if now := e.d.Clock.Now(); now.Sub(last) > progressEvery || p.Done == p.Total {
					last = now
					fmt.Fprintf(e.errw, "scanning %s: %d/%d units probed, %d found\n", args[0], p.Done, p.Total, p.Found)
				}
			})
			if err != nil {
				return err
			}
			if asJSON {
				return e.writeJSON(scanJSON(found))
			}
			if len(found) == 0 {
				fmt.Fprintf(e.out, "no unit answered on %s between %d and %d\n", args[0], from, to)
				return nil
			}
			tw := tabwriter.NewWriter(e.out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "UNIT\tVENDOR\tPRODUCT\tREVISION\tFOUND BY")
			for _, f := range found {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", strconv.Itoa(f.ID), format.Dash(f.Vendor), format.Dash(f.Model), format.Dash(f.Revision), f.How)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&from, "from", 1, "first unit id")
	cmd.Flags().IntVar(&to, "to", maxUnitID, "last unit id")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

// scanUnit is a unit of `modbus scan --json`, with the fields it has
// always had.
type scanUnit struct {
	UnitID   int    `json:"unit_id"`
	Vendor   string `json:"vendor,omitempty"`
	Product  string `json:"product,omitempty"`
	Revision string `json:"revision,omitempty"`
	How      string `json:"how"`
}

func scanJSON(found []field.Found) []scanUnit {
	out := make([]scanUnit, 0, len(found))
	for _, f := range found {
		out = append(out, scanUnit{f.ID, f.Vendor, f.Model, f.Revision, f.How})
	}
	return out
}
