// Package tui is sitegate's console: the SSH server (wish), authentication
// and the exec commands and Bubble Tea screens served over it. It never
// opens the store or starts pollers itself; it calls the device.Gateway.
package tui
