package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/bacnet"
	"github.com/sitegate/sitegate/device/field"
	"github.com/sitegate/sitegate/tui/internal/format"
)

// Bounds of the bacnet commands.
const (
	// bacnetMaxWait bounds how long a discovery may collect I-Ams.
	bacnetMaxWait = time.Minute
)

// Sentinel errors of the bacnet commands; each says what to do.
var (
	// errBACnetNotRunning: no BACnet driver runs (the gateway is stopping).
	errBACnetNotRunning = errors.New("the BACnet driver is not running (the gateway is stopping?): see `health`")
	// errBACnetNoLink: the link a discovery would use is not open.
	errBACnetNoLink = errors.New("BACnet/IP is not open: it opens on bacnet.address (or bacnet.interface) once the site has a BACnet device or bacnet.serve")
)

func (e *session) bacnetCmd() *cobra.Command {
	return groupCmd("bacnet", "BACnet devices: discover them, list their objects, see how points arrive",
		e.bacnetDiscoverCmd(), e.bacnetObjectsCmd(), e.bacnetDevicesCmd())
}

// bacnetDriver returns the running BACnet driver.
func (e *session) bacnetDriver() (*bacnet.Driver, error) {
	d, ok := bacnet.From(e.gw)
	if !ok {
		return nil, failure(errBACnetNotRunning)
	}
	return d, nil
}

// checkBACnetTarget makes a --to that is neither an MS/TP bus of the site
// nor an IPv4 address a usage mistake, before anything is sent.
func (e *session) checkBACnetTarget(to string) error {
	if to == "" || to == bacnet.IPLink {
		return nil
	}
	site, _ := e.gw.Site()
	if _, ok := site.BACnet.FindMSTP(to); ok {
		return nil
	}
	if _, err := device.ParseBACnetAddress(to); err != nil {
		return usageErr("--to %q: give an IPv4 address (192.168.10.30 or 192.168.10.30:47808) or an MS/TP bus of the site: %v", printable(to), err)
	}
	return nil
}

// linkOpen reports an error when the link a target goes through is not
// running, with what to do about it.
func linkOpen(d *bacnet.Driver, site *device.Site, to string) error {
	name := bacnet.IPLink
	if _, ok := site.BACnet.FindMSTP(to); ok {
		name = to
	}
	for _, l := range d.State().Links {
		if l.Name != name {
			continue
		}
		if !l.Running {
			return failure(fmt.Errorf("bacnet link %s is down: %s", name, oneLine(l.Error)))
		}
		return nil
	}
	if name == bacnet.IPLink {
		return failure(errBACnetNoLink)
	}
	return failure(fmt.Errorf("MS/TP bus %s is not open yet: see `health`", name))
}

func (e *session) bacnetDiscoverCmd() *cobra.Command {
	var to string
	var low, high int
	var wait time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "discover [--to ADDR|BUS] [--low N --high N] [--wait D] [--json]",
		Short:       "Send a Who-Is and list the BACnet devices that answer: instance, address, vendor, model, objects",
		Args:        noArgs,
		Annotations: needs("field-write"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.checkBACnetTarget(to); err != nil {
				return err
			}
			if low < 0 || high < 0 || high > device.MaxBACnetInstance || high != 0 && low > high {
				return usageErr("--low %d --high %d: give instances 0..%d, low ≤ high (both 0: every device)", low, high, device.MaxBACnetInstance)
			}
			if wait < 0 || wait > bacnetMaxWait {
				return usageErr("--wait %s: give a duration up to %s (0: the site's APDU timeout)", wait, bacnetMaxWait)
			}
			d, err := e.bacnetDriver()
			if err != nil {
				return err
			}
			site, _ := e.gw.Site()
			if err := linkOpen(d, site, to); err != nil {
				return err
			}
			where := "a global broadcast"
			if to != "" {
				where = printable(to)
			}
			fmt.Fprintf(e.errw, "who-is to %s: waiting for I-Am answers…\n", where)
			ctx, cancel := context.WithTimeout(cmd.Context(), bacnet.DiscoverTimeout)
			defer cancel()
			var last time.Time
			found, err := d.DiscoverDevices(ctx, bacnet.DiscoverQuery{To: to, Low: low, High: high, Wait: wait}, func(p field.Progress) {
				// On stderr, at most a few lines a second.
				if now := e.d.Clock.Now(); now.Sub(last) > progressEvery || p.Done == p.Total {
					last = now
					fmt.Fprintf(e.errw, "described %d/%d devices (last: instance %d)\n", p.Done, p.Total, p.Current)
				}
			})
			if err != nil {
				return failure(err)
			}
			slices.SortFunc(found, func(a, b bacnet.Discovered) int { return a.Instance - b.Instance })
			for _, f := range found {
				if f.Error != "" {
					fmt.Fprintf(e.errw, "warning: device %d at %s answered the Who-Is but not the reads describing it: %s\n", f.Instance, f.Address, oneLine(f.Error))
				}
			}
			if asJSON {
				if found == nil {
					found = []bacnet.Discovered{}
				}
				return e.writeJSON(found)
			}
			if len(found) == 0 {
				_, err := fmt.Fprintf(e.out, "no BACnet device answered the Who-Is to %s\n", where)
				return err
			}
			return writeDiscovered(e.out, found)
		},
	}
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "send the Who-Is to this address (IPv4[:port], directed) or MS/TP bus instead of a global broadcast")
	f.IntVar(&low, "low", 0, "lowest device instance asked")
	f.IntVar(&high, "high", 0, "highest device instance asked (0 with --low 0: every device)")
	f.DurationVar(&wait, "wait", 0, "how long to collect I-Am answers (default the site's APDU timeout)")
	f.BoolVar(&asJSON, "json", false, "print a JSON array of {instance, link, address, vendor_id, vendor, model, name, firmware, objects, max_apdu, site_device, error}")
	return cmd
}

