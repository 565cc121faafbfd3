package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/modbus/sim"
)

func newSimCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulated field devices for tests and demos",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("sim needs a protocol: modbus, bacnet, lora or snmp")
		},
	}
	cmd.AddCommand(newSimModbusCmd(s), newSimBACnetCmd(s), newSimLoRaCmd(s), newSimSNMPCmd(s))
	return cmd
}

func newSimModbusCmd(s streams) *cobra.Command {
	var listen, serialPath, profile string
	var baud int
	cmd := &cobra.Command{
		Use:   "modbus --listen ADDR | --serial PATH [--profile NAME|FILE] [--baud N]",
		Short: "Serve a simulated Modbus device with moving values",
		Long: "Serve a simulated Modbus device over TCP (--listen) or RTU on a serial line\n" +
			"(--serial), answering any unit id. --profile takes a built-in profile name\n" +
			"(" + fmt.Sprint(device.ProfileNames()) + ") or a profile YAML file; without it,\n" +
			"holding and input registers, coils and discrete inputs 0..99 all exist.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (listen == "") == (serialPath == "") {
				return usagef("give exactly one of --listen ADDR or --serial PATH")
			}
			model, err := simModel(profile)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(s.err, nil))
			srv := sim.NewServer(nil, model, sim.WithLogger(log))
			defer srv.Close()
			if listen != "" {
				addr, err := srv.ListenTCP(listen)
				if err != nil {
					return fmt.Errorf("listen on %s: %w", listen, err)
				}
				fmt.Fprintf(s.out, "simulated Modbus TCP device %q on %s (any unit id); Ctrl-C stops it\n", model.Name(), addr)
				<-cmd.Context().Done()
				return nil
			}
			fmt.Fprintf(s.out, "simulated Modbus RTU device %q on %s at %d baud (any unit id); Ctrl-C stops it\n", model.Name(), serialPath, baud)
			err = srv.ServeSerial(cmd.Context(), sim.SerialConfig{Path: serialPath, Baud: baud}, sim.Line{})
			if errors.Is(err, cmd.Context().Err()) {
				return nil
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", "", "TCP address to serve on, e.g. 127.0.0.1:1502")
	f.StringVar(&serialPath, "serial", "", "serial device to serve RTU on, e.g. /dev/ttyUSB0")
	f.StringVar(&profile, "profile", "", "built-in profile name or profile YAML file")
	f.IntVar(&baud, "baud", 19200, "serial speed")
	return cmd
}

// simModel builds the simulated device: a built-in profile, a profile file,
// or the default map.
func simModel(profile string) (*sim.Model, error) {
	if profile == "" {
		return sim.DefaultModel(), nil
	}
	if _, ok := device.LookupProfile(profile); ok {
		return sim.ProfileModel(profile)
	}
	data, err := os.ReadFile(profile)
	if err != nil {
		return nil, fmt.Errorf("--profile %q is neither a built-in profile (%v) nor a readable file: %v", profile, device.ProfileNames(), err)
	}
	p, err := device.ParseProfileYAML(data)
	if err != nil {
		return nil, problemsError(profile, "it cannot be served", err)
	}
	return sim.NewModel(p.Points, sim.WithName(p.Name))
}
