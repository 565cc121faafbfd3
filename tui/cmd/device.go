package cmd

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/internal/format"
)

func (e *session) deviceCmd() *cobra.Command {
	return groupCmd("device", "Field devices in bulk: add, clone, remove, list",
		e.deviceAddCmd(), e.deviceCloneCmd(), e.deviceRemoveCmd(), e.deviceListCmd())
}

func (e *session) deviceAddCmd() *cobra.Command {
	var bus, profile, pointsCSV string
	var unit int
	var interval time.Duration
	cmd := &cobra.Command{
		Use:         "add NAME --bus BUS --unit N (--profile P | --points-csv -) [--interval D]",
		Short:       "Add a Modbus device with a profile, or with points from a CSV register map on standard input",
		Args:        exactArgs(1),
		Annotations: needs("config-edit"),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case bus == "":
				return usageErr("--bus is required: the Modbus bus the device is on")
			case unit == 0:
				return usageErr("--unit is required: the device's unit id, 1..247")
			case (profile == "") == (pointsCSV == ""):
				return usageErr("give --profile P or --points-csv - (one of them)")
			case pointsCSV != "" && pointsCSV != "-":
				return usageErr("--points-csv %q: give - and pipe the register map in (ssh runs no file on the gateway)", printable(pointsCSV))
			case interval < 0:
				return usageErr("--interval %s: give a duration such as 10s", interval)
			}
			d := device.Device{Name: args[0], Bus: bus, UnitID: unit, Interval: device.Duration(interval), Profile: profile}
			if d.Interval == 0 {
				d.Interval = device.DefaultPollInterval
			}
			if pointsCSV == "-" {
				data, err := readCSV(e.in)
				if err != nil {
					return err
				}
				p, err := device.ParseProfileCSV(args[0], data)
				if err != nil {
					return csvError(err)
				}
				d.Points = p.Points
			}
			next, rev := e.gw.Site()
			if err := next.AddDevice(d); err != nil {
				return failure(err)
			}
			ch, err := e.apply(rev, next)
			if err != nil {
				return err
			}
			added, _ := next.Modbus.FindDevice(d.Name)
			source := "profile " + profile
			if profile == "" {
				source = "its own points"
			}
			fmt.Fprintf(e.out, "added %s on %s unit %d (%s, %d points, every %s); %s\n", d.Name, bus, unit, source, len(next.EffectivePoints(added)), added.Interval, revText(ch))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&bus, "bus", "", "the Modbus bus (config export lists them)")
	f.IntVar(&unit, "unit", 0, "unit id 1..247, unused on the bus")
	f.StringVar(&profile, "profile", "", "a profile (profile list shows them)")
	f.StringVar(&pointsCSV, "points-csv", "", "- to read the device's points from a CSV register map on standard input")
	f.DurationVar(&interval, "interval", 0, "poll interval (default 10s)")
	return cmd
}

func (e *session) deviceCloneCmd() *cobra.Command {
	var unit int
	cmd := &cobra.Command{
		Use:         "clone SRC NEW --unit N",
		Short:       "Add a copy of a Modbus device (bus, profile, points, settings) under a new name and unit id",
		Args:        exactArgs(2),
		Annotations: needs("config-edit"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if unit == 0 {
				return usageErr("--unit is required: the copy's unit id, 1..247")
			}
			next, rev := e.gw.Site()
			c, err := next.CloneDevice(args[0], args[1], unit)
			if err != nil {
				return failure(err)
			}
			ch, err := e.apply(rev, next)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.out, "added %s on %s unit %d, a copy of %s; %s\n", c.Name, c.Bus, c.UnitID, args[0], revText(ch))
			return nil
		},
	}
	cmd.Flags().IntVar(&unit, "unit", 0, "the copy's unit id 1..247, unused on the bus")
	return cmd
}

func (e *session) deviceRemoveCmd() *cobra.Command {
	return &cobra.Command{
		Use:         "remove NAME",
		Short:       "Remove a Modbus device and its points",
		Args:        exactArgs(1),
		Annotations: needs("config-edit"),
		RunE: func(cmd *cobra.Command, args []string) error {
			next, rev := e.gw.Site()
			if err := next.RemoveDevice(args[0]); err != nil {
				return failure(fmt.Errorf("%w: device list shows them", err))
			}
			ch, err := e.apply(rev, next)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.out, "removed %s; %s\n", args[0], revText(ch))
			return nil
		},
	}
}

// deviceRow is a device in `device list --json`.
type deviceRow struct {
	Name        string  `json:"name"`
	Protocol    string  `json:"protocol"`
	Bus         string  `json:"bus"`
	UnitID      int     `json:"unit_id,omitempty"`
	Profile     string  `json:"profile,omitempty"`
	Points      int     `json:"points"`
	State       string  `json:"state"`
	SuccessRate float64 `json:"success_rate"`
	Requests    uint64  `json:"requests"`
}

func (e *session) deviceListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "list [--json]",
		Short:       "List the field devices with their state and success rate, whatever the protocol",
		Args:        noArgs,
		Annotations: needs("field-read"),
		RunE: func(cmd *cobra.Command, args []string) error {
			site, _ := e.gw.Site()
			hub := e.gw.Field()
			rows := []deviceRow{}
			for _, info := range hub.Topology() {
				st, _ := hub.Status(info.Name)
				row := deviceRow{Name: info.Name, Protocol: info.Protocol.String(), Bus: info.Bus, Points: len(info.Points),
					State: string(st.State), SuccessRate: st.SuccessRate, Requests: st.Requests}
				if d, ok := site.Modbus.FindDevice(info.Name); ok {
					row.UnitID, row.Profile = d.UnitID, d.Profile
				}
				rows = append(rows, row)
			}
			if asJSON {
				return e.writeJSON(rows)
			}
			if len(rows) == 0 {
				_, err := fmt.Fprintln(e.out, "no field devices: add one with device add NAME --bus BUS --unit N --profile P")
				return err
			}
			tw := tabwriter.NewWriter(e.out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "DEVICE\tPROTOCOL\tBUS\tUNIT\tPROFILE\tPOINTS\tSTATE\tSUCCESS")
			for _, r := range rows {
				unit := "-"
				if r.UnitID > 0 {
					unit = fmt.Sprint(r.UnitID)
				}
				success := "-"
				if r.Requests > 0 {
					success = fmt.Sprintf("%.1f%%", 100*r.SuccessRate)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Name, r.Protocol, r.Bus, unit, format.Dash(r.Profile), r.Points, r.State, success)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of {name, protocol, bus, unit_id, profile, points, state, success_rate, requests}")
	return cmd
}
