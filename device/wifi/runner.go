package wifi

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Runner runs the host's network tools (iw, wpa_cli, mmcli). Tests give a
// fake one; ExecRunner runs the real programs.
type Runner interface {
	// LookPath returns the tool's path, or an error when it is not
	// installed.
	LookPath(name string) (string, error)
	// Run runs a tool and returns its standard output. A non-zero exit is
	// an error that carries the tool's standard error.
	Run(ctx context.Context, name string, args ...string) ([]byte, error)
}

// ExecRunner runs tools with os/exec.
type ExecRunner struct{}

// LookPath is exec.LookPath.
func (ExecRunner) LookPath(name string) (string, error) { return exec.LookPath(name) }

// Run runs name with args and returns its standard output.
func (ExecRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errb.String())
		if msg == "" {
			msg = strings.TrimSpace(out.String())
		}
		if len(msg) > 200 {
			msg = msg[:200]
		}
		if msg != "" {
			return out.Bytes(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
		}
		return out.Bytes(), fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return out.Bytes(), nil
}

// Has reports whether r has the tool name.
func Has(r Runner, name string) bool {
	_, err := r.LookPath(name)
	return err == nil
}
