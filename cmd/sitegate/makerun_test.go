package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device/devicetest"
)

// foregroundChild takes the terminal as the demo does, says so, and exits
// 0 on SIGINT.
func foregroundChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	defer takeForeground()()
	fmt.Println("CHILD-READY")
	<-ctx.Done()
	fmt.Println("CHILD-STOPPED")
	return 0
}

// needTools skips when a tool is missing, except in CI, where .ci/run
// installs it and its absence is a failure.
func needTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required in CI (.ci/run installs it): %v", n, err)
			}
			t.Skipf("%s not installed", n)
		}
	}
}

// make run stopped with Ctrl-C exits 0: make, started from an
// interactive shell in a real terminal (tmux), runs a child that does
// what the demo does with the terminal; Ctrl-C stops the child, and make
// and the shell see 0. Without takeForeground make kills itself with
// SIGINT and the shell never runs the echo.
func TestMakeRunCtrlCExitsZero(t *testing.T) {
	needTools(t, "make", "tmux", "bash")
	dir := t.TempDir()
	mk := fmt.Sprintf("run:\n\t@SITEGATE_TEST_MAIN=foreground %s\n", os.Args[0])
	if err := os.WriteFile(filepath.Join(dir, "Makefile"), []byte(mk), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "tmux.sock")
	tmux := func(args ...string) string {
		out, err := exec.Command("tmux", append([]string{"-S", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	tmux("new-session", "-d", "-s", "mk", "-x", "100", "-y", "20", "bash --norc --noprofile")
	t.Cleanup(func() { _ = exec.Command("tmux", "-S", sock, "kill-server").Run() })
	screen := func() string { return tmux("capture-pane", "-p", "-t", "mk") }
	waitFor := func(text string) {
		t.Helper()
		devicetest.Eventually(t, 20*time.Second, func() string { return fmt.Sprintf("%q on the screen:\n%s", text, screen()) },
			func() bool { return strings.Contains(screen(), text) })
	}
	tmux("send-keys", "-t", "mk", "-l", fmt.Sprintf("cd %s && make run; echo MAKE-EXIT=$?", dir))
	tmux("send-keys", "-t", "mk", "Enter")
	waitFor("CHILD-READY")
	tmux("send-keys", "-t", "mk", "C-c")
	waitFor("CHILD-STOPPED")
	// The typed command line holds "MAKE-EXIT=" too: wait for the echo's
	// own line.
	waitFor("\nMAKE-EXIT=")
	if s := screen(); !strings.Contains(s, "\nMAKE-EXIT=0") {
		t.Fatalf("make run after Ctrl-C:\n%s", s)
	}
}
