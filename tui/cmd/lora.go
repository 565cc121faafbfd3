package cmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device/lora"
	"github.com/sitegate/sitegate/tui/internal/format"
)

// Bounds of the lora commands.
const (
	// loraFollowBuffer is how many frames a follower may fall behind by
	// before the driver drops frames for it (and the follower says so).
	loraFollowBuffer = 64
)

// Sentinel errors of the lora commands; each says what to do.
var (
	// errLoRaNotRunning: no LoRa driver runs, or the site has LoRa off.
	errLoRaNotRunning = errors.New("LoRa is not running: set lora.enabled: true and mode: embedded, or see `health`")
	// errLoRaForward: forward mode keeps nothing on the gateway.
	errLoRaForward = errors.New("LoRa runs in forward mode: the remote network server (lora.network_server) has the devices and frames; set lora.mode: embedded to keep them on the gateway")
	// errLoRaStopped ends a follower when the driver stops (the gateway
	// is shutting down).
	errLoRaStopped = errors.New("the LoRa driver stopped (the gateway is shutting down); no more frames")
)

func (e *session) loraCmd() *cobra.Command {
	return groupCmd("lora", "LoRaWAN devices and frames of the embedded network server",
		e.loraDevicesCmd(), e.loraFramesCmd())
}

// embeddedLoRa returns the LoRa driver when it runs the embedded network
// server, or the reason it cannot answer. A packet forwarder server that
// should run but does not (its port is taken) still answers from the
// site; the warning goes to stderr.
func (e *session) embeddedLoRa() (*lora.Driver, error) {
	d, ok := lora.From(e.gw)
	if !ok {
		return nil, failure(errLoRaNotRunning)
	}
	c := d.Concentrator()
	switch {
	case c.State == lora.ServerOff:
		return nil, failure(errLoRaNotRunning)
	case c.Mode == "forward":
		return nil, failure(errLoRaForward)
	case c.State == lora.ServerFailed:
		fmt.Fprintf(e.errw, "warning: the packet forwarder server is not running: %s (see `health`)\n", oneLine(c.Error))
	}
	return d, nil
}

func (e *session) loraDevicesCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "devices [--json]",
		Short:       "Show each LoRa device: join state, last uplink, RSSI/SNR, frame counter",
		Args:        noArgs,
		Annotations: needs("field-read"),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := e.embeddedLoRa()
			if err != nil {
				return err
			}
			devs := d.Devices()
			if asJSON {
				return e.writeJSON(devs)
			}
			if len(devs) == 0 {
				_, err := fmt.Fprintln(e.out, "no LoRa devices in the site: add them under lora.devices")
				return err
			}
			return writeLoRaDevices(e.out, e.d.Clock.Now(), devs)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of the driver's device states")
	return cmd
}

func writeLoRaDevices(w io.Writer, now time.Time, devs []lora.DeviceState) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tJOIN\tDEVADDR\tLAST-UPLINK\tRSSI\tSNR\tFCNT\tCODEC")
	for _, d := range devs {
		rssi, snr, fcnt := "-", "-", "-"
		if d.Uplinks > 0 || !d.LastUplink.IsZero() {
			rssi, snr, fcnt = strconv.Itoa(d.RSSI), strconv.FormatFloat(d.SNR, 'f', 1, 64), strconv.FormatUint(uint64(d.LastFCnt), 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Name, d.State, d.JoinState, format.Dash(d.DevAddr),
			format.Ago(now, d.LastUplink), rssi, snr, fcnt, format.Dash(d.Codec))
	}
	return tw.Flush()
}

