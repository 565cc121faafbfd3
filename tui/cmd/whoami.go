package cmd

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

func (e *session) whoamiCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "whoami [--json]",
		Short:       "Print your user name and role",
		Args:        noArgs,
		Annotations: needs("dashboard"),
		RunE: func(cmd *cobra.Command, args []string) error {
			a := e.p.Account
			if c := e.p.Cert; c != nil {
				if asJSON {
					return e.writeJSON(map[string]any{"user": c.KeyID, "id": e.p.Actor().ID, "role": c.Role.String(),
						"certificate": map[string]any{"serial": c.Serial, "valid_after": c.ValidAfter, "valid_before": c.ValidBefore, "principal": c.Principal, "ca": c.CA}})
				}
				_, err := fmt.Fprintf(e.out, "%s %s (certificate, serial %d, valid until %s)\n", c.KeyID, c.Role, c.Serial, stamp(c.ValidBefore))
				return err
			}
			if asJSON {
				return json.NewEncoder(e.out).Encode(map[string]string{"user": a.Name, "id": a.ID, "role": a.Role.String()})
			}
			_, err := fmt.Fprintf(e.out, "%s %s\n", a.Name, a.Role)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
