package main

import (
	"github.com/spf13/cobra"
)

func addDaemonFlags(cmd *cobra.Command, o *daemonOptions, sshDefault string) {
	f := cmd.Flags()
	f.StringVar(&o.net, "net", "sim", "network backend: sim (changes nothing on the host) or linux (routes, wpa_supplicant, ModemManager)")
	f.StringVar(&o.sshAddr, "ssh-addr", sshDefault, "address the SSH console listens on")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.Var(&o.memoryLimit, "memory-limit", "soft memory limit of the Go runtime (GOMEMLIMIT syntax, e.g. 224MiB, or off); without the flag GOMEMLIMIT from the environment, else the default")
}

func newRunCmd(s streams) *cobra.Command {
	var o daemonOptions
	cmd := &cobra.Command{
		Use:   "run --data DIR [--ssh-addr ADDR] [--gateway-id ID] [--broker mqtts://HOST:PORT --ca FILE --cert FILE --key FILE] [--memory-limit SIZE]",
		Short: "Run the gateway daemon",
		Long: "Run the gateway: open the data directory, poll devices, serve the SSH console\n" +
			"and sync with the cloud. Stops cleanly on SIGINT or SIGTERM.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDaemon(cmd.Context(), &o, s)
		},
	}
	cmd.Flags().StringVar(&o.dataDir, "data", "", "data directory (created 0700 if missing)")
	cmd.Flags().StringVar(&o.gatewayID, "gateway-id", "", "gateway id to use on first start (default: generated)")
	cmd.Flags().BoolVar(&o.setClock, "set-clock", false, "step the system clock to the NTP servers' time (needs root)")
	cmd.Flags().StringVar(&o.broker, "broker", "", "cloud MQTT broker, mqtts://HOST:PORT (default: work offline)")
	cmd.Flags().StringVar(&o.ca, "ca", "", "CA certificate (PEM) that signs the broker's certificate")
	cmd.Flags().StringVar(&o.cert, "cert", "", "this gateway's device certificate (PEM)")
	cmd.Flags().StringVar(&o.key, "key", "", "the device certificate's private key (PEM, mode 0600)")
	addDaemonFlags(cmd, &o, ":2222")
	return cmd
}
