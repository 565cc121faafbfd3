package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/clockwork"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/tui/access"
)

// Exit statuses of exec commands (as a shell would give them).
const (
	ExitOK        = 0
	ExitFailure   = 1   // the command ran and failed; one sentence on stderr says why
	ExitUsage     = 2   // a usage mistake; the usage line follows
	ExitForbidden = 126 // the role may not run it
	ExitUnknown   = 127 // no such command or subcommand
)

// Bounds of what a client sends.
const (
	// maxStdin bounds what a command reads from standard input (a site
	// file); firmware images have their own bound.
	maxStdin = 4 << 20
	// maxEcho bounds client text echoed back in one message.
	maxEcho = 64
)

// Gateway is what exec commands ask of the gateway; *device.Gateway
// implements it.
type Gateway interface {
	Site() (*device.Site, uint64)
	ExportYAML() ([]byte, error)
	Health() device.Health
	OutboxFigures() device.OutboxHealth
	Logs() []device.LogRecord
	AuditLog() device.AuditReader
	Subscribe(buffer int) *device.Subscription
	Publish(ev device.Event)
	Audit(actor device.Actor, action device.Action, target string, result device.Result) error
	AuditDetail(actor device.Actor, action device.Action, target string, result device.Result, detail string) error
	Field() *field.Hub
	WritePoint(ctx context.Context, actor device.Actor, w field.Write) error
	Uplink() device.Uplink
	Firmware() device.FirmwareUpdater
	Network() device.Network
	Support() device.SupportWindow
	SignedReport(actor device.Actor, f device.ReportFormat) ([]byte, error)
	ReportKey() *device.ReportKey
}

// Limits bound one command line.
type Limits struct {
	MaxArgs     int // arguments
	MaxArgBytes int // total bytes of the command line
}

// Deps are the exec commands' dependencies, the same for every session.
type Deps struct {
	Gateway Gateway
	Access  *access.Service
	Clock   clockwork.Clock
	Limits  Limits
}

// Session is one exec command: who runs it, its command line and its
// standard streams.
type Session struct {
	Principal access.Principal
	Args      []string
	In        io.Reader
	Out, Err  io.Writer
}

// execError carries an exit status.
type execError struct {
	code int
	err  error
}

func (e execError) Error() string { return e.err.Error() }
func (e execError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return execError{ExitUsage, fmt.Errorf(format, a...)}
}

func forbidden(err error) error { return execError{ExitForbidden, err} }

func failure(err error) error { return execError{ExitFailure, err} }

// session is one command's run: its dependencies and streams.
type session struct {
	d    Deps
	p    access.Principal
	in   io.Reader
	out  io.Writer
	errw io.Writer
	gw   Gateway
	// names maps account ids to names for text output, read once.
	names map[string]string
}

// Run runs one exec command line and returns its exit status. A fresh
// command tree is built for every call: nothing is shared between
// sessions. Everything a client sends is bounded and escaped before it is
// echoed, and every command is audited (command.exec, or command.denied
// for a role that may not run it). ctx ends with the session.
func Run(ctx context.Context, d Deps, s Session) int {
	if d.Clock == nil {
		d.Clock = clockwork.System
	}
	e := &session{d: d, p: s.Principal, in: s.In, out: s.Out, errw: s.Err, gw: d.Gateway}
	args := s.Args
	actor := e.p.Actor()
	total := 0
	for _, a := range args {
		total += len(a) + 1
	}
	if len(args) > d.Limits.MaxArgs || total > d.Limits.MaxArgBytes {
		fmt.Fprintf(e.errw, "command refused: %d arguments, %d bytes; at most %d arguments and %d bytes\n", len(args), total, d.Limits.MaxArgs, d.Limits.MaxArgBytes)
		_ = e.gw.Audit(actor, device.ActionCommandExec, "(too long)", device.ResultRefused)
		return ExitUsage
	}
	if code, ok := e.admit(args); !ok {
		return code
	}
	root := e.root()
	if len(args) == 0 {
		args = []string{"help"}
	}
	cmd, rest, err := root.Find(args)
	if err != nil || cmd == root {
		fmt.Fprintf(e.errw, "unknown command %q: run 'help' to list the commands\n", printable(args[0]))
		_ = e.gw.Audit(actor, device.ActionCommandExec, printable(args[0]), device.ResultUnknown)
		return ExitUnknown
	}
	name := commandName(cmd)
	if cmd.HasSubCommands() && !asksHelp(rest) {
		return e.group(cmd, name, rest)
	}
	if perm, ok := cmd.Annotations[annotationPerm]; ok {
		if need := permByName[perm]; !access.Can(e.p.Account.Role, need) {
			fmt.Fprintf(e.errw, "%s: not allowed: %s\n", name, e.refusal(cmd))
			_ = e.gw.Audit(actor, device.ActionCommandDenied, name, device.ResultDenied)
			return ExitForbidden
		}
	}
	root.SetArgs(args)
	root.SetIn(s.In)
	root.SetOut(e.out)
	root.SetErr(e.errw)
	root.SetContext(ctx)
	code, result := ExitOK, device.ResultOK
	if err := root.Execute(); err != nil {
		code, result = exitCode(err), device.ResultFailed
		fmt.Fprintf(e.errw, "%s: %s\n", name, printableLines(err.Error()))
		if code == ExitUsage {
			fmt.Fprintln(e.errw, usageLine(cmd))
		}
	}
	if name != "help" {
		_ = e.gw.Audit(actor, device.ActionCommandExec, name, result)
	}
	return code
}

