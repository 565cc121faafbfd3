package device

import _ "embed" // for DemoSiteYAML

// DemoSiteYAML is the site file that `sitegate demo` preloads: a small plant
// room with an energy meter, two air-handling units and a room sensor on one
// Modbus TCP bus at 127.0.0.1:15020, and three LoRaWAN sensors of the
// embedded network server, whose packet forwarder sends to 127.0.0.1:11700,
// and two CoAP-over-DTLS sensors posting to 127.0.0.1:15684. It is the same
// file as testdata/sites/demo.yaml (a test keeps the two identical); its
// only secrets are the simulators' public LoRa and CoAP keys, and it does
// not require 2FA.
//
//go:embed demosite.yaml
var DemoSiteYAML []byte
