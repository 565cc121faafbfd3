package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/store"
)

func newAuditCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "List and verify the tamper-evident audit log",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("audit needs a subcommand: list or verify")
		},
	}
	cmd.AddCommand(newAuditListCmd(s), newAuditVerifyCmd(s))
	return cmd
}

func newAuditListCmd(s streams) *cobra.Command {
	var dir string
	var asJSON bool
	var limit int
	cmd := &cobra.Command{
		Use:   "list --data DIR [--json] [--limit N]",
		Short: "List audit events, oldest first",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 {
				return usagef("--limit %d: give 0 for all events or a positive count", limit)
			}
			st, _, err := openOffline(dir)
			if err != nil {
				return err
			}
			defer st.Close()
			events, err := st.ListAudit(store.AuditFilter{Limit: limit, Newest: limit > 0})
			if err != nil {
				return err
			}
			if asJSON {
				if events == nil {
					events = []store.AuditEvent{}
				}
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(events)
			}
			tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tTIME (UTC)\tACTOR\tROLE\tACTION\tTARGET\tRESULT")
			for _, e := range events {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.TS.UTC().Format(time.DateTime), e.Actor, e.Role, e.Action, e.Target, e.Result)
			}
			return tw.Flush()
		},
	}
	addDataFlag(cmd, &dir)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	cmd.Flags().IntVar(&limit, "limit", 0, "only the newest N events (0: all)")
	return cmd
}

func newAuditVerifyCmd(s streams) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "verify --data DIR",
		Short: "Recompute the audit hash chain and report the first bad event",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, _, err := openOffline(dir)
			if err != nil {
				return err
			}
			defer st.Close()
			res, err := st.VerifyAudit()
			if err != nil {
				return fmt.Errorf("%w; the log was altered outside sitegate: keep this data directory as evidence and compare with the copy synced to the cloud", err)
			}
			a := st.AuditStats()
			fmt.Fprintf(s.out, "audit chain verified: %d events (seq %d..%d), %d evicted earlier, %d of %d slots used\n", res.Checked, res.FirstSeq, res.LastSeq, a.Evicted, a.Count, a.Capacity)
			return nil
		},
	}
	addDataFlag(cmd, &dir)
	return cmd
}
