package firmware

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/devicetest"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/store/storetest"
)

// The crash child applies the image on its standard input to the data
// directory in childDirEnv, and exits with status 7 at the crash point in
// childCrashEnv, if any.
const (
	childDirEnv   = "SITEGATE_FIRMWARE_CRASH_DIR"
	childCrashEnv = "SITEGATE_FIRMWARE_CRASH_AT"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		crashChild(dir, os.Getenv(childCrashEnv))
		return
	}
	os.Exit(m.Run())
}

func crashChild(dir, at string) {
	st, err := store.Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open store:", err)
		os.Exit(3)
	}
	m, err := Open(st, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open firmware:", err)
		os.Exit(3)
	}
	crashPoint = func(p string) {
		if p == at {
			os.Exit(7) // no deferred cleanup, no store close: a crash
		}
	}
	if _, err := m.Apply(context.Background(), os.Stdin, installer, nil); err != nil {
		fmt.Fprintln(os.Stderr, "child apply:", err)
		os.Exit(4)
	}
	os.Exit(0)
}

// crashSetup makes a data directory whose slot a holds a committed 1.0.0,
// closes it, and returns it with the vendor key's image maker.
func crashSetup(t *testing.T) (string, func(version string, size int) []byte) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pub, priv := newKey(t)
	if err := m.Trust(pub, device.LocalActor); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(context.Background(), bytes.NewReader(image(t, priv, "1.0.0", "1.0.0", "sitegate", payloadOf(1<<20, 1))), installer, nil); err != nil {
		t.Fatal(err)
	}
	if rep, err := m.Boot(); err != nil || !rep.Committed {
		t.Fatalf("boot 1.0.0: %+v %v", rep, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, func(version string, size int) []byte {
		return image(t, priv, version, version, "sitegate", payloadOf(size, 2))
	}
}

func startChild(t *testing.T, dir, at string) (*exec.Cmd, *os.File, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir, childCrashEnv+"="+at)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, stdin.(*os.File), &stderr
}

// afterCrash reopens the data directory as the next start would and checks
// that the old slot boots and nothing was installed.
func afterCrash(t *testing.T, dir string) *Manager {
	t.Helper()
	st := storetest.Open(t, dir)
	m, err := Open(st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(m.Dir())
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("Open left %s", e.Name())
		}
	}
	rep, err := m.Boot()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Slot != SlotA || rep.Version != "1.0.0" || rep.Committed || rep.FellBack || rep.Problem != "" {
		t.Fatalf("boot after crash: %+v", rep)
	}
	if failed, why := m.Failed(); failed {
		t.Errorf("failed after crash: %s", why)
	}
	all, _ := st.ListAudit(store.AuditFilter{})
	applies := 0
	for _, e := range all {
		if e.Action == string(ActionApply) {
			applies++
		}
	}
	if applies != 2 { // 1.0.0 written and committed; nothing since
		t.Errorf("%d firmware.apply events, want 2", applies)
	}
	return m
}

// A gateway that dies in the middle of writing an image (SIGKILL while the
// payload streams in) still boots its old slot, and the next update works.
func TestFirmwareCrashMidApplyKeepsOldSlotBootable(t *testing.T) {
	dir, mk := crashSetup(t)
	img := mk("1.1.0", 16<<20)
	cmd, stdin, stderr := startChild(t, dir, "")
	half := len(img) / 2
	if _, err := stdin.Write(img[:half]); err != nil {
		t.Fatalf("feed child: %v (%s)", err, stderr)
	}
	// Wait until the child has written part of the payload to disk, then
	// kill it mid-write.
	devicetest.Eventually(t, 20*time.Second, func() string { return fmt.Sprintf("the child to write a temporary slot file: %s", stderr) }, func() bool {
		tmps, _ := filepath.Glob(filepath.Join(dir, DirName, ".tmp-slot-b-*"))
		if len(tmps) != 1 {
			return false
		}
		fi, err := os.Stat(tmps[0])
		return err == nil && fi.Size() > int64(half)/2
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	m := afterCrash(t, dir)
	if _, err := os.Stat(filepath.Join(m.Dir(), "slot-b")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("slot-b exists after a crash before the rename: %v", err)
	}
	if _, err := m.Apply(context.Background(), bytes.NewReader(img), installer, nil); err != nil {
		t.Fatal(err)
	}
	if rep, err := m.Boot(); err != nil || !rep.Committed || rep.Version != "1.1.0" {
		t.Fatalf("update after the crash: %+v %v", rep, err)
	}
}

// A crash at the two points around the rename — slot file complete but not
// in place; in place but not yet pending — leaves the old slot active.
func TestFirmwareCrashAroundRenameKeepsOldSlot(t *testing.T) {
	for _, at := range []string{"written", "renamed"} {
		t.Run(at, func(t *testing.T) {
			dir, mk := crashSetup(t)
			img := mk("1.1.0", 1<<20)
			cmd, stdin, stderr := startChild(t, dir, at)
			if _, err := stdin.Write(img); err != nil {
				t.Fatal(err)
			}
			stdin.Close()
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 7 {
				t.Fatalf("child did not stop at %s: %v %s", at, err, stderr)
			}
			m := afterCrash(t, dir)
			if s := m.Status(); s.Pending != "" || s.Slots[SlotB].Version != "" {
				t.Errorf("state after crash: %+v", s)
			}
		})
	}
}
