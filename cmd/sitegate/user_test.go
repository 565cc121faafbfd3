package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUserCommandsOffline(t *testing.T) {
	dir := t.TempDir()
	if r := sitegate(t, "", "config", "import", "--data", dir, repoFile(t, "testdata/sites/demo.yaml")); r.code != 0 {
		t.Fatal(r)
	}
	r := sitegate(t, "Tr4ns#Volt9\n", "user", "add", "--data", dir, "ada", "--role", "admin", "--password-stdin", "--totp", "--accept-privacy")
	if r.code != 0 || !strings.Contains(r.stdout, "otpauth://totp/") || !strings.Contains(r.stdout, "secret=") {
		t.Fatalf("user add --totp: %+v", r)
	}
	if r := sitegate(t, "weak\n", "user", "add", "--data", dir, "bob", "--role", "support", "--password-stdin"); r.code != exitFailure || !strings.Contains(r.stder, "upper-case") {
		t.Fatalf("weak password: %+v", r)
	}
	if r := sitegate(t, "", "user", "add", "--data", dir, "bob", "--role", "wizard", "--password-stdin"); r.code != exitUsage {
		t.Fatalf("bad role: %+v", r)
	}
	pub := filepath.Join(t.TempDir(), "id.pub")
	if err := os.WriteFile(pub, []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl test@example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := sitegate(t, "", "user", "add", "--data", dir, "kim", "--role", "support", "--pubkey", pub); r.code != 0 {
		t.Fatalf("add with key: %+v", r)
	}
	if r := sitegate(t, "", "user", "lock", "--data", dir, "kim"); r.code != 0 || !strings.Contains(r.stdout, "locked") {
		t.Fatalf("lock: %+v", r)
	}
	r = sitegate(t, "", "user", "list", "--data", dir, "--json")
	var rows []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("list --json: %v %s", err, r.stdout)
	}
	if rows[1]["name"] != "kim" || !strings.Contains(rows[1]["state"].(string), "locked") || rows[0]["totp"] != true {
		t.Fatalf("list rows: %v", rows)
	}
	for _, args := range [][]string{{"unlock", "kim"}, {"reset-2fa", "ada"}, {"delete", "kim"}} {
		if r := sitegate(t, "", append([]string{"user", args[0], "--data", dir}, args[1])...); r.code != 0 {
			t.Fatalf("user %v: %+v", args, r)
		}
	}
	if r := sitegate(t, "N3w#Secretx\n", "user", "passwd", "--data", dir, "ada"); r.code != 0 {
		t.Fatalf("passwd: %+v", r)
	}
	if r := sitegate(t, "", "user", "delete", "--data", dir, "ada"); r.code != exitFailure || !strings.Contains(r.stder, "last administrator") {
		t.Fatalf("deleting the last admin: %+v", r)
	}
	if r := sitegate(t, "", "user", "unlock", "--data", dir, "nobody"); r.code != exitFailure || !strings.Contains(r.stder, "user list") {
		t.Fatalf("unknown user: %+v", r)
	}
	audit := sitegate(t, "", "audit", "list", "--data", dir).stdout
	for _, want := range []string{"user.create", "account.locked", "account.unlocked", "user.reset_2fa", "user.delete", "user.passwd"} {
		if !strings.Contains(audit, want) {
			t.Errorf("%s not audited", want)
		}
	}
}
