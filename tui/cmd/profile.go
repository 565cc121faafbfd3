package cmd

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/internal/format"
)

func (e *session) profileCmd() *cobra.Command {
	return groupCmd("profile", "Register maps: list, show, export and import them (CSV)",
		e.profileListCmd(), e.profileShowCmd(), e.profileExportCmd(), e.profileImportCmd(), e.profileRemoveCmd())
}

// profileRow is a profile in `profile list --json`.
type profileRow struct {
	Name        string   `json:"name"`
	Builtin     bool     `json:"builtin"`
	Points      int      `json:"points"`
	UsedBy      []string `json:"used_by"`
	Description string   `json:"description,omitempty"`
	Source      string   `json:"source,omitempty"`
}

func (e *session) profileListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "list [--json]",
		Short:       "List the built-in profiles and the site's own",
		Args:        noArgs,
		Annotations: needs("config-view"),
		RunE: func(cmd *cobra.Command, args []string) error {
			site, _ := e.gw.Site()
			rows := []profileRow{}
			for _, p := range site.AllProfiles() {
				row := profileRow{Name: p.Name, Builtin: device.IsBuiltinProfile(p.Name), Points: len(p.Points), UsedBy: []string{}, Description: p.Description, Source: p.Source}
				for _, d := range site.Modbus.Devices {
					if d.Profile == p.Name {
						row.UsedBy = append(row.UsedBy, d.Name)
					}
				}
				rows = append(rows, row)
			}
			if asJSON {
				return e.writeJSON(rows)
			}
			tw := tabwriter.NewWriter(e.out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "PROFILE\tKIND\tPOINTS\tDEVICES\tDESCRIPTION")
			for _, r := range rows {
				kind := "site"
				if r.Builtin {
					kind = "built-in"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", r.Name, kind, r.Points, len(r.UsedBy), format.Dash(r.Description))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

// profile returns the profile called name, or a failure naming the known
// ones.
func (e *session) profile(name string) (device.Profile, error) {
	site, _ := e.gw.Site()
	p, ok := site.LookupProfile(name)
	if !ok {
		return p, failure(fmt.Errorf("no profile %q: `profile list` shows the profiles (%s)", printable(name), strings.Join(site.ProfileNames(), ", ")))
	}
	return p, nil
}

func (e *session) profileShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "show NAME [--json]",
		Short:       "Show a profile's points",
		Args:        exactArgs(1),
		Annotations: needs("config-view"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := e.profile(args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return e.writeJSON(p)
			}
			kind := "site profile"
			if device.IsBuiltinProfile(p.Name) {
				kind = "built-in profile (read-only)"
			}
			fmt.Fprintf(e.out, "%s: %s, %d points\n", p.Name, kind, len(p.Points))
			if p.Description != "" {
				fmt.Fprintf(e.out, "%s\n", p.Description)
			}
			if p.Source != "" {
				fmt.Fprintf(e.out, "source: %s\n", p.Source)
			}
			if len(p.Match) > 0 {
				fmt.Fprintf(e.out, "suggested for devices that identify as: %s\n", strings.Join(p.Match, ", "))
			}
			fmt.Fprintln(e.out)
			return writePoints(e.out, p.Points)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the profile as JSON")
	return cmd
}

// writePoints prints points as a table with both address notations.
func writePoints(w io.Writer, points []device.Point) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "POINT\tTABLE\tADDRESS\tREF\tTYPE\tORDER\tSCALE\tOFFSET\tUNIT\tACCESS\tDESCRIPTION")
	for _, p := range points {
		rw := "read"
		if p.Writable {
			rw = "write"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%g\t%g\t%s\t%s\t%s\n", p.Name, p.Table, p.Address, device.Notation(p.Table, p.Address),
			p.Type, p.Order, p.Scale(), p.Offset, format.Dash(p.Unit), rw, format.Dash(p.Description))
	}
	return tw.Flush()
}

func (e *session) profileExportCmd() *cobra.Command {
	return &cobra.Command{
		Use:         "export NAME",
		Short:       "Print a profile as a CSV register map (the columns profile import reads)",
		Args:        exactArgs(1),
		Annotations: needs("config-view"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := e.profile(args[0])
			if err != nil {
				return err
			}
			b, err := device.EncodeProfileCSV(p)
			if err != nil {
				return err
			}
			_, err = e.out.Write(b)
			return err
		},
	}
}

// readCSV reads a register map from standard input, bounded: past the
// bound ParseProfileCSV reports the size with its line.
func readCSV(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, device.MaxProfileCSVBytes+1))
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, usageErr("standard input is empty: pipe the register map in, e.g. ssh <gateway> profile import my-meter < map.csv")
	}
	return b, nil
}

