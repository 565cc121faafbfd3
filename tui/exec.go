package tui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"charm.land/ssh"
	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/tui/access"
)

// Exit statuses of exec commands (as a shell would give them).
const (
	exitOK        = 0
	exitFailure   = 1
	exitUsage     = 2
	exitForbidden = 126
	exitUnknown   = 127
)

// maxStdin bounds what an exec command reads from standard input.
const maxStdin = 4 << 20

// execError carries an exit status.
type execError struct {
	code int
	err  error
}

func (e execError) Error() string { return e.err.Error() }

func usageErr(format string, a ...any) error {
	return execError{exitUsage, fmt.Errorf(format, a...)}
}

// execMiddleware runs the exec command of a session without a terminal;
// sessions with a terminal pass on to the console.
func (s *Server) execMiddleware(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		if _, _, isPty := sess.Pty(); isPty {
			// The console has ended (the tea middleware calls on after
			// its program exits): say why, outside the alternate screen.
			if a, ok := s.apps.Load(sess); ok && a.(*app).quitText != "" {
				_, _ = fmt.Fprintf(sess, "%s\r\n", a.(*app).quitText)
			}
			next(sess)
			return
		}
		_ = sess.Exit(s.runExec(sess))
	}
}

// execSession is what one exec command runs with.
type execSession struct {
	s    *Server
	p    access.Principal
	in   io.Reader
	out  io.Writer
	errw io.Writer
}

func (s *Server) runExec(sess ssh.Session) int {
	p, _ := principalOf(sess.Context())
	return s.execArgs(p, sess.Command(), sess, sess, sess.Stderr(), sess.Context())
}

// execArgs runs one exec command line for p and returns its exit status.
// Everything a client sends is bounded and escaped before it is echoed.
func (s *Server) execArgs(p access.Principal, args []string, in io.Reader, out, errw io.Writer, ctx context.Context) int {
	if ctx == nil {
		ctx = context.Background()
	}
	e := &execSession{s: s, p: p, in: in, out: out, errw: errw}
	actor := p.Actor()

	total := 0
	for _, a := range args {
		total += len(a) + 1
	}
	if len(args) > s.cfg.Limits.MaxArgs || total > s.cfg.Limits.MaxArgBytes {
		fmt.Fprintf(e.errw, "command refused: %d arguments, %d bytes; at most %d arguments and %d bytes\n", len(args), total, s.cfg.Limits.MaxArgs, s.cfg.Limits.MaxArgBytes)
		s.gw.Audit(actor, "command.exec", "(too long)", "refused")
		return exitUsage
	}
	if p.Setup {
		fmt.Fprintln(e.errw, "the setup token only opens the setup wizard: connect with a terminal, ssh -t setup@<gateway>")
		s.gw.Audit(actor, "command.denied", commandName(args), device.ResultDenied)
		return exitForbidden
	}
	acct, err := s.acc.Account(p.Account.ID)
	if err != nil {
		fmt.Fprintln(e.errw, "your account no longer exists")
		return exitFailure
	}
	if acct.Disabled || acct.Name != p.Account.Name {
		fmt.Fprintln(e.errw, "your account is locked")
		return exitForbidden
	}
	if steps := s.acc.Pending(acct); len(steps) > 0 {
		fmt.Fprintln(e.errw, pendingMessage(steps))
		s.gw.Audit(actor, "command.denied", commandName(args), "pending first login")
		return exitForbidden
	}
	e.p.Account = acct

	root := e.root()
	if len(args) == 0 {
		args = []string{"help"}
	}
	cmd, _, err := root.Find(args)
	if err != nil || cmd == root {
		fmt.Fprintf(e.errw, "unknown command %q: run 'help' to list the commands\n", printable(args[0]))
		s.gw.Audit(actor, "command.exec", printable(args[0]), "unknown")
		return exitUnknown
	}
	name := strings.TrimPrefix(cmd.CommandPath(), root.Name()+" ")
	if perm, ok := cmd.Annotations["perm"]; ok {
		need := permByName[perm]
		if !access.Can(acct.Role, need) {
			fmt.Fprintf(e.errw, "%s: not allowed: %s needs the %s role or higher, you are %s\n", name, need, access.RoleFor(need), acct.Role)
			s.gw.Audit(actor, "command.denied", name, device.ResultDenied)
			return exitForbidden
		}
	}
	root.SetArgs(args)
	root.SetIn(in)
	root.SetOut(e.out)
	root.SetErr(e.errw)
	root.SetContext(ctx)
	err = root.Execute()
	code := exitOK
	result := device.ResultOK
	if err != nil {
		var xe execError
		switch {
		case errors.As(err, &xe):
			code = xe.code
		case isCobraUsage(err):
			code = exitUsage
		default:
			code = exitFailure
		}
		result = device.ResultFailed
		fmt.Fprintf(e.errw, "%s: %s\n", name, printableLines(err.Error()))
	}
	if name != "help" {
		s.gw.Audit(actor, "command.exec", name, result)
	}
	return code
}

