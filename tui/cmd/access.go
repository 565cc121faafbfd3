package cmd

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// accessCmd groups what the door knows about who logs in that is not an
// account: the organisation's certificates.
func (e *session) accessCmd() *cobra.Command {
	return groupCmd("access", "Logins that are not accounts (certificates)", e.accessCertsCmd())
}

// certRow is one certificate of `access certs --json` (binding names).
type certRow struct {
	KeyID       string    `json:"key_id"`
	Serial      uint64    `json:"serial"`
	Role        string    `json:"role"`
	Principal   string    `json:"principal"`
	ValidAfter  time.Time `json:"valid_after"`
	ValidBefore time.Time `json:"valid_before,omitzero"`
	CA          string    `json:"ca"`
	LastSeen    time.Time `json:"last_seen"`
}

func (e *session) accessCertsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "certs [--json]",
		Short:       "List the certificates seen at login since the gateway started",
		Args:        noArgs,
		Annotations: needs("users"),
		RunE: func(cmd *cobra.Command, args []string) error {
			list, err := e.d.Access.CertSessions(e.p.Actor())
			if err != nil {
				return forbidden(err)
			}
			rows := make([]certRow, 0, len(list))
			for _, c := range list {
				rows = append(rows, certRow{KeyID: c.KeyID, Serial: c.Serial, Role: c.Role.String(), Principal: c.Principal,
					ValidAfter: c.ValidAfter, ValidBefore: c.ValidBefore, CA: c.CA, LastSeen: c.LastSeen})
			}
			if asJSON {
				return e.writeJSON(rows)
			}
			if len(rows) == 0 {
				_, err := fmt.Fprintln(e.out, "no certificate logins since the gateway started")
				return err
			}
			tw := tabwriter.NewWriter(e.out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY ID\tSERIAL\tROLE\tVALID FROM\tVALID UNTIL\tLAST SEEN")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", r.KeyID, r.Serial, r.Role, stamp(r.ValidAfter), stamp(r.ValidBefore), stamp(r.LastSeen))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// stamp writes a time for a table; zero is "forever".
func stamp(t time.Time) string {
	if t.IsZero() {
		return "forever"
	}
	return t.UTC().Format(time.RFC3339)
}
