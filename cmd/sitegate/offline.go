package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store"
)

// maxSiteFile bounds a site file read from disk or stdin: what the
// decoder accepts.
const maxSiteFile = device.MaxSiteFileSize

// addDataFlag adds the --data flag of the offline commands.
func addDataFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "data", "", "data directory of a stopped gateway")
}

// openOffline opens a stopped gateway's data directory. While the gateway
// runs, the store's lock makes this fail with a message saying so.
func openOffline(dir string) (*store.Store, *device.Gateway, error) {
	if dir == "" {
		return nil, nil, usagef("--data is required: the data directory of a stopped gateway")
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, nil, fmt.Errorf("data directory %s does not exist: give the --data of an existing gateway", dir)
	}
	st, err := store.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	gw, err := device.NewGateway(st, device.GatewayOptions{})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return st, gw, nil
}

// openStoreOnly opens a stopped gateway's store for reading its audit log:
// without device.NewGateway (which could write) and without creating a key
// that the directory lacks, so it suits a copy of a data directory too.
func openStoreOnly(dir string) (*store.Store, error) {
	if dir == "" {
		return nil, usagef("--data is required: the data directory of a stopped gateway")
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("data directory %s does not exist: give the --data of an existing gateway", dir)
	}
	return store.Open(dir, store.Options{NoNewKeys: true})
}

// openProvisioning opens a stopped gateway's data directory, creating it
// (0700, with a new store and gateway id) when it does not exist yet: sites
// and accounts can be provisioned before the gateway's first start.
func openProvisioning(dir string) (*store.Store, *device.Gateway, error) {
	if dir == "" {
		return nil, nil, usagef("--data is required: the data directory of a stopped gateway (created if it does not exist)")
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, nil, fmt.Errorf("create data directory: %w", err)
		}
	}
	return openOffline(dir)
}

// readInput reads a named file, or stdin for "-", refusing oversized input.
func readInput(name string, stdin io.Reader) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		r = stdin
		name = "standard input"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("read site file: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxSiteFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > maxSiteFile {
		return nil, fmt.Errorf("%s is larger than %d MiB: a site file is much smaller; check that this is the right file", name, maxSiteFile>>20)
	}
	return b, nil
}

// problemsError turns validation problems into the command's error: one
// sentence, then one line per problem.
func problemsError(what, outcome string, err error) error {
	return errors.New(device.Report(what, outcome, err))
}
