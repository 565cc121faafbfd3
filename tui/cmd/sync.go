package cmd

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
)

// syncReport is `sync status --json`.
type syncReport struct {
	Uplink   device.UplinkStatus  `json:"uplink"`
	Outbox   device.OutboxHealth  `json:"outbox"`
	Conflict *device.SyncConflict `json:"conflict,omitempty"`
}

func (e *session) syncCmd() *cobra.Command {
	return groupCmd("sync", "The cloud uplink: status, and cutting the demo uplink",
		e.syncStatusCmd(), e.syncCutCmd("cut", true), e.syncCutCmd("restore", false))
}

func (e *session) syncStatusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "status [--json]",
		Short:       "Show the uplink, the outbox and any configuration conflict",
		Args:        noArgs,
		Annotations: needs("health"),
		RunE: func(cmd *cobra.Command, args []string) error {
			rep := syncReport{Outbox: e.gw.OutboxFigures()}
			if up := e.gw.Uplink(); up != nil {
				rep.Uplink = up.Status()
				if c, ok := up.Conflict(); ok {
					rep.Conflict = &c
				}
			}
			if asJSON {
				return e.writeJSON(rep)
			}
			return e.writeSync(rep)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (e *session) writeSync(rep syncReport) error {
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
		fmt.Fprintf(tw, "last publish\t%s ago\n", e.d.Clock.Now().Sub(rep.Uplink.LastPublish).Round(time.Second))
	}
	fmt.Fprintf(tw, "published\t%d records since start\n", rep.Uplink.Published)
	fmt.Fprintf(tw, "outbox\t%d queued, oldest %ds, %d evicted\n", rep.Outbox.Depth, rep.Outbox.OldestAgeS, rep.Outbox.Evicted)
	if rep.Conflict != nil {
		fmt.Fprintf(tw, "conflict\tcloud revision %d was based on %d, the gateway is at %d: resolve it in the console (Sync tab)\n", rep.Conflict.DesiredRev, rep.Conflict.BaseRev, rep.Conflict.LocalRev)
	}
	return tw.Flush()
}

func (e *session) syncCutCmd(use string, cut bool) *cobra.Command {
	return &cobra.Command{
		Use:         use,
		Short:       "Cut (or restore) the demo uplink to show offline operation",
		Args:        noArgs,
		Annotations: needsTo("users", "cutting or restoring the uplink"),
		RunE: func(cmd *cobra.Command, args []string) error {
			up := e.gw.Uplink()
			if up == nil {
				return device.ErrNoUplink
			}
			if err := e.authorize(cmd); err != nil {
				return err
			}
			if err := up.SetCut(e.p.Actor(), cut); err != nil {
				return err
			}
			if cut {
				fmt.Fprintln(e.out, "uplink cut: the gateway keeps working and queues everything until 'sync restore'")
			} else {
				fmt.Fprintln(e.out, "uplink restored: the queue drains now")
			}
			return nil
		},
	}
}