// csvError turns a register map's problems into the command's error.
func csvError(err error) error {
	var ve *device.ValidationError
	if errors.As(err, &ve) {
		return failure(errors.New(device.Report("the register map", "nothing was stored", err)))
	}
	return err
}

func (e *session) profileImportCmd() *cobra.Command {
	var description string
	var match []string
	cmd := &cobra.Command{
		Use:         "import NAME [--description TEXT] [--match TEXT]... < map.csv",
		Short:       "Store a CSV register map as the site's profile NAME (replacing one of that name)",
		Args:        exactArgs(1),
		Annotations: needs("config-edit"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if device.IsBuiltinProfile(name) {
				return failure(fmt.Errorf("%s is a built-in profile, and built-in profiles are read-only: import the map under another name (e.g. %s-site)", name, name))
			}
			data, err := readCSV(e.in)
			if err != nil {
				return err
			}
			p, err := device.ParseProfileCSV(name, data)
			if err != nil {
				return csvError(err)
			}
			p.Description, p.Match = description, match
			if err := p.Validate(); err != nil {
				return problemsError(err, "nothing was stored")
			}
			next, rev := e.gw.Site()
			replaced, err := next.PutProfile(p)
			if err != nil {
				return failure(err)
			}
			ch, err := e.apply(rev, next)
			if err != nil {
				return err
			}
			what := "imported"
			if replaced {
				what = "replaced"
			}
			users := 0
			for _, d := range next.Modbus.Devices {
				if d.Profile == name {
					users++
				}
			}
			fmt.Fprintf(e.out, "%s profile %s: %d points, used by %d devices; %s\n", what, name, len(p.Points), users, revText(ch))
			return nil
		},
	}
	cmd.Flags().StringVar(&description, "description", "", "one line saying what the map is for")
	cmd.Flags().StringArrayVar(&match, "match", nil, "text a device's identification contains (vendor or product code), to suggest the profile after a scan; repeatable")
	return cmd
}

func (e *session) profileRemoveCmd() *cobra.Command {
	return &cobra.Command{
		Use:         "remove NAME",
		Short:       "Remove one of the site's profiles (no device may use it)",
		Args:        exactArgs(1),
		Annotations: needs("config-edit"),
		RunE: func(cmd *cobra.Command, args []string) error {
			next, rev := e.gw.Site()
			if err := next.DeleteProfile(args[0]); err != nil {
				return failure(err)
			}
			ch, err := e.apply(rev, next)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.out, "removed profile %s; %s\n", args[0], revText(ch))
			return nil
		},
	}
}

// apply stores a site change made from revision rev as the session's
// principal (the access rules check it again inside the gateway's lock).
func (e *session) apply(rev uint64, next *device.Site) (device.Change, error) {
	ch, err := e.d.Access.ApplySite(e.p, device.Edit{Action: device.ActionConfigChange, Base: rev}, next)
	if err != nil {
		var stale *device.StaleError
		var ve *device.ValidationError
		switch {
		case errors.As(err, &stale):
			return ch, failure(fmt.Errorf("%v: run the command again", err))
		case errors.Is(err, access.ErrForbidden):
			return ch, forbidden(err)
		case errors.As(err, &ve):
			return ch, failure(errors.New(device.Report("the change", "nothing was changed", err)))
		}
		return ch, err
	}
	return ch, nil
}

func revText(ch device.Change) string {
	if ch.Unchanged {
		return fmt.Sprintf("no change (site revision %d)", ch.Rev)
	}
	return fmt.Sprintf("site revision %d", ch.Rev)
}
