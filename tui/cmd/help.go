package cmd

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/tui/access"
)

func (e *session) helpCmd() *cobra.Command {
	return &cobra.Command{
		Use:         "help [COMMAND]",
		Short:       "List the commands your role may run, or show one command's usage",
		Annotations: needs("dashboard"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				e.list(cmd.Root())
				return nil
			}
			target, _, err := cmd.Root().Find(args)
			if err != nil || target == cmd.Root() {
				return execError{ExitUnknown, fmt.Errorf("no command %q: run 'help' to list the commands", printable(strings.Join(args, " ")))}
			}
			e.help(target, nil)
			return nil
		},
	}
}

// allowed reports whether the session's role may run cmd.
func (e *session) allowed(cmd *cobra.Command) bool {
	perm, ok := cmd.Annotations[annotationPerm]
	return ok && access.Can(e.p.Account.Role, permByName[perm])
}

// help prints cmd's help: for the root or a group, the commands under it
// that the role may run; for a command, its usage and flags.
func (e *session) help(cmd *cobra.Command, _ []string) {
	if cmd.HasSubCommands() {
		e.list(cmd)
		return
	}
	fmt.Fprintf(e.out, "%s\n\n%s\n", cmd.Short, usageLine(cmd))
	if flags := cmd.LocalFlags().FlagUsages(); flags != "" {
		fmt.Fprintf(e.out, "\nflags:\n%s", flags)
	}
	if _, ok := cmd.Annotations[annotationPerm]; ok && !e.allowed(cmd) {
		fmt.Fprintf(e.out, "\n(not allowed: %s)\n", e.refusal(cmd))
	}
}

// list prints the commands under cmd that the session's role may run.
func (e *session) list(cmd *cobra.Command) {
	fmt.Fprintf(e.out, "Commands you may run as %s (ssh <gateway> COMMAND):\n", e.p.Account.Role)
	tw := tabwriter.NewWriter(e.out, 0, 0, 2, ' ', 0)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			switch {
			case sub.HasSubCommands():
				walk(sub)
			case e.allowed(sub):
				fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimPrefix(sub.UseLine(), sub.Root().Name()+" "), sub.Short)
			}
		}
	}
	walk(cmd)
	_ = tw.Flush()
	fmt.Fprintln(e.out, "\n'help COMMAND' shows a command's flags.")
}
