package device

import _ "embed" // for DemoSiteYAML

// DemoSiteYAML is the site file that `sitegate demo` preloads: a small plant
// room with an energy meter, two air-handling units and a room sensor on one
// Modbus TCP bus at 127.0.0.1:15020. It is the same file as
// testdata/sites/demo.yaml (a test keeps the two identical); it holds no
// secrets and does not require 2FA.
//
//go:embed demosite.yaml
var DemoSiteYAML []byte
