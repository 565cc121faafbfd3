package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	gossh "golang.org/x/crypto/ssh"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/access"
)

func newCertCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cert",
		Short: "Sign SSH user certificates that gateways trusting the CA accept",
		Long: "The organisation's side of certificate logins: an OpenSSH CA key whose public half\n" +
			"is listed in a site's access.ssh_user_cas signs a person's key for a role on one\n" +
			"gateway, one site or every gateway. ssh-keygen -s makes the same certificates.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("cert needs a subcommand: sign")
		},
	}
	cmd.AddCommand(newCertSignCmd(s))
	return cmd
}

type certSignOptions struct {
	ca, keyID, role, gateway, site, out, source string
	any                                         bool
	valid                                       time.Duration
	serial                                      uint64
}

func newCertSignCmd(s streams) *cobra.Command {
	var o certSignOptions
	cmd := &cobra.Command{
		Use:   "sign --ca CA_KEY --key-id ID --role ROLE (--gateway ID | --site NAME | --any) --valid 8h USER.pub",
		Short: "Sign USER.pub into USER-cert.pub",
		Long: "Sign a person's public key (USER.pub) with the CA's private key (OpenSSH format,\n" +
			"without a passphrase) for ROLE (admin, installer, support, viewer) on one gateway,\n" +
			"on the gateways of one site, or on every gateway that trusts the CA. The key id is\n" +
			"the person's opaque id in the organisation's directory; gateways record it as the\n" +
			"actor (cert:ID). The window starts 5 minutes back (clock skew) and lasts --valid.\n" +
			"Without --serial a random serial is chosen; revoke it with access.revoked_cert_serials.",
		Args: exactArgs(1, "USER.pub"),
		RunE: func(cmd *cobra.Command, args []string) error { return signCert(s, o, args[0], time.Now()) },
	}
	f := cmd.Flags()
	f.StringVar(&o.ca, "ca", "", "the CA's private key file (OpenSSH format)")
	f.StringVar(&o.keyID, "key-id", "", "the person's id in the organisation's directory")
	f.StringVar(&o.role, "role", "", "admin, installer, support or viewer")
	f.StringVar(&o.gateway, "gateway", "", "grant the role on the gateway with this id")
	f.StringVar(&o.site, "site", "", "grant the role on the gateways of the site with this name")
	f.BoolVar(&o.any, "any", false, "grant the role on every gateway that trusts the CA")
	f.DurationVar(&o.valid, "valid", 0, "how long the certificate is valid (e.g. 8h; gateways accept at most their access.ssh_cert_max_validity, 720h by default)")
	f.Uint64Var(&o.serial, "serial", 0, "the certificate's serial (default random)")
	f.StringVar(&o.source, "source-address", "", "addresses or CIDR prefixes the certificate may be used from, comma separated")
	f.StringVarP(&o.out, "out", "o", "", "the certificate file to write (default USER-cert.pub)")
	return cmd
}

func signCert(s streams, o certSignOptions, userPub string, now time.Time) error {
	switch {
	case o.ca == "":
		return usagef("--ca is required: the CA's private key file")
	case o.keyID == "":
		return usagef("--key-id is required: the person's id in the organisation's directory, e.g. --key-id emp-0042")
	case o.role == "":
		return usagef("--role is required: admin, installer, support or viewer")
	case o.valid <= 0:
		return usagef("--valid is required, e.g. --valid 8h")
	}
	scopes := 0
	for _, set := range []bool{o.gateway != "", o.site != "", o.any} {
		if set {
			scopes++
		}
	}
	if scopes != 1 {
		return usagef("give exactly one of --gateway ID, --site NAME or --any")
	}
	role, err := device.ParseRole(o.role)
	if err != nil {
		return usagef("--role: %v", err)
	}
	if err := device.CheckCertKeyID(o.keyID); err != nil {
		return usagef("--key-id: %v", err)
	}
	p := access.CertPrincipal{Role: role, Scope: access.ScopeAny}
	switch {
	case o.gateway != "":
		p.Scope, p.Name = access.ScopeGateway, o.gateway
	case o.site != "":
		if strings.Contains(o.site, ",") {
			// Principals are comma-separated in ssh-keygen -n and sshd's
			// configuration: keep the certificate usable with both.
			return usagef("--site: a site name with a comma cannot be a certificate principal; use --gateway or --any")
		}
		p.Scope, p.Name = access.ScopeSite, o.site
	}
	caPEM, err := os.ReadFile(o.ca)
	if err != nil {
		return fmt.Errorf("read the CA key: %w", err)
	}
	ca, err := gossh.ParsePrivateKey(caPEM)
	var missing *gossh.PassphraseMissingError
	if errors.As(err, &missing) {
		return fmt.Errorf("the CA key %s has a passphrase: sign with ssh-keygen -s, which asks for it", o.ca)
	}
	if err != nil {
		return fmt.Errorf("read the CA key %s: %w", o.ca, err)
	}
	pubLine, err := os.ReadFile(userPub)
	if err != nil {
		return fmt.Errorf("read the user's key: %w", err)
	}
	key, comment, _, _, err := gossh.ParseAuthorizedKey(pubLine)
	if err != nil {
		return fmt.Errorf("%s is not an OpenSSH public key (the user's ~/.ssh/id_*.pub): %w", userPub, err)
	}
	c, err := access.SignUserCert(ca, access.CertRequest{Key: key, KeyID: o.keyID, Principal: p, Valid: o.valid, Serial: o.serial, SourceAddress: o.source}, now)
	if err != nil {
		return err
	}
	out := o.out
	if out == "" {
		out = strings.TrimSuffix(userPub, ".pub") + "-cert.pub"
	}
	line := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(c)))
	if comment != "" {
		line += " " + comment
	}
	if err := os.WriteFile(out, []byte(line+"\n"), 0o644); err != nil {
		return fmt.Errorf("write the certificate: %w", err)
	}
	fmt.Fprintf(s.out, "wrote %s: key id %s, principal %s, serial %d, valid %s to %s\n", out, c.KeyId, p, c.Serial,
		time.Unix(int64(c.ValidAfter), 0).UTC().Format(time.RFC3339), time.Unix(int64(c.ValidBefore), 0).UTC().Format(time.RFC3339))
	return nil
}
