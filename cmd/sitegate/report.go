package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
)

func newReportCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report verify FILE|- --pub KEY",
		Short: "Check a signed commissioning report (offline, no gateway needed)",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newReportVerifyCmd(s))
	return cmd
}

func newReportVerifyCmd(s streams) *cobra.Command {
	var pubPath string
	cmd := &cobra.Command{
		Use:   "verify FILE|- --pub KEY",
		Short: "Say whether a commissioning report is intact: any changed byte fails",
		Long: "Checks the ed25519 signature at the end of a report that `ssh <gateway> report commissioning`\n" +
			"wrote, against the gateway's public key (`ssh <gateway> report key` prints it). Exit 0 when the\n" +
			"report is unchanged, 1 when it was changed, cut, or signed by another key.",
		Args: exactArgs(1, "the report file, or - for standard input"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pubPath == "" {
				return usagef("--pub is required: the gateway's report key (ssh <gateway> report key > gateway.pub)")
			}
			keyPEM, err := os.ReadFile(pubPath)
			if err != nil {
				return fmt.Errorf("read the public key: %w", err)
			}
			pub, err := device.ParseReportPublicKey(keyPEM)
			if err != nil {
				return fmt.Errorf("%s: %w", pubPath, err)
			}
			var doc []byte
			if args[0] == "-" {
				doc, err = io.ReadAll(io.LimitReader(s.in, device.MaxReportBytes+1))
			} else {
				doc, err = readBounded(args[0], device.MaxReportBytes+1)
			}
			if err != nil {
				return fmt.Errorf("read the report: %w", err)
			}
			v, err := device.VerifyReport(doc, pub)
			switch {
			case errors.Is(err, device.ErrReportTampered), errors.Is(err, device.ErrReportUnsigned), errors.Is(err, device.ErrReportOtherKey):
				return fmt.Errorf("%s is NOT intact: %w", args[0], err)
			case err != nil:
				return err
			}
			_, err = fmt.Fprintf(s.out, "%s is intact: a %s commissioning report of gateway %s, signed by its report key %s\n", args[0], v.Format, v.Gateway, v.KeyID)
			return err
		},
	}
	cmd.Flags().StringVar(&pubPath, "pub", "", "the gateway's report key (PEM, as ssh <gateway> report key prints it)")
	return cmd
}

// readBounded reads at most n bytes of a file.
func readBounded(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}
