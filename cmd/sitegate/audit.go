package main

import (
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/store"
)

func newAuditCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "List and verify the tamper-evident audit log, print its public key",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("audit needs a subcommand: list, verify or key")
		},
	}
	cmd.AddCommand(newAuditListCmd(s), newAuditVerifyCmd(s), newAuditKeyCmd(s))
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
	var dir, pubFile string
	cmd := &cobra.Command{
		Use:   "verify --data DIR [--public-key FILE]",
		Short: "Verify the audit log: hash chain, MACs, signed checkpoints and the eviction record",
		Long: `Verify a stopped gateway's audit log and name the first bad event:

  - the SHA-256 hash chain, from the genesis or from the last evicted event;
  - every event's MAC, made with the audit key beside the database;
  - every signed checkpoint: its signature, that it matches the event it
    names, and that its counters only grow;
  - that the first retained event and the eviction count agree, and that no
    more events were evicted since a checkpoint than its free room allows.

Then it says what it could not prove, e.g. that events after the last
checkpoint rest on the database alone. It never creates a key: run it on a
copy of a data directory as well. --public-key checks the checkpoints'
signatures with the key the cloud holds (from "sitegate audit key").`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var opts store.VerifyOptions
			if pubFile != "" {
				raw, err := os.ReadFile(pubFile)
				if err != nil {
					return fmt.Errorf("read --public-key: %w", err)
				}
				pub, err := store.ParsePublicKey(raw)
				if err != nil {
					return fmt.Errorf("--public-key %s: %w", pubFile, err)
				}
				opts.PublicKeys = [][]byte{pub}
			}
			st, err := openStoreOnly(dir)
			if err != nil {
				return err
			}
			defer st.Close()
			res, err := st.VerifyAuditWith(opts)
			if err != nil {
				return fmt.Errorf("%w; the log was altered outside sitegate: keep this data directory as evidence and compare with the copy synced to the cloud", err)
			}
			a := st.AuditStats()
			fmt.Fprintf(s.out, "audit chain verified: %d events (seq %d..%d), %d evicted earlier, %d of %d slots used\n", res.Checked, res.FirstSeq, res.LastSeq, a.Evicted, a.Count, a.Capacity)
			if res.Keyed > 0 {
				fmt.Fprintf(s.out, "event MACs verified: %d events (keyed from seq %d)\n", res.Keyed, res.KeyedFrom)
			}
			if res.Last != nil {
				fmt.Fprintf(s.out, "signed checkpoints verified: %d, the last at seq %d (%s), key %s\n", res.Checkpoints, res.Last.Seq, res.Last.TS.UTC().Format(time.RFC3339), res.Last.Key)
			}
			if len(res.Unproven) > 0 {
				fmt.Fprintln(s.out, "not proven:")
				for _, u := range res.Unproven {
					fmt.Fprintf(s.out, "  - %s\n", u)
				}
			}
			return nil
		},
	}
	addDataFlag(cmd, &dir)
	cmd.Flags().StringVar(&pubFile, "public-key", "", "PEM public key to check checkpoint signatures with (the cloud's copy of the gateway's audit key)")
	return cmd
}

func newAuditKeyCmd(s streams) *cobra.Command {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "key --data DIR [--json]",
		Short: "Print the audit public key the cloud verifies checkpoints with",
		Long: "Print the public half of the gateway's audit key (PEM, PKIX), with which anyone can\n" +
			"verify the signed checkpoints published on the audit stream. The private key never\n" +
			"leaves DATA/" + store.AuditKeyFile + ". --json gives {\"alg\",\"key_id\",\"public_key\"}.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStoreOnly(dir)
			if err != nil {
				return err
			}
			defer st.Close()
			pub := st.AuditPublicKey()
			if pub == nil {
				return fmt.Errorf("%s has no audit key (%s): start the gateway once to create it", dir, store.AuditKeyFile)
			}
			if asJSON {
				enc := json.NewEncoder(s.out)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]string{"alg": "ed25519", "key_id": st.AuditKeyID(), "public_key": string(store.EncodePublicKey(pub))})
			}
			fmt.Fprintf(s.out, "# sitegate audit key %s (ed25519)\n", st.AuditKeyID())
			_, err = s.out.Write(store.EncodePublicKey(pub))
			return err
		},
	}
	addDataFlag(cmd, &dir)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
