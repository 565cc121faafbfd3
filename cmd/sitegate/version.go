package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/store"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func newVersionCmd(s streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintf(s.out, "sitegate %s (store schema %d, %s, %s/%s)\n", version, store.SchemaVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
