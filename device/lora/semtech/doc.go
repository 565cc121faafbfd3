// Package semtech speaks Semtech's UDP packet-forwarder protocol, version
// 2 (PROTOCOL.TXT of the packet_forwarder): the protocol by which a LoRa
// concentrator's packet forwarder hands uplinks to a network server and
// takes downlinks from it.
//
// # Layers
//
//   - packet.go: the datagram codec. PUSH_DATA, PUSH_ACK, PULL_DATA,
//     PULL_ACK, PULL_RESP and TX_ACK, with their token and gateway EUI.
//   - json.go: the JSON objects they carry: rxpk (an uplink and its radio
//     metadata), stat (the forwarder's counters), txpk (a downlink to
//     send) and txpk_ack (the forwarder's verdict on it). Unknown fields are
//     tolerated, as the protocol's later versions add some; broken JSON or
//     base64 is refused with ErrJSON or ErrBase64, and one broken rxpk does
//     not take its neighbours down with it.
//   - registry.go: what both servers share: the table of forwarders (by
//     gateway EUI: last PUSH_DATA, last PULL_DATA and its address, packet
//     and CRC error counts), a token bucket per source address, and the
//     counters of everything refused.
//   - server.go: Server, the embedded mode's end. It acknowledges, hands
//     each good rxpk to a callback and sends downlinks to the address of
//     the forwarder's last PULL_DATA.
//   - relay.go: Relay, the forward mode. Datagrams go to a remote network
//     server unchanged and its answers come back; uplinks are held in a
//     bounded buffer until the remote acknowledges them, so a short outage
//     of the remote loses nothing.
//
// # Security
//
// The protocol has no authentication: anyone who can send to the port can
// inject uplinks or learn downlinks. Both servers work on a net.PacketConn
// they are given and never open one of their own on another address, so
// they listen exactly where the site says (loopback by default: the
// concentrator's forwarder runs on the gateway itself). Config.Gateways
// restricts them further to known gateway EUIs, and the per-source rate
// bound keeps one misbehaving forwarder from starving the others.
//
// # Caveats
//
//   - Protocol versions 1 and 3+ are refused (ErrVersion): version 1 has no
//     TX_ACK, and no version 3 exists in Semtech's forwarders.
//   - The "time" fields are kept as the text the forwarder sent; RXPK.At
//     parses the common forms.
//   - A forwarder sends PUSH_DATA and PULL_DATA from two sockets (two
//     ports), so the rate bound, being per source address, gives each its
//     own budget.
package semtech
