package cmd

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device/coap"
	"github.com/sitegate/sitegate/tui/internal/format"
)

// errCoAPNotRunning: no CoAP driver runs in this gateway.
var errCoAPNotRunning = errors.New("the CoAP driver is not running in this gateway; see `health`")

func (e *session) coapCmd() *cobra.Command {
	return groupCmd("coap", "CoAP-over-DTLS sensors", e.coapSensorsCmd())
}

func (e *session) coapSensorsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "sensors [--json]",
		Short:       "Show each CoAP sensor: identity, state, last seen, readings, refusals (never its key)",
		Args:        noArgs,
		Annotations: needs("field-read"),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, ok := coap.From(e.gw)
			if !ok {
				return failure(errCoAPNotRunning)
			}
			sensors := d.Sensors()
			if asJSON {
				return e.writeJSON(sensors)
			}
			if h := d.Health(); h.Listening == "" {
				why := "set coap.listen (e.g. 0.0.0.0:5684) to open it"
				if h.Error != "" {
					why = oneLine(h.Error)
				}
				fmt.Fprintf(e.errw, "warning: the CoAP server is not listening: %s\n", why)
			}
			if len(sensors) == 0 {
				_, err := fmt.Fprintln(e.out, "no CoAP sensors in the site: add them under coap.sensors")
				return err
			}
			return writeCoAPSensors(e.out, e.d.Clock.Now(), sensors)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of the sensors")
	return cmd
}

func writeCoAPSensors(w io.Writer, now time.Time, sensors []coap.SensorInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tIDENTITY\tSTATE\tSESSION\tLAST-SEEN\tREADINGS\tREFUSALS")
	for _, s := range sensors {
		session := "-"
		if s.Session {
			session = "yes"
		}
		var refusals []string
		for _, k := range slices.Sorted(maps.Keys(s.Refusals)) {
			if s.Refusals[k] > 0 {
				refusals = append(refusals, k+"="+strconv.FormatUint(s.Refusals[k], 10))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", s.Name, s.Identity, s.State, session,
			format.Ago(now, s.LastSeen), s.Readings, format.Dash(strings.Join(refusals, ",")))
	}
	return tw.Flush()
}