func (e *session) loraFramesCmd() *cobra.Command {
	var follow, asJSON bool
	var last int
	cmd := &cobra.Command{
		Use:         "frames [--follow] [--json] [-n N]",
		Short:       "Show the recent LoRa frames, oldest first; --follow keeps printing new ones",
		Args:        noArgs,
		Annotations: needs("field-read"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if last < 0 || last > lora.MaxFrames {
				return usageErr("-n %d: give 1..%d, or 0 for every frame kept", last, lora.MaxFrames)
			}
			d, err := e.embeddedLoRa()
			if err != nil {
				return err
			}
			site, _ := e.gw.Site()
			fw := &frameWriter{w: e.out, asJSON: asJSON, loc: site.Clock.Location()}
			if !follow {
				frames := d.Frames(last)
				if asJSON {
					if frames == nil {
						frames = []lora.Frame{}
					}
					return e.writeJSON(frames)
				}
				if len(frames) == 0 {
					_, err := fmt.Fprintln(e.out, "no frames yet: none has come from the packet forwarder since the gateway started")
					return err
				}
				for _, f := range frames {
					fw.write(f)
				}
				return fw.err
			}
			// Subscribe before reading what is kept, so that nothing falls
			// between the two; what is in both is skipped by its Seq.
			sub := d.SubscribeFrames(loraFollowBuffer)
			defer sub.Close()
			var seq uint64
			for _, f := range d.Frames(last) {
				fw.write(f)
				seq = f.Seq
			}
			// The follower ends with the session, when the client has gone
			// (a write fails: the door may notice a closed channel only
			// with its connection), or with a failure when the driver
			// stops.
			for fw.err == nil {
				select {
				case <-cmd.Context().Done():
					return nil
				case f, ok := <-sub.C():
					if !ok {
						return failure(errLoRaStopped)
					}
					if n := sub.Missed(); n > 0 {
						fmt.Fprintf(e.errw, "(missed %d frames: the connection is slower than the radio)\n", n)
					}
					if f.Seq <= seq {
						continue
					}
					fw.write(f)
					seq = f.Seq
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new frames (one JSON object per line with --json)")
	f.BoolVar(&asJSON, "json", false, "print JSON (an array, or JSON lines with --follow)")
	f.IntVarP(&last, "lines", "n", 0, fmt.Sprintf("how many of the newest frames to print first (0: every frame kept, at most %d)", lora.MaxFrames))
	return cmd
}

// frameWriter prints frames one line each, in fixed columns so that a
// follower's lines line up without buffering, or as JSON lines. The first
// error sticks (the client went away).
type frameWriter struct {
	w      io.Writer
	asJSON bool
	loc    *time.Location
	header bool
	err    error
}

const frameColumns = "%-7s %-12s %-16s %-19s %6s %4s %4s %5s %5s %-11s %-9s %s\n"

func (fw *frameWriter) write(f lora.Frame) {
	if fw.err != nil {
		return
	}
	if fw.asJSON {
		fw.err = json.NewEncoder(fw.w).Encode(f)
		return
	}
	if !fw.header {
		fw.header = true
		if _, fw.err = fmt.Fprintf(fw.w, frameColumns, "SEQ", "TIME", "DEVICE", "TYPE", "FCNT", "PORT", "SIZE", "RSSI", "SNR", "FREQ", "DR", "RESULT"); fw.err != nil {
			return
		}
	}
	who := f.Device
	if who == "" {
		who = f.DevEUI
	}
	if who == "" {
		who = f.DevAddr
	}
	fcnt, port := "-", "-"
	if f.DevAddr != "" && f.MType != "JoinRequest" {
		fcnt = strconv.FormatUint(uint64(f.FCnt), 10)
	}
	if f.FPort >= 0 {
		port = strconv.Itoa(f.FPort)
	}
	result := f.Result.String()
	if f.Downlink {
		result += ", downlink sent"
	}
	if f.Error != "" {
		result += ": " + oneLine(f.Error)
	}
	_, fw.err = fmt.Fprintf(fw.w, frameColumns, strconv.FormatUint(f.Seq, 10), f.Time.In(fw.loc).Format("15:04:05.000"),
		format.Dash(who), format.Dash(f.MType), fcnt, port, strconv.Itoa(f.Size), strconv.Itoa(f.RSSI),
		strconv.FormatFloat(f.SNR, 'f', 1, 64), format.MHz(f.Frequency), format.Dash(f.DataRate), result)
}

// oneLine escapes control characters and line breaks of text that is not
// the client's (the driver's errors), without printable's cut.
func oneLine(s string) string { return strings.ReplaceAll(printableLines(s), "\n", "\\n") }
