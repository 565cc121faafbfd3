package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store"
	"github.com/sitegate/sitegate/tui/access"
)

func newUserCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage accounts of a stopped gateway (physical access)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("user needs a subcommand: add, list, passwd, lock, unlock, delete or reset-2fa")
		},
	}
	cmd.AddCommand(newUserAddCmd(s), newUserListCmd(s), newUserPasswdCmd(s))
	for _, op := range []struct {
		use, short, done string
		fn               func(svc *access.Service, id string) error
	}{
		{"lock", "Lock an account until it is unlocked", "locked", func(svc *access.Service, id string) error { return svc.Lock(device.LocalActor, id) }},
		{"unlock", "Unlock an account and clear its failed attempts", "unlocked", func(svc *access.Service, id string) error { return svc.Unlock(device.LocalActor, id) }},
		{"delete", "Delete an account", "deleted", func(svc *access.Service, id string) error { return svc.Delete(device.LocalActor, id) }},
		{"reset-2fa", "Remove an account's authenticator; it enrols again at next login", "has no authenticator now", func(svc *access.Service, id string) error { return svc.ResetTOTP(device.LocalActor, id) }},
	} {
		cmd.AddCommand(newUserOpCmd(s, op.use, op.short, op.done, op.fn))
	}
	return cmd
}

// withAccess opens a stopped gateway's data directory and runs fn with its
// access service.
func withAccess(dir string, fn func(gw *device.Gateway, svc *access.Service) error) error {
	return withAccessOpen(openOffline, dir, fn)
}

func withAccessOpen(open func(string) (*store.Store, *device.Gateway, error), dir string, fn func(gw *device.Gateway, svc *access.Service) error) error {
	st, gw, err := open(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	return fn(gw, access.New(gw, access.Options{}))
}

func newUserOpCmd(s streams, use, short, done string, fn func(svc *access.Service, id string) error) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   use + " --data DIR NAME",
		Short: short,
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAccess(dir, func(gw *device.Gateway, svc *access.Service) error {
				a, err := svc.AccountByName(args[0])
				if err != nil {
					return fmt.Errorf("%w: `sitegate user list --data %s` shows the accounts", err, dir)
				}
				if err := fn(svc, a.ID); err != nil {
					return err
				}
				fmt.Fprintf(s.out, "user %s %s\n", a.Name, done)
				return nil
			})
		},
	}
	addDataFlag(cmd, &dir)
	return cmd
}