// printableLines escapes control characters but keeps line breaks.
func printableLines(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r != '\n' && (unicode.IsControl(r) || r == utf8.RuneError) {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isCobraUsage(err error) bool {
	m := err.Error()
	return strings.HasPrefix(m, "unknown flag") || strings.HasPrefix(m, "unknown shorthand") ||
		strings.HasPrefix(m, "invalid argument") || strings.HasPrefix(m, "accepts ") ||
		strings.Contains(m, "flag needs an argument")
}

func commandName(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return printable(args[0])
}

// pendingMessage says what a user must do before exec commands work.
func pendingMessage(steps []access.Step) string {
	for _, st := range steps {
		if st == access.StepSetPassword {
			return "your account is not set up yet: log in with a terminal (ssh -t <user>@<gateway>) and the enrolment code to set your password"
		}
	}
	for _, st := range steps {
		if st == access.StepEnrolTOTP {
			return "your role needs a second factor: log in with a terminal (ssh -t <user>@<gateway>) to enrol your authenticator app"
		}
	}
	return "you have not accepted the privacy notice: log in with a terminal (ssh -t <user>@<gateway>) to read and accept it"
}

// printable escapes control characters (line breaks too) and bounds the
// length, for echoing client input on one line.
func printable(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.ReplaceAll(printableLines(s), "\n", "\\n")
}

var permByName = map[string]access.Perm{
	"dashboard":   access.PermDashboard,
	"health":      access.PermHealth,
	"logs":        access.PermLogs,
	"config-view": access.PermConfigView,
	"config-edit": access.PermConfigEdit,
	"users":       access.PermUsers,
	"field-read":  access.PermFieldRead,
	"field-write": access.PermFieldWrite,
}

func needs(perm string) map[string]string { return map[string]string{"perm": perm} }

// root builds a fresh command tree for this session: no state is shared
// between sessions.
func (e *execSession) root() *cobra.Command {
	root := &cobra.Command{
		Use:           "gateway",
		Short:         "sitegate exec commands (ssh <gateway> COMMAND)",
		SilenceUsage:  true,
		SilenceErrors: true,
		CompletionOptions: cobra.CompletionOptions{
			DisableDefaultCmd: true,
		},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return execError{exitUsage, err} })
	root.AddCommand(e.whoamiCmd(), e.healthCmd(), e.logsCmd(), e.configCmd(), e.modbusCmd(), e.syncCmd(), e.alertsCmd(), e.firmwareCmd(), e.simCmd())
	return root
}

func (e *execSession) whoamiCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "whoami [--json]",
		Short:       "Print your user name and role",
		Args:        cobra.NoArgs,
		Annotations: needs("dashboard"),
		RunE: func(cmd *cobra.Command, args []string) error {
			a := e.p.Account
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

func (e *execSession) healthCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "health [--json]",
		Short:       "Show the gateway's health",
		Args:        cobra.NoArgs,
		Annotations: needs("health"),
		RunE: func(cmd *cobra.Command, args []string) error {
			h := e.s.gw.Health()
			if asJSON {
				return e.writeJSON(h)
			}
			return writeHealth(e.out, h)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func writeHealth(w io.Writer, h device.Health) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "gateway\t%s\n", h.GatewayID)
	fmt.Fprintf(tw, "site\t%s (revision %d)\n", h.Site, h.SiteRev)
	fmt.Fprintf(tw, "uptime\t%s\n", (time.Duration(h.UptimeS) * time.Second).String())
	fmt.Fprintf(tw, "sessions\t%d\n", h.Sessions)
	fmt.Fprintf(tw, "store\t%s\n", formatBytes(h.Store.SizeBytes))
	fmt.Fprintf(tw, "audit\t%d of %d events (%d evicted)%s\n", h.Store.AuditEvents, h.Store.AuditCapacity, h.Store.AuditEvicted, warnIf(h.Store.AuditNearFull, " NEARLY FULL"))
	fmt.Fprintf(tw, "outbox\t%d queued, oldest %ds, %d evicted%s\n", h.Outbox.Depth, h.Outbox.OldestAgeS, h.Outbox.Evicted, warnIf(h.Outbox.NearFull, " NEARLY FULL"))
	return tw.Flush()
}

func warnIf(b bool, s string) string {
	if b {
		return s
	}
	return ""
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func (e *execSession) logsCmd() *cobra.Command {
	var auditLog, follow, asJSON bool
	var last int
	cmd := &cobra.Command{
		Use:         "logs [--audit] [--follow] [--json] [-n N]",
		Short:       "Show the system log, or the audit log with --audit",
		Args:        cobra.NoArgs,
		Annotations: needs("logs"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if last < 0 || last > 100000 {
				return usageErr("-n %d: give 1..100000", last)
			}
			// Subscribe before reading history so nothing falls between.
			var sub *device.Subscription
			if follow {
				sub = e.s.gw.Subscribe(256)
				defer sub.Close()
			}
			var lastSeq uint64
			if auditLog {
				events, err := e.s.gw.Store().ListAudit(store.AuditFilter{Limit: last, Newest: true})
				if err != nil {
					return err
				}
				if asJSON && !follow {
					if events == nil {
						events = []store.AuditEvent{}
					}
					return e.writeJSON(events)
				}
				for _, ev := range events {
					e.writeAudit(ev, asJSON)
					lastSeq = ev.Seq
				}
			} else {
				recs := e.s.gw.Logs()
				if len(recs) > last {
					recs = recs[len(recs)-last:]
				}
				if asJSON && !follow {
					if recs == nil {
						recs = []device.LogRecord{}
					}
					return e.writeJSON(recs)
				}
				for _, r := range recs {
					e.writeLog(r, asJSON)
				}
			}
			if !follow {
				return nil
			}
			for {
				select {
				case <-cmd.Context().Done():
					return nil
				case ev, ok := <-sub.C():
					if !ok {
						return nil
					}
					if n := sub.Missed(); n > 0 {
						fmt.Fprintf(e.errw, "(missed %d updates: the connection is slower than the log)\n", n)
					}
					switch {
					case auditLog && ev.Kind == device.EventAudit && ev.Audit.Seq > lastSeq:
						e.writeAudit(ev.Audit, asJSON)
						lastSeq = ev.Audit.Seq
					case !auditLog && ev.Kind == device.EventLog:
						e.writeLog(ev.Log, asJSON)
					}
				}
			}
		},
	}
	f := cmd.Flags()
	f.BoolVar(&auditLog, "audit", false, "the audit log instead of the system log")
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new entries (one JSON object per line with --json)")
	f.BoolVar(&asJSON, "json", false, "print JSON (an array, or JSON lines with --follow)")
	f.IntVarP(&last, "lines", "n", 100, "how many of the newest entries to print first")
	return cmd
}

// writeJSON prints v as indented JSON, the form of every --json output.
func (e *execSession) writeJSON(v any) error {
	enc := json.NewEncoder(e.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (e *execSession) writeAudit(ev store.AuditEvent, asJSON bool) {
	if asJSON {
		_ = json.NewEncoder(e.out).Encode(ev)
		return
	}
	fmt.Fprintf(e.out, "%6d  %s  %-10s %-9s %-18s %-16s %s\n", ev.Seq, ev.TS.UTC().Format(time.DateTime), ev.Actor, ev.Role, ev.Action, ev.Target, ev.Result)
}

func (e *execSession) writeLog(r device.LogRecord, asJSON bool) {
	if asJSON {
		_ = json.NewEncoder(e.out).Encode(r)
		return
	}
	fmt.Fprintln(e.out, r.String())
}

func (e *execSession) configCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Export, import or compare the site file",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return usageErr("config needs export, import or diff") },
	}
	var asJSON bool
	export := &cobra.Command{
		Use:         "export [--json]",
		Short:       "Print the site file (secrets as <set>)",
		Args:        cobra.NoArgs,
		Annotations: needs("config-view"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if asJSON {
				site, rev := e.s.gw.Site()
				enc := json.NewEncoder(e.out)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Rev  uint64       `json:"rev"`
					Site *device.Site `json:"site"`
				}{rev, site.Redacted()})
			}
			b, err := e.s.gw.ExportYAML()
			if err != nil {
				return err
			}
			_, err = e.out.Write(b)
			return err
		},
	}
	export.Flags().BoolVar(&asJSON, "json", false, "print JSON with the revision")
	var force bool
	imp := &cobra.Command{
		Use:         "import [--force] < site.yaml",
		Short:       "Validate a site file from standard input and apply it",
		Args:        cobra.NoArgs,
		Annotations: needs("config-edit"),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readStdin(e.in)
			if err != nil {
				return err
			}
			current, rev := e.s.gw.Site()
			next, err := device.ImportSiteYAML(data, current)
			if err != nil {
				return problemsError(err, "nothing was applied")
			}
			// A file exported at an older revision carries it: importing
			// it over someone else's newer change is refused unless --force.
			base := rev
			if next.Revision != nil {
				base = *next.Revision
			}
			ch, err := e.s.applyEdit(e.p, device.Edit{Action: device.ActionConfigImport, Base: base, Force: force}, next)
			var stale *device.StaleError
			if errors.As(err, &stale) && next.Revision != nil {
				return execError{exitFailure, &device.ImportStaleError{StaleError: stale}}
			}
			if err != nil {
				return problemsError(err, "nothing was applied")
			}
			if ch.Unchanged {
				fmt.Fprintf(e.out, "no changes: the site is already revision %d\n", ch.Rev)
				return nil
			}
			fmt.Fprintf(e.out, "applied as site revision %d\n", ch.Rev)
			return nil
		},
	}
	diff := &cobra.Command{
		Use:         "diff < site.yaml",
		Short:       "Compare a site file from standard input with the current site",
		Args:        cobra.NoArgs,
		Annotations: needs("config-view"),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readStdin(e.in)
			if err != nil {
				return err
			}
			current, _ := e.s.gw.Site()
			// The same problems config validate and config import report.
			proposed, err := device.ImportSiteYAML(data, current)
			if err != nil {
				return problemsError(err, "nothing to compare")
			}
			after, err := device.EncodeSiteYAML(proposed)
			if err != nil {
				return err
			}
			before, err := e.s.gw.ExportYAML()
			if err != nil {
				return err
			}
			_, rev := e.s.gw.Site()
			d := UnifiedDiff(fmt.Sprintf("site revision %d", rev), "standard input", string(before), string(after), 3)
			if d == "" {
				fmt.Fprintf(e.out, "no differences from site revision %d\n", rev)
				return nil
			}
			_, err = io.WriteString(e.out, d)
			return err
		},
	}
	imp.Flags().BoolVar(&force, "force", false, "apply even if the site changed since the file was exported (audited)")
	cmd.AddCommand(export, imp, diff)
	return cmd
}

func readStdin(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxStdin+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxStdin {
		return nil, fmt.Errorf("standard input is larger than %d MiB: a site file is much smaller", maxStdin>>20)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, usageErr("standard input is empty: pipe a site file in, e.g. ssh <gateway> config import < site.yaml")
	}
	return b, nil
}

// problemsError turns validation problems into the command's error.
func problemsError(err error, outcome string) error {
	var ve *device.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	return errors.New(device.Report("the site file", outcome, err))
}
