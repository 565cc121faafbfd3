// Package support is remote access by consent (issue 17): an
// administrator opens a support window (`ssh gw support open --for 2h`,
// at most device.MaxSupportWindow), and the vendor's OpenVPN client runs
// only inside it.
//
// # The window
//
// Window.Open checks the VPN configuration (ConfigPath: support/client.ovpn
// in the data directory, mode 0600, since it names or holds the VPN's
// keys), records who opened it and until when, and is audited
// support.open with the duration and the end. Run starts Debian's openvpn
// held (--management-hold) with its management interface on a Unix
// socket beside the configuration, turns on state and byte-count
// notifications (device/openvpn) and releases it; at the end of the
// window, or on Close (audited support.close, as is the end of the
// time), it sends SIGTERM through the management interface and kills the
// process if it has not ended within StopTimeout. A client that ends
// inside the window is started again after RestartAfter.
//
// # What the vendor reaches
//
// The tunnel is the interface DefaultInterface; the firewall
// (device/firewall, BuildOptions.VPN) counts it and opens nothing on it
// but the SSH console, which asks for the same accounts, roles and
// second factor as on any other interface.
//
// # Caveats
//
// The window lives in memory: a restart of the gateway closes it (and
// stops the VPN), which is the safe side. The remote-access server must
// be in the site's endpoints for the firewall's output chain to let the
// VPN out. The configuration is provisioning, not commissioning: it is
// not part of the site file and is never exported.
package support
