package tui

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device/field"
)

func (e *execSession) modbusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "modbus",
		Short: "Read field values and scan buses",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return usageErr("modbus needs read or scan") },
	}
	cmd.AddCommand(e.modbusReadCmd(), e.modbusScanCmd())
	return cmd
}

func (e *execSession) modbusReadCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "read DEVICE [POINT] [--json]",
		Short:       "Show the latest values of a device (or one point)",
		Args:        cobra.RangeArgs(1, 2),
		Annotations: needs("field-read"),
		RunE: func(cmd *cobra.Command, args []string) error {
			readings, ok := e.s.gw.Readings(args[0])
			if !ok {
				return execError{exitFailure, fmt.Errorf("no device %q in the site: `config export` lists the devices", printable(args[0]))}
			}
			if len(args) == 2 {
				var one []field.Reading
				for _, r := range readings {
					if r.Point == args[1] {
						one = append(one, r)
					}
				}
				if len(one) == 0 {
					return execError{exitFailure, fmt.Errorf("device %s has no point %q", args[0], printable(args[1]))}
				}
				readings = one
			}
			if asJSON {
				return e.writeJSON(readings)
			}
			tw := tabwriter.NewWriter(e.out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "POINT\tVALUE\tUNIT\tQUALITY\tAGE\tERROR")
			now := e.s.now()
			for _, r := range readings {
				age := ""
				if !r.TS.IsZero() {
					age = now.Sub(r.TS).Round(100 * time.Millisecond).String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Point, r.Value, r.Unit, r.Quality, age, r.Error)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func (e *execSession) modbusScanCmd() *cobra.Command {
	var from, to int
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "scan BUS [--from N] [--to N] [--json]",
		Short:       "Find the units that answer on a bus",
		Args:        cobra.ExactArgs(1),
		Annotations: needs("field-write"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if from < 1 || to > 247 || from > to {
				return usageErr("--from %d --to %d: unit ids are 1..247", from, to)
			}
			last := time.Time{}
			found, err := e.s.gw.Field().Discover(cmd.Context(), field.Modbus, field.Query{Target: args[0], From: from, To: to}, func(p field.Progress) {
				// Progress on stderr, at most a few lines a second.
				if time.Since(last) > 250*time.Millisecond || p.Done == p.Total {
					last = time.Now()
					fmt.Fprintf(e.errw, "scanning %s: %d/%d units probed, %d found\n", args[0], p.Done, p.Total, p.Found)
				}
			})
			if err != nil {
				return err
			}
			if asJSON {
				// The fields `modbus scan --json` has always had.
				type unit struct {
					UnitID   int    `json:"unit_id"`
					Vendor   string `json:"vendor,omitempty"`
					Product  string `json:"product,omitempty"`
					Revision string `json:"revision,omitempty"`
					How      string `json:"how"`
				}
				out := make([]unit, 0, len(found))
				for _, f := range found {
					out = append(out, unit{f.ID, f.Vendor, f.Model, f.Revision, f.How})
				}
				return e.writeJSON(out)
			}
			if len(found) == 0 {
				fmt.Fprintf(e.out, "no unit answered on %s between %d and %d\n", args[0], from, to)
				return nil
			}
			tw := tabwriter.NewWriter(e.out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "UNIT\tVENDOR\tPRODUCT\tREVISION\tFOUND BY")
			for _, f := range found {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", strconv.Itoa(f.ID), dash(f.Vendor), dash(f.Model), dash(f.Revision), f.How)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&from, "from", 1, "first unit id")
	cmd.Flags().IntVar(&to, "to", 247, "last unit id")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func dash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
