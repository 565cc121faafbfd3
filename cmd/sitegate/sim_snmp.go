package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/snmp/snmpsim"
)

// simSNMPOptions are the flags of `sim snmp`.
type simSNMPOptions struct {
	listen    string
	community string
	name      string
	printSite bool
}

func newSimSNMPCmd(s streams) *cobra.Command {
	o := simSNMPOptions{community: "demo"}
	cmd := &cobra.Command{
		Use:   "snmp --listen ADDR [--community C] [--name NAME] [--print-site]",
		Short: "Serve a simulated SNMP v2c agent: a UPS with moving values",
		Long: "Serve a simulated SNMP v2c agent: a small UPS with its system group, two\n" +
			"interfaces (IF-MIB, 32- and 64-bit counters) and the UPS-MIB of RFC 1628, with\n" +
			"values that move. It answers GET, GETNEXT and GETBULK for --community only.\n" +
			"--print-site prints the site's snmp entries for it (profiles ups-mib and if-mib).",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runSimSNMP(cmd.Context(), s, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.listen, "listen", "", "IP address and UDP port to serve on, e.g. 127.0.0.1:16161 (port 0: any free one)")
	f.StringVar(&o.community, "community", o.community, "the read community it answers")
	f.StringVar(&o.name, "name", "", "its sysName (default sim-ups)")
	f.BoolVar(&o.printSite, "print-site", false, "print the site file's snmp section for this simulator and exit")
	return cmd
}

func runSimSNMP(ctx context.Context, s streams, o simSNMPOptions) error {
	if _, err := netip.ParseAddrPort(o.listen); err != nil {
		return usagef("--listen %q: give an IP address and a port, e.g. 127.0.0.1:16161 (port 0: any free one)", o.listen)
	}
	if o.community == "" {
		return usagef("--community is empty: give the community the simulator answers")
	}
	if o.printSite {
		printSimSNMPSite(s.out, o)
		return nil
	}
	var lc net.ListenConfig
	conn, err := lc.ListenPacket(ctx, "udp", o.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.listen, err)
	}
	a, err := snmpsim.New(conn, snmpsim.Config{Community: o.community, Name: o.name, Logger: slog.New(slog.NewTextHandler(s.err, nil))})
	if err != nil {
		conn.Close()
		return err
	}
	fmt.Fprintf(s.out, "simulated SNMP v2c agent (a UPS) on %s; Ctrl-C stops it\n", a.Addr())
	return a.Run(ctx)
}

// printSimSNMPSite prints an snmp section reading the simulator. The
// community is the simulator's own, a demo value.
func printSimSNMPSite(w io.Writer, o simSNMPOptions) {
	fmt.Fprintf(w, `snmp:
  devices:
    - {name: ups-1, address: "%[1]s", version: v2c, community: "%[2]s", interval: 10s, profile: ups-mib}
    - {name: ups-1-net, address: "%[1]s", version: v2c, community: "%[2]s", interval: 10s, profile: if-mib}
`, o.listen, o.community)
}

// demoSNMPAgents serves a simulated UPS agent for every v2c SNMP device of
// the site on a loopback address (the demo sends nothing off the machine),
// as services of the daemon. An address that is taken is left alone (its
// device shows offline).
func demoSNMPAgents(site *device.Site, log *slog.Logger) []service {
	var out []service
	for _, d := range site.SNMP.Devices {
		ap, err := netip.ParseAddrPort(d.Address)
		if err != nil || !ap.Addr().IsLoopback() || d.Version != device.SNMPv2c || !d.Community.IsSet() {
			continue
		}
		conn, err := net.ListenPacket("udp", ap.String())
		if err != nil {
			log.Warn("demo: cannot simulate the SNMP agent", "device", d.Name, "address", ap.String(), "err", err)
			continue
		}
		a, err := snmpsim.New(conn, snmpsim.Config{Community: d.Community.Reveal(), Name: d.Name, Logger: log.With("component", "demo-snmp")})
		if err != nil {
			conn.Close()
			log.Warn("demo: cannot simulate the SNMP agent", "device", d.Name, "err", err)
			continue
		}
		log.Info("demo: simulated SNMP agent", "device", d.Name, "address", a.Addr())
		out = append(out, service{"demo SNMP agent " + d.Name, a.Run})
	}
	return out
}
