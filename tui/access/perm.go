package access

import "github.com/sitegate/sitegate/device"

// Perm is something a role may be allowed to do.
type Perm int

// Permissions. Roles are granted explicitly and each gets the least it
// needs: viewer sees the dashboard; support also reads health, logs and
// the configuration; installer also changes the site; admin also manages
// users.
const (
	PermDashboard Perm = iota + 1
	PermHealth
	PermLogs
	PermConfigView
	PermConfigEdit
	PermUsers
	PermFieldRead  // read live field values
	PermFieldWrite // scan buses and write to field devices
)

var permNames = map[Perm]string{
	PermDashboard:  "view the dashboard",
	PermHealth:     "view health",
	PermLogs:       "read logs",
	PermConfigView: "view the configuration",
	PermConfigEdit: "change the configuration",
	PermUsers:      "manage users",
	PermFieldRead:  "read field values",
	PermFieldWrite: "scan buses and write to devices",
}

// String names the permission in a sentence ("manage users").
func (p Perm) String() string { return permNames[p] }

// minRole is the least privileged role holding each permission. Roles are
// ordered admin (1) < installer < support < viewer (4).
var minRole = map[Perm]device.Role{
	PermDashboard:  device.RoleViewer,
	PermHealth:     device.RoleSupport,
	PermLogs:       device.RoleSupport,
	PermConfigView: device.RoleSupport,
	PermConfigEdit: device.RoleInstaller,
	PermUsers:      device.RoleAdmin,
	PermFieldRead:  device.RoleSupport,
	PermFieldWrite: device.RoleInstaller,
}

// Can reports whether role holds perm. The zero role holds nothing.
func Can(role device.Role, perm Perm) bool {
	need, ok := minRole[perm]
	return ok && role != 0 && role <= need
}

// RoleFor returns the least privileged role holding perm.
func RoleFor(perm Perm) device.Role { return minRole[perm] }
