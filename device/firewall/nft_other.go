//go:build !linux

package firewall

func openDefault() (Backend, error) { return nil, ErrNoBackend }
