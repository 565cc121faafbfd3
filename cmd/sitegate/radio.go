package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/device/wifi"
)

func newRadioCmd(s streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "radio",
		Short: "Re-enable a permanently disabled radio (physical access only)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("radio needs a subcommand: enable")
		},
	}
	cmd.AddCommand(newRadioEnableCmd(s))
	return cmd
}

func newRadioEnableCmd(s streams) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "enable wifi|lora --data DIR",
		Short: "Clear a radio's permanent disable on a stopped gateway",
		Long: "Clear wifi.permanently_disabled or lora.permanently_disabled in a stopped gateway's\n" +
			"site. Only this command, run on the gateway itself, can do it: the console, SSH\n" +
			"commands and the cloud are refused. The radio stays off (enabled: false) until an\n" +
			"ordinary configuration change turns it on. Audited as radio.enable.",
		Args: exactArgs(1, "wifi|lora"),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := wifi.ParseRadio(args[0])
			if err != nil {
				return usagef("%v", err)
			}
			st, gw, err := openOffline(dir)
			if err != nil {
				return err
			}
			defer st.Close()
			cur, rev := gw.Site()
			if !r.PermanentlyDisabled(cur) {
				fmt.Fprintf(s.out, "%s is not permanently disabled; nothing to do (site revision %d)\n", r.Title(), rev)
				return nil
			}
			next := cur.Clone()
			r.SetPermanentlyDisabled(next, false)
			// The lock-out rule lives in one place; for the local actor it
			// allows the change.
			if err := wifi.CheckRadioChange(cur, next, device.LocalActor); err != nil {
				return err
			}
			ch, err := gw.ApplySite(device.Edit{Actor: device.LocalActor, Action: device.ActionRadioEnable, Base: rev}, next)
			if err != nil {
				return problemsError("the stored site", "nothing was stored", err)
			}
			fmt.Fprintf(s.out, "%s is no longer permanently disabled (site revision %d).\n"+
				"It stays off until a configuration change sets %s.enabled: true.\n", r.Title(), ch.Rev, r)
			return nil
		},
	}
	addDataFlag(cmd, &dir)
	return cmd
}