// readPassword reads a password: from a terminal without echo (twice, to
// catch typing mistakes), otherwise the first line of standard input.
func readPassword(s streams, prompt string) (string, error) {
	if f, ok := s.in.(*os.File); ok && term.IsTerminal(f.Fd()) {
		fmt.Fprint(s.err, prompt)
		a, err := term.ReadPassword(f.Fd())
		fmt.Fprintln(s.err)
		if err != nil {
			return "", err
		}
		fmt.Fprint(s.err, "Repeat: ")
		b, err := term.ReadPassword(f.Fd())
		fmt.Fprintln(s.err)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", errors.New("the two passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(io.LimitReader(s.in, 1024)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on standard input")
	}
	return pw, nil
}

func newUserAddCmd(s streams) *cobra.Command {
	var dir, role, pubkey string
	var pwStdin, totp, accept bool
	cmd := &cobra.Command{
		Use:   "add --data DIR NAME --role ROLE [--pubkey FILE] [--password-stdin] [--totp] [--accept-privacy]",
		Short: "Create an account",
		Long: "Create an account on a stopped gateway. Give a password on standard input\n" +
			"(--password-stdin) or an authorized public key (--pubkey), or both. --totp enrols an\n" +
			"authenticator and prints its otpauth URI once. Without --accept-privacy the user\n" +
			"accepts the privacy notice at first login.",
		Args: exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := device.ParseRole(role)
			if err != nil || r == 0 {
				return usagef("--role %q: use admin, installer, support or viewer", role)
			}
			u := access.NewUser{Name: args[0], Role: r, TOTP: totp, AcceptPrivacy: accept}
			if pubkey != "" {
				keys, err := readKeys(pubkey)
				if err != nil {
					return err
				}
				u.PublicKeys = keys
			}
			if pwStdin {
				if u.Password, err = readPassword(s, "Password: "); err != nil {
					return err
				}
			}
			// user add also provisions: it creates a data directory that
			// does not exist yet.
			return withAccessOpen(openProvisioning, dir, func(gw *device.Gateway, svc *access.Service) error {
				c, err := svc.AddUser(context.Background(), device.LocalActor, u)
				if err != nil {
					return err
				}
				fmt.Fprintf(s.out, "created user %s (%s), id %s\n", c.Account.Name, c.Account.Role, c.Account.ID)
				if c.TOTPSecret != "" {
					fmt.Fprintf(s.out, "authenticator: %s\nsecret: %s (shown once)\n", access.TOTPURI(c.TOTPSecret, c.Account.Name+"@"+gw.ID()), c.TOTPSecret)
				}
				return nil
			})
		},
	}
	addDataFlag(cmd, &dir)
	f := cmd.Flags()
	f.StringVar(&role, "role", "", "admin, installer, support or viewer")
	f.StringVar(&pubkey, "pubkey", "", "file of authorized_keys lines (e.g. ~/.ssh/id_ed25519.pub)")
	f.BoolVar(&pwStdin, "password-stdin", false, "read the password from standard input")
	f.BoolVar(&totp, "totp", false, "enrol an authenticator and print its otpauth URI")
	f.BoolVar(&accept, "accept-privacy", false, "record the user's acceptance of the privacy notice")
	return cmd
}

func readKeys(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read public key: %w", err)
	}
	var keys []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			keys = append(keys, line)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s holds no public key", path)
	}
	return keys, nil
}

func newUserPasswdCmd(s streams) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "passwd --data DIR NAME",
		Short: "Set an account's password (from standard input or a prompt)",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := readPassword(s, "New password for "+args[0]+": ")
			if err != nil {
				return err
			}
			return withAccess(dir, func(gw *device.Gateway, svc *access.Service) error {
				a, err := svc.AccountByName(args[0])
				if err != nil {
					return err
				}
				if err := svc.SetPasswordOffline(context.Background(), a.ID, pw); err != nil {
					return err
				}
				fmt.Fprintf(s.out, "password of %s changed\n", a.Name)
				return nil
			})
		},
	}
	addDataFlag(cmd, &dir)
	return cmd
}

func newUserListCmd(s streams) *cobra.Command {
	var dir string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list --data DIR [--json]",
		Short: "List accounts",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withAccess(dir, func(gw *device.Gateway, svc *access.Service) error {
				accts, err := svc.Accounts(device.LocalActor)
				if err != nil {
					return err
				}
				now := gw.Now()
				type row struct {
					Name    string `json:"name"`
					ID      string `json:"id"`
					Role    string `json:"role"`
					State   string `json:"state"`
					TOTP    bool   `json:"totp"`
					Keys    int    `json:"public_keys"`
					Privacy bool   `json:"privacy_accepted"`
				}
				rows := []row{}
				for _, a := range accts {
					state := "active"
					if locked, why := a.LockedAt(now); locked {
						state = why
					} else if a.Invited() {
						state = "invited"
					}
					rows = append(rows, row{a.Name, a.ID, a.Role.String(), state, a.TOTPSecret != "", len(a.PublicKeys), a.AcceptedPrivacy()})
				}
				if asJSON {
					enc := json.NewEncoder(s.out)
					enc.SetIndent("", "  ")
					return enc.Encode(rows)
				}
				tw := tabwriter.NewWriter(s.out, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tROLE\tSTATE\t2FA\tKEYS\tPRIVACY\tID")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%d\t%v\t%s\n", r.Name, r.Role, r.State, r.TOTP, r.Keys, r.Privacy, r.ID)
				}
				return tw.Flush()
			})
		},
	}
	addDataFlag(cmd, &dir)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
