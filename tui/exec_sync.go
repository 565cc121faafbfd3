package tui

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/access"
)

// syncReport is `sync status --json`.
type syncReport struct {
	Uplink   device.UplinkStatus  `json:"uplink"`
	Outbox   device.OutboxHealth  `json:"outbox"`
	Conflict *device.SyncConflict `json:"conflict,omitempty"`
}

func (e *execSession) syncCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "The cloud uplink: status, and cutting the demo uplink",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return usageErr("sync needs status, cut or restore") },
	}
	var asJSON bool
	status := &cobra.Command{
		Use:         "status [--json]",
		Short:       "Show the uplink, the outbox and any configuration conflict",
		Args:        cobra.NoArgs,
		Annotations: needs("health"),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep := syncReport{Outbox: e.s.gw.Health().Outbox}
			if up := e.s.gw.Uplink(); up != nil {
				rep.Uplink = up.Status()
				if c, ok := up.Conflict(); ok {
					rep.Conflict = &c
				}
			}
			if asJSON {
				return e.writeJSON(rep)
			}
			tw := tabwriter.NewWriter(e.out, 0, 0, 2, ' ', 0)
			state := "offline (no broker configured)"
			switch u := rep.Uplink; {
			case u.Cut:
				state = "cut by an administrator (demo)"
			case u.Connected:
				state = "connected"
			case u.Configured:
				state = "disconnected"
			}
			fmt.Fprintf(tw, "uplink\t%s\n", state)
			if rep.Uplink.Broker != "" {
				fmt.Fprintf(tw, "broker\t%s\n", rep.Uplink.Broker)
			}
			if rep.Uplink.LastError != "" {
				fmt.Fprintf(tw, "last error\t%s\n", rep.Uplink.LastError)
			}
			if !rep.Uplink.LastPublish.IsZero() {
				fmt.Fprintf(tw, "last publish\t%s ago\n", e.s.now().Sub(rep.Uplink.LastPublish).Round(time.Second))
			}
			fmt.Fprintf(tw, "published\t%d records since start\n", rep.Uplink.Published)
			fmt.Fprintf(tw, "outbox\t%d queued, oldest %ds, %d evicted\n", rep.Outbox.Depth, rep.Outbox.OldestAgeS, rep.Outbox.Evicted)
			if rep.Conflict != nil {
				fmt.Fprintf(tw, "conflict\tcloud revision %d was based on %d, the gateway is at %d: resolve it in the console (Sync tab)\n", rep.Conflict.DesiredRev, rep.Conflict.BaseRev, rep.Conflict.LocalRev)
			}
			return tw.Flush()
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cut := func(use string, on bool) *cobra.Command {
		return &cobra.Command{
			Use:         use,
			Short:       "Cut (or restore) the demo uplink to show offline operation",
			Args:        cobra.NoArgs,
			Annotations: needs("users"),
			RunE: func(cmd *cobra.Command, args []string) error {
				up := e.s.gw.Uplink()
				if up == nil {
					return device.ErrNoUplink
				}
				if err := e.s.acc.Authorize(e.p, access.PermUsers); err != nil {
					return execError{exitForbidden, err}
				}
				if err := up.SetCut(e.p.Actor(), on); err != nil {
					return err
				}
				if on {
					fmt.Fprintln(e.out, "uplink cut: the gateway keeps working and queues everything until 'sync restore'")
				} else {
					fmt.Fprintln(e.out, "uplink restored: the queue drains now")
				}
				return nil
			},
		}
	}
	cmd.AddCommand(status, cut("cut", true), cut("restore", false))
	return cmd
}

func (e *execSession) alertsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "alerts [--json]",
		Short:       "Show the raised health alerts",
		Args:        cobra.NoArgs,
		Annotations: needs("health"),
		RunE: func(cmd *cobra.Command, args []string) error {
			alerts := e.s.gw.Health().Alerts
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
