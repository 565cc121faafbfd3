package main

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/lora/lorasim"
	"github.com/sitegate/sitegate/device/lora/lorawan"
	"github.com/sitegate/sitegate/device/lora/payload"
)

// simLoRaOptions are the flags of `sim lora`.
type simLoRaOptions struct {
	forwarder  string
	sensors    int
	interval   time.Duration
	gatewayEUI string
	printSite  bool
}

func newSimLoRaCmd(s streams) *cobra.Command {
	o := simLoRaOptions{sensors: 3, interval: 10 * time.Second, gatewayEUI: "0016c001ff10a235"}
	cmd := &cobra.Command{
		Use:   "lora --forwarder ADDR [--sensors N] [--interval D] [--gateway-eui EUI] [--print-site]",
		Short: "Play a LoRa packet forwarder with simulated sensors",
		Long: "Play a Semtech UDP packet forwarder (protocol v2) with simulated LoRaWAN sensors\n" +
			"against a gateway's packet forwarder server (lora.packet_forwarder, embedded mode):\n" +
			"each sensor joins by OTAA, then sends Cayenne LPP temperature_1 and humidity_2\n" +
			"every --interval. The sensors are lora-1..lora-N with public keys computed from\n" +
			"their DevEUI; --print-site prints the lora section that lists them.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return runSimLoRa(cmd, s, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.forwarder, "forwarder", "", "the gateway's packet forwarder address (UDP host:port), e.g. 127.0.0.1:1700")
	f.IntVar(&o.sensors, "sensors", o.sensors, fmt.Sprintf("simulated sensors, 1..%d", lorasim.MaxSensors))
	f.DurationVar(&o.interval, "interval", o.interval, "time between a sensor's uplinks")
	f.StringVar(&o.gatewayEUI, "gateway-eui", o.gatewayEUI, "the EUI the forwarder reports (the site's lora.gateway_eui)")
	f.BoolVar(&o.printSite, "print-site", false, "print the site file's lora section for these sensors and exit")
	return cmd
}

func runSimLoRa(cmd *cobra.Command, s streams, o simLoRaOptions) error {
	switch {
	case o.sensors < 1 || o.sensors > lorasim.MaxSensors:
		return usagef("--sensors %d: give 1..%d", o.sensors, lorasim.MaxSensors)
	case o.interval < 100*time.Millisecond:
		return usagef("--interval %s: give at least 100ms", o.interval)
	}
	eui, err := lorawan.ParseEUI64(o.gatewayEUI)
	if err != nil {
		return usagef("--gateway-eui %q: %v", o.gatewayEUI, err)
	}
	sensors := lorasim.Fleet(o.sensors, o.interval)
	if o.printSite {
		printFleetSite(s.out, eui, o.forwarder, sensors, o.interval)
		return nil
	}
	if o.forwarder == "" {
		return usagef("--forwarder is required: the address the gateway's packet forwarder server listens on (lora.packet_forwarder)")
	}
	if _, _, err := net.SplitHostPort(o.forwarder); err != nil {
		return usagef("--forwarder %q: give host:port, e.g. 127.0.0.1:1700", o.forwarder)
	}
	startNonces(sensors)
	log := slog.New(slog.NewTextHandler(s.err, nil))
	sim, err := lorasim.New(lorasim.Config{Server: o.forwarder, GatewayEUI: eui, Sensors: sensors, JoinRetry: joinRetry(o.interval), Log: log})
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "simulated packet forwarder (gateway %s) with %d sensor(s) sending to %s; Ctrl-C stops it\n", eui, len(sensors), o.forwarder)
	fmt.Fprintln(s.out, "the gateway must list them: sitegate sim lora --print-site prints its lora section")
	done := make(chan error, 1)
	go func() { done <- sim.Run(cmd.Context()) }()
	report := time.NewTicker(max(o.interval, 5*time.Second))
	defer report.Stop()
	last := ""
	for {
		select {
		case err := <-done:
			fmt.Fprintln(s.out, fleetSummary(sim))
			return err
		case <-report.C:
			if line := fleetSummary(sim); line != last {
				fmt.Fprintln(s.out, line)
				last = line
			}
		}
	}
}

// joinRetry is how long a sensor waits for its join accept: the network
// server answers within 6 s (JOIN_ACCEPT_DELAY2), so no sooner than that.
func joinRetry(interval time.Duration) time.Duration { return max(7*time.Second, interval) }

// startNonces starts each sensor's DevNonces at a random point: the
// network server refuses the nonces of earlier runs.
func startNonces(sensors []lorasim.Sensor) {
	for i := range sensors {
		var b [2]byte
		_, _ = rand.Read(b[:])
		sensors[i].DevNonce = lorawan.DevNonce(binary.BigEndian.Uint16(b[:]))
	}
}

func fleetSummary(sim *lorasim.Simulator) string {
	joined, uplinks, downlinks := 0, uint64(0), uint64(0)
	ss := sim.Sensors()
	for _, s := range ss {
		if s.Joined {
			joined++
		}
		uplinks += s.Uplinks
		downlinks += s.Acks + s.Downlinks
	}
	st := sim.Stats()
	return fmt.Sprintf("%d of %d sensors joined, %d uplinks, %d downlinks; PUSH_DATA %d sent %d acknowledged, PULL_DATA %d sent %d acknowledged",
		joined, len(ss), uplinks, downlinks, st.PushSent, st.PushAcked, st.PullSent, st.PullAcked)
}

// printFleetSite writes the site file's lora section for the sensors.
func printFleetSite(w io.Writer, gw lorawan.EUI64, forwarder string, sensors []lorasim.Sensor, interval time.Duration) {
	if forwarder == "" {
		forwarder = device.DefaultPacketForwarder
	}
	fmt.Fprintf(w, "# The simulator's sensors (sitegate sim lora). Their keys are public: never use them on a real network.\n")
	fmt.Fprintf(w, "lora:\n  enabled: true\n  region: EU868\n  gateway_eui: %q\n  mode: embedded\n  packet_forwarder: %s\n  devices:\n", gw.String(), forwarder)
	iv := device.Duration(max(interval, 10*time.Second)) // the site's floor
	for _, s := range sensors {
		fmt.Fprintf(w, "    - {name: %s, dev_eui: %q, activation: otaa, join_eui: %q, app_key: %q, codec: %s, interval: %s}\n",
			s.Name, s.DevEUI.String(), s.JoinEUI.String(), s.AppKey.Reveal(), payload.CayenneLPPName, iv)
	}
}
