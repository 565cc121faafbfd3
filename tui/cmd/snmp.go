package cmd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/device/snmp"
)

// Bounds of the snmp commands.
const (
	// snmpDefaultRows is what `snmp walk` reads without --max.
	snmpDefaultRows = 200
	// snmpMaxGetOIDs bounds the OIDs of one `snmp get`.
	snmpMaxGetOIDs = 128
)

// errSNMPNotRunning: no SNMP driver runs.
var errSNMPNotRunning = errors.New("the SNMP driver is not running (see `health`)")

func (e *session) snmpCmd() *cobra.Command {
	return groupCmd("snmp", "Ask the site's SNMP agents for OIDs now (GET, GETBULK walks); the trap receiver",
		e.snmpGetCmd(), e.snmpWalkCmd(), e.snmpTrapsCmd())
}

// snmpDriver returns the SNMP driver and checks that name is one of its
// devices.
func (e *session) snmpDriver(name string) (*snmp.Driver, error) {
	d, ok := snmp.From(e.gw)
	if !ok {
		return nil, failure(errSNMPNotRunning)
	}
	info, ok := e.gw.Field().Device(name)
	if !ok || info.Protocol != field.SNMP {
		return nil, failure(fmt.Errorf("no SNMP device %q in the site: `config export` lists them under snmp.devices", printable(name)))
	}
	return d, nil
}

func (e *session) snmpGetCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "get DEVICE OID... [--json]",
		Short:       "Read OIDs of an SNMP device now (dotted numbers, e.g. 1.3.6.1.2.1.1.5.0)",
		Args:        rangeArgs(2, snmpMaxGetOIDs+1),
		Annotations: needs("field-read"),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := e.snmpDriver(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), fieldTimeout)
			defer cancel()
			vars, err := d.Get(ctx, args[0], args[1:])
			if err != nil {
				return failure(fmt.Errorf("snmp get %s: %w", args[0], err))
			}
			if asJSON {
				return e.writeJSON(vars)
			}
			return e.writeVars(vars)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of {oid, type, value, number}")
	return cmd
}

func (e *session) snmpWalkCmd() *cobra.Command {
	var asJSON bool
	var maxRows int
	cmd := &cobra.Command{
		Use:         "walk DEVICE OID [--max N] [--json]",
		Short:       "Walk the subtree under OID with GETBULK, at most --max varbinds",
		Args:        exactArgs(2),
		Annotations: needs("field-read"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if maxRows < 1 || maxRows > snmp.MaxWalkRows {
				return usageErr("--max %d: give 1..%d", maxRows, snmp.MaxWalkRows)
			}
			d, err := e.snmpDriver(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), fieldTimeout)
			defer cancel()
			vars, truncated, err := d.Walk(ctx, args[0], args[1], maxRows)
			if err != nil {
				return failure(fmt.Errorf("snmp walk %s %s: %w", args[0], printable(args[1]), err))
			}
			if asJSON {
				if vars == nil {
					vars = []snmp.Var{}
				}
				if err := e.writeJSON(struct {
					Vars      []snmp.Var `json:"vars"`
					Truncated bool       `json:"truncated"`
					Max       int        `json:"max"`
				}{vars, truncated, maxRows}); err != nil {
					return err
				}
			} else if err := e.writeVars(vars); err != nil {
				return err
			}
			if truncated {
				fmt.Fprintf(e.errw, "stopped at %d varbinds (--max); there are more: walk a narrower OID or raise --max (at most %d)\n", maxRows, snmp.MaxWalkRows)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print {vars: [{oid, type, value, number}], truncated, max}")
	cmd.Flags().IntVar(&maxRows, "max", snmpDefaultRows, "stop after this many varbinds")
	return cmd
}

func (e *session) writeVars(vars []snmp.Var) error {
	tw := tabwriter.NewWriter(e.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OID\tTYPE\tVALUE")
	for _, v := range vars {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.OID, v.Type, oneLine(v.Text))
	}
	return tw.Flush()
}

// snmpTraps is what `snmp traps --json` prints.
type snmpTraps struct {
	Receiver *snmp.TrapStats `json:"receiver"` // null: no trap_listen
	Alerts   []device.Alert  `json:"alerts"`
}

func (e *session) snmpTrapsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "traps [--json]",
		Short:       "Show the trap receiver (address, traps taken and dropped by reason) and the raised trap alerts",
		Args:        noArgs,
		Annotations: needs("field-read"),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, ok := snmp.From(e.gw)
			if !ok {
				return failure(errSNMPNotRunning)
			}
			out := snmpTraps{Alerts: d.Alerts()}
			if st, ok := d.TrapStats(); ok {
				out.Receiver = &st
			}
			if asJSON {
				return e.writeJSON(out)
			}
			if out.Receiver == nil {
				_, err := fmt.Fprintln(e.out, "no trap receiver: set snmp.trap_listen (e.g. 0.0.0.0:162) to receive traps")
				return err
			}
			r := out.Receiver
			switch {
			case r.Listening != "":
				fmt.Fprintf(e.out, "listening on %s\n", r.Listening)
			default:
				fmt.Fprintf(e.out, "not listening: %s\n", oneLine(r.Error))
			}
			fmt.Fprintf(e.out, "received %d, taken %d, informs acknowledged %d\n", r.Received, r.Accepted, r.Informs)
			for _, k := range slices.Sorted(maps.Keys(r.Dropped)) {
				fmt.Fprintf(e.out, "dropped (%s): %d\n", k, r.Dropped[k])
			}
			tw := tabwriter.NewWriter(e.out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ALERT\tSEVERITY\tSINCE\tDETAIL")
			for _, a := range out.Alerts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.Rule, a.Severity, a.Since.Format(time.RFC3339), oneLine(a.Detail))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print {receiver: {listening, error, received, accepted, informs_acknowledged, dropped}, alerts}")
	return cmd
}
