package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit statuses of the command-line contract.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks a mistake in how the command was called: exit 2 with
// the usage line.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// streams are the command's standard streams, injected so tests run
// commands in-process.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

func newRoot(s streams) *cobra.Command {
	root := &cobra.Command{
		Use:           "sitegate",
		Short:         "On-site building-IoT gateway",
		Long:          "sitegate polls field devices, keeps what it needs in one embedded database,\nsends telemetry to the cloud over mutual TLS and serves an SSH console.",
		SilenceUsage:  true,
		SilenceErrors: true,
		// Without a subcommand, show help rather than doing something.
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	root.SetIn(s.in)
	root.SetOut(s.out)
	root.SetErr(s.err)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newRunCmd(s),
		newDemoCmd(s),
		newConfigCmd(s),
		newAuditCmd(s),
		newUserCmd(s),
		newSimCmd(s),
		newTelemetryCmd(s),
		newFirmwareCmd(s),
		newWipeCmd(s),
		newRadioCmd(s),
		newReportCmd(s),
		newCertCmd(s),
		newVersionCmd(s),
	)
	return root
}

// execute runs the command line and returns the exit status.
func execute(args []string, in io.Reader, out, errw io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return executeContext(ctx, args, streams{in, out, errw})
}

func executeContext(ctx context.Context, args []string, s streams) int {
	root := newRoot(s)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	if isUsage(err) {
		fmt.Fprintf(s.err, "sitegate: %v\nUsage: %s\nRun '%s --help' for more.\n", err, cmd.UseLine(), cmd.CommandPath())
		return exitUsage
	}
	fmt.Fprintf(s.err, "sitegate: %v\n", err)
	return exitFailure
}

func isUsage(err error) bool {
	var u usageError
	if errors.As(err, &u) {
		return true
	}
	// cobra reports unknown subcommands and argument-count problems as
	// plain errors.
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "requires at most", "required flag"} {
		if strings.HasPrefix(msg, p) || strings.Contains(msg, "required flag(s)") {
			return true
		}
	}
	return false
}

// exactArgs is cobra.ExactArgs with a usage error naming what is missing.
func exactArgs(n int, names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s needs %d argument(s) (%s), got %d", cmd.CommandPath(), n, strings.Join(names, ", "), len(args))
		}
		return nil
	}
}

// noArgs refuses positional arguments with a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), strings.Join(args, " "))
	}
	return nil
}