// admit checks that the session's account may run commands at all: not
// the setup token, not locked, nothing pending from the first login. It
// refreshes the principal's account.
func (e *session) admit(args []string) (int, bool) {
	actor := e.p.Actor()
	if e.p.Setup {
		fmt.Fprintln(e.errw, "the setup token only opens the setup wizard: connect with a terminal, ssh -t setup@<gateway>")
		_ = e.gw.Audit(actor, device.ActionCommandDenied, firstArg(args), device.ResultDenied)
		return ExitForbidden, false
	}
	if e.p.Cert != nil {
		// A certificate login: its certificate must still grant its role.
		if err := e.d.Access.RefreshCert(&e.p); err != nil {
			fmt.Fprintln(e.errw, printable(err.Error()))
			_ = e.gw.AuditDetail(actor, device.ActionCommandDenied, firstArg(args), device.ResultDenied, "certificate no longer valid")
			return ExitForbidden, false
		}
	}
	acct, err := e.p.Account, error(nil) // a certificate's, refreshed above
	if e.p.Cert == nil {
		acct, err = e.d.Access.Account(e.p.Account.ID)
	}
	if err != nil {
		fmt.Fprintln(e.errw, "your account no longer exists")
		return ExitFailure, false
	}
	if acct.Disabled || acct.Name != e.p.Account.Name {
		fmt.Fprintln(e.errw, "your account is locked")
		return ExitForbidden, false
	}
	if steps := e.d.Access.Pending(acct); len(steps) > 0 {
		fmt.Fprintln(e.errw, pendingMessage(steps))
		_ = e.gw.AuditDetail(actor, device.ActionCommandDenied, firstArg(args), device.ResultDenied, "pending first login")
		return ExitForbidden, false
	}
	e.p.Account = acct
	return ExitOK, true
}

// group answers a command group run without one of its subcommands: an
// unknown subcommand exits 127, none at all is a usage mistake.
func (e *session) group(cmd *cobra.Command, name string, rest []string) int {
	for _, a := range rest {
		if !strings.HasPrefix(a, "-") {
			fmt.Fprintf(e.errw, "unknown command %q for %s: run 'help %s' to list its commands\n", printable(a), name, name)
			_ = e.gw.Audit(e.p.Actor(), device.ActionCommandExec, name+" "+printable(a), device.ResultUnknown)
			return ExitUnknown
		}
	}
	fmt.Fprintf(e.errw, "%s needs one of: %s\n%s\n", name, strings.Join(subcommandNames(cmd), ", "), usageLine(cmd))
	return ExitUsage
}

// exitCode gives an error's exit status.
func exitCode(err error) int {
	var xe execError
	if errors.As(err, &xe) {
		return xe.code
	}
	if isCobraUsage(err) {
		return ExitUsage
	}
	return ExitFailure
}

// isCobraUsage recognises cobra's own usage errors (flags it parses).
func isCobraUsage(err error) bool {
	m := err.Error()
	return strings.HasPrefix(m, "unknown flag") || strings.HasPrefix(m, "unknown shorthand") ||
		strings.HasPrefix(m, "invalid argument") || strings.Contains(m, "flag needs an argument")
}

// usageLine is the command's one-line usage.
func usageLine(cmd *cobra.Command) string {
	if cmd.HasSubCommands() {
		return "usage: ssh <gateway> " + commandName(cmd) + " " + strings.Join(subcommandNames(cmd), "|") + " ..."
	}
	return "usage: ssh <gateway> " + strings.TrimPrefix(cmd.UseLine(), cmd.Root().Name()+" ")
}

