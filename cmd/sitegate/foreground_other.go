//go:build !linux

package main

// takeForeground does nothing off Linux (see foreground_linux.go).
func takeForeground() (restore func()) { return func() {} }
