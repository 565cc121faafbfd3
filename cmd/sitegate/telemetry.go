package main

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device/telemetry"
)

func newTelemetryCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "telemetry",
		Short: "Work with compact telemetry payloads",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return usagef("telemetry needs a subcommand: decode") },
	}
	cmd.AddCommand(newTelemetryDecodeCmd(s))
	return cmd
}

func newTelemetryDecodeCmd(s streams) *cobra.Command {
	var asJSON, asHex bool
	cmd := &cobra.Command{
		Use:   "decode [--json] [--hex] < PAYLOAD",
		Short: "Decode a telemetry/v2 payload into its readings",
		Long: "Read one sitegate/v1/{gateway}/telemetry/v2 payload (a telemetry block) on stdin\n" +
			"and print its readings, or with --json the JSON telemetry contract\n" +
			`({"seq","seqs","gateway","readings":[...]}). --hex reads the payload as hex text` + "\n" +
			"(mosquitto_sub -F %x; lines starting with # are skipped). A damaged or cut\n" +
			"payload is refused.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			in, err := io.ReadAll(io.LimitReader(s.in, 2*telemetry.MaxPayload+2))
			if err != nil {
				return fmt.Errorf("read the payload from stdin: %w", err)
			}
			if asHex {
				if in, err = decodeHex(in); err != nil {
					return err
				}
			}
			b, err := decodePayload(in)
			if err != nil {
				return err
			}
			if asJSON {
				out, err := b.JSON()
				if err != nil {
					return fmt.Errorf("write the readings as JSON: %w", err)
				}
				_, err = fmt.Fprintf(s.out, "%s\n", out)
				return err
			}
			return printBlock(s.out, b)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the JSON telemetry contract")
	cmd.Flags().BoolVar(&asHex, "hex", false, "read the payload as hex text")
	return cmd
}

// decodeHex reads hex text, ignoring white space and lines that start
// with '#'.
func decodeHex(in []byte) ([]byte, error) {
	var digits []byte
	for _, line := range bytes.Split(in, []byte("\n")) {
		if line = bytes.TrimSpace(line); len(line) > 0 && line[0] != '#' {
			digits = append(digits, bytes.Join(bytes.Fields(line), nil)...)
		}
	}
	out, err := hex.DecodeString(string(digits))
	if err != nil {
		return nil, fmt.Errorf("--hex: the input is not hex: %w", err)
	}
	return out, nil
}

// decodePayload decodes a block. mosquitto_sub ends each payload with a
// newline unless given -N: one trailing newline that breaks the checksum
// is dropped.
func decodePayload(in []byte) (*telemetry.Block, error) {
	if len(in) == 0 {
		return nil, errors.New("no payload on stdin: pipe one telemetry/v2 message into it (mosquitto_sub -N -C 1 -t 'sitegate/v1/+/telemetry/v2')")
	}
	b, err := telemetry.DecodeBlock(in)
	if err != nil && in[len(in)-1] == '\n' {
		if b2, err2 := telemetry.DecodeBlock(in[:len(in)-1]); err2 == nil {
			return b2, nil
		}
	}
	switch {
	case errors.Is(err, telemetry.ErrVersion) && in[0] == '{':
		return nil, errors.New("the payload is JSON, not a compact block: it is readable as it is")
	case err != nil:
		return nil, fmt.Errorf("the payload is not a telemetry/v2 block (%d bytes): %w", len(in), err)
	}
	return b, nil
}

func printBlock(w io.Writer, b *telemetry.Block) error {
	rs := b.Readings()
	first, last := uint64(0), uint64(0)
	if len(b.Seqs) > 0 {
		first, last = b.Seqs[0], b.Seqs[len(b.Seqs)-1]
	}
	fmt.Fprintf(w, "gateway %s, %d readings of %d series, %d frames (seq %d..%d)\n", b.Gateway, len(rs), len(b.Series), len(b.Seqs), first, last)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tDEVICE\tPOINT\tVALUE\tQUALITY\tERROR")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", time.UnixMilli(r.Time).UTC().Format("2006-01-02T15:04:05.000Z"), r.Device, r.Point, formatValue(r.Value), r.Quality, r.Error)
	}
	return tw.Flush()
}

func formatValue(v telemetry.Value) string {
	switch v.Kind {
	case telemetry.KindNumber:
		return strconv.FormatFloat(v.Num, 'g', -1, 64)
	case telemetry.KindBool:
		return strconv.FormatBool(v.Bool)
	case telemetry.KindText:
		return strconv.Quote(v.Text)
	}
	return "-"
}