func subcommandNames(cmd *cobra.Command) []string {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return names
}

// commandName is the command's path without the root: "config import".
func commandName(cmd *cobra.Command) string {
	return strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" ")
}

func asksHelp(args []string) bool {
	for _, a := range args {
		if a == "-h" || a == "--help" {
			return true
		}
	}
	return false
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

// printable escapes control characters (line breaks too) and bounds the
// length, for echoing client input on one line.
func printable(s string) string {
	if len(s) > maxEcho {
		s = s[:maxEcho] + "…"
	}
	return strings.ReplaceAll(printableLines(s), "\n", "\\n")
}

func firstArg(args []string) string {
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

// annotationPerm is the cobra annotation naming the permission a command
// needs.
const annotationPerm = "perm"

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

// annotationWhat names what a command's permission lets it do, when the
// permission's own name would mislead (sync cut needs the users
// permission, but it is not about users).
const annotationWhat = "what"

func needs(perm string) map[string]string { return map[string]string{annotationPerm: perm} }

// needsTo is needs with the permission named as what the command does.
func needsTo(perm, what string) map[string]string {
	return map[string]string{annotationPerm: perm, annotationWhat: what}
}

// refusal says which permission cmd needs, and who has it: "cutting the
// uplink needs the admin role or higher, you are support".
func (e *session) refusal(cmd *cobra.Command) string {
	need := permByName[cmd.Annotations[annotationPerm]]
	what := cmd.Annotations[annotationWhat]
	if what == "" {
		what = "the permission to " + need.String()
	}
	return fmt.Sprintf("%s needs the %s role or higher, you are %s", what, access.RoleFor(need), e.p.Account.Role)
}

// authorize checks cmd's permission against the account as it is now
// (its role may have changed since the command started).
func (e *session) authorize(cmd *cobra.Command) error {
	if err := e.d.Access.Authorize(e.p, permByName[cmd.Annotations[annotationPerm]]); err != nil {
		if acct, aerr := e.d.Access.Account(e.p.Account.ID); aerr == nil {
			e.p.Account = acct
		}
		return forbidden(fmt.Errorf("not allowed: %s", e.refusal(cmd)))
	}
	return nil
}

// Argument checks that make a wrong count a usage mistake (exit 2).
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErr("%s takes no arguments (got %q)", commandName(cmd), printable(args[0]))
	}
	return nil
}

func exactArgs(n int) cobra.PositionalArgs {
	return rangeArgs(n, n)
}

func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			want := fmt.Sprint(lo)
			if hi != lo {
				want = fmt.Sprintf("%d to %d", lo, hi)
			}
			return usageErr("%s takes %s arguments, got %d", commandName(cmd), want, len(args))
		}
		return nil
	}
}

// group returns a command that only holds subcommands.
func groupCmd(use, short string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short}
	c.AddCommand(subs...)
	return c
}

// root builds a fresh command tree for this session: no state is shared
// between sessions.
func (e *session) root() *cobra.Command {
	root := &cobra.Command{
		Use:           "gateway",
		Short:         "sitegate exec commands (ssh <gateway> COMMAND)",
		SilenceUsage:  true,
		SilenceErrors: true,
		CompletionOptions: cobra.CompletionOptions{
			DisableDefaultCmd: true,
		},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return execError{ExitUsage, err} })
	// Our help replaces cobra's: it lists what the caller's role may run.
	root.SetHelpCommand(e.helpCmd())
	root.AddCommand(e.whoamiCmd(), e.healthCmd(), e.alertsCmd(), e.logsCmd(), e.configCmd(),
		e.pointsCmd(), e.modbusCmd(), e.deviceCmd(), e.profileCmd(), e.reportCmd(), e.syncCmd(), e.firmwareCmd(), e.simCmd())
	root.AddCommand(e.bacnetCmd())
	root.AddCommand(e.loraCmd())
	root.AddCommand(e.accessCmd())
	root.AddCommand(e.firewallCmd(), e.endpointsCmd(), e.supportCmd())
	root.AddCommand(e.snmpCmd())
	root.AddCommand(e.coapCmd())
	root.SetHelpFunc(e.help)
	root.InitDefaultHelpCmd() // now, so that Find sees it
	var flagless func(c *cobra.Command)
	flagless = func(c *cobra.Command) {
		// Use lines list their flags themselves.
		c.DisableFlagsInUseLine = true
		for _, sub := range c.Commands() {
			flagless(sub)
		}
	}
	flagless(root)
	return root
}
