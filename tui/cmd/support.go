package cmd

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
)

// supportCmd is `support open --for D|close|status [--json]`: the
// vendor's remote access by consent (issue 17).
func (e *session) supportCmd() *cobra.Command {
	var dur time.Duration
	open := &cobra.Command{
		Use:         "open --for DURATION",
		Short:       "Open a support window: the vendor's VPN may reach the SSH console until it ends",
		Args:        noArgs,
		Annotations: needsTo("users", "opening a support window"),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := e.gw.Support()
			if w == nil {
				return device.ErrNoSupport
			}
			if !cmd.Flags().Changed("for") {
				return usageErr("support open needs --for DURATION (e.g. --for 2h, at most %s)", device.MaxSupportWindow)
			}
			if err := e.authorize(cmd); err != nil {
				return err
			}
			st, err := w.Open(e.p.Actor(), dur)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.out, "support window open until %s UTC; 'support close' ends it sooner\n", st.Until.UTC().Format(time.DateTime))
			return nil
		},
	}
	open.Flags().DurationVar(&dur, "for", 0, "how long the window stays open (1m..72h)")
	closeCmd := &cobra.Command{
		Use:         "close",
		Short:       "Close the support window now and stop the VPN",
		Args:        noArgs,
		Annotations: needsTo("users", "closing a support window"),
		RunE: func(cmd *cobra.Command, args []string) error {
			w := e.gw.Support()
			if w == nil {
				return device.ErrNoSupport
			}
			if err := e.authorize(cmd); err != nil {
				return err
			}
			if err := w.Close(e.p.Actor()); err != nil {
				return err
			}
			fmt.Fprintln(e.out, "support window closed")
			return nil
		},
	}
	var asJSON bool
	status := &cobra.Command{
		Use:         "status [--json]",
		Short:       "Show the support window and its VPN",
		Args:        noArgs,
		Annotations: needs("health"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st := device.SupportStatus{State: "stopped", Error: device.ErrNoSupport.Error()}
			if w := e.gw.Support(); w != nil {
				st = w.Status()
			}
			if asJSON {
				return e.writeJSON(st)
			}
			return writeSupport(e.out, st)
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return groupCmd("support", "The vendor's remote access, by consent", open, closeCmd, status)
}

func writeSupport(w io.Writer, st device.SupportStatus) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if st.Open {
		fmt.Fprintf(tw, "window\topen until %s UTC (by %s, since %s UTC)\n", st.Until.UTC().Format(time.DateTime), st.By, st.Since.UTC().Format(time.DateTime))
	} else {
		fmt.Fprintf(tw, "window\tclosed\n")
	}
	fmt.Fprintf(tw, "vpn\t%s", st.State)
	if st.LocalIP != "" {
		fmt.Fprintf(tw, " (%s, server %s)", st.LocalIP, st.Remote)
	}
	fmt.Fprintf(tw, "\ntraffic\t%d B in, %d B out\n", st.BytesIn, st.BytesOut)
	if st.Error != "" {
		fmt.Fprintf(tw, "error\t%s\n", st.Error)
	}
	return tw.Flush()
}