func writeDiscovered(w io.Writer, found []bacnet.Discovered) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tLINK\tADDRESS\tVENDOR\tMODEL\tOBJECTS\tNAME\tSITE-DEVICE")
	for _, f := range found {
		vendor := f.Vendor
		if vendor == "" {
			vendor = "vendor " + strconv.Itoa(int(f.VendorID))
		}
		objects := "-"
		if f.Objects > 0 {
			objects = strconv.Itoa(f.Objects)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Instance, f.Link, f.Address, vendor, format.Dash(f.Model), objects,
			format.Dash(f.Name), format.Dash(f.Site))
	}
	return tw.Flush()
}

// bacnetObject is an object of `bacnet objects --json`: the driver's
// description and, for objects the site reads, how their values arrive.
type bacnetObject struct {
	bacnet.ObjectInfo
	// Mode is cov or polled for an object a site point reads (its
	// present-value), empty otherwise.
	Mode string `json:"mode,omitempty"`
}

func (e *session) bacnetObjectsCmd() *cobra.Command {
	var to string
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "objects DEVICE [--to ADDR|BUS] [--json]",
		Short:       "List a BACnet device's objects with their live values, units, quality, and COV or polled (DEVICE: a site device or an instance)",
		Args:        exactArgs(1),
		Annotations: needs("field-read"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.checkBACnetTarget(to); err != nil {
				return err
			}
			d, err := e.bacnetDriver()
			if err != nil {
				return err
			}
			site, _ := e.gw.Site()
			dev, inSite := site.BACnet.FindDevice(args[0])
			if !inSite {
				if _, err := strconv.ParseUint(args[0], 10, 32); err != nil {
					return failure(fmt.Errorf("no BACnet device %q in the site: give a site device's name or a device instance (bacnet discover lists them)", printable(args[0])))
				}
				if err := linkOpen(d, site, to); err != nil {
					return err
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), bacnet.ObjectsTimeout)
			defer cancel()
			objs, err := d.Objects(ctx, bacnet.ObjectsQuery{Device: args[0], To: to})
			if err != nil {
				return failure(err)
			}
			out := make([]bacnetObject, len(objs))
			modes := map[string]bacnet.Mode{}
			if inSite {
				pts, _ := d.Points(dev.Name)
				for _, p := range pts {
					modes[p.Point] = p.Mode
				}
			}
			for i, o := range objs {
				out[i] = bacnetObject{ObjectInfo: o, Mode: objectMode(o, modes)}
			}
			if asJSON {
				return e.writeJSON(out)
			}
			return writeObjects(e.out, out)
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "where to look for a device given by instance: an address (IPv4[:port]) or MS/TP bus")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of {object, type, instance, name, value, unit, quality, error, commandable, points, mode}")
	return cmd
}

// objectMode is how the site points reading o arrive: cov, polled, or
// both when its points differ.
func objectMode(o bacnet.ObjectInfo, modes map[string]bacnet.Mode) string {
	var seen []string
	for _, p := range o.Points {
		if m, ok := modes[p]; ok && !slices.Contains(seen, m.String()) {
			seen = append(seen, m.String())
		}
	}
	return strings.Join(seen, "+")
}

func writeObjects(w io.Writer, objs []bacnetObject) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OBJECT\tNAME\tVALUE\tUNIT\tQUALITY\tCOMMANDABLE\tMODE\tSITE-POINTS\tERROR")
	for _, o := range objs {
		value := device.FormatValue(o.Value, 0)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", o.Object, format.Dash(oneLine(o.Name)), format.Dash(value), format.Dash(o.Unit),
			o.Quality, format.YesNo(o.Commandable), format.Dash(o.Mode), format.Dash(strings.Join(o.Points, ",")), oneLine(o.Error))
	}
	return tw.Flush()
}

func (e *session) bacnetDevicesCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:         "devices [--json]",
		Short:       "Show each BACnet device of the site: where it was found, its state, how many points arrive by COV and how many are polled",
		Args:        noArgs,
		Annotations: needs("field-read"),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := e.bacnetDriver()
			if err != nil {
				return err
			}
			devs := d.Devices()
			if asJSON {
				return e.writeJSON(devs)
			}
			if len(devs) == 0 {
				_, err := fmt.Fprintln(e.out, "no BACnet devices in the site: `bacnet discover` finds them, the console's Field tab adds them")
				return err
			}
			tw := tabwriter.NewWriter(e.out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tINSTANCE\tLINK\tADDRESS\tSTATE\tCOV\tPOLLED")
			for _, ds := range devs {
				addr := ds.Address
				if !ds.Found {
					addr = "not found yet"
					if ds.Address != "" {
						addr = ds.Address + " (not answering)"
					}
				}
				state := string(ds.Status.State)
				if state == "" {
					state = string(field.StateUnknown)
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%d\n", ds.Name, ds.Instance, ds.Link, addr, state, ds.COV, ds.Polled)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of the driver's device states")
	return cmd
}
