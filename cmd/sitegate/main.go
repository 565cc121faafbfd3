// Command sitegate is the on-site building-IoT gateway: the daemon, its demo
// and the offline tools that work on a stopped gateway's data directory.
package main

import "os"

func main() {
	os.Exit(execute(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
