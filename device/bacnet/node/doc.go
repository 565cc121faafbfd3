// Package node is a BACnet node on one data link: the network layer, the
// client's transactions (invoke ids, APDU timeout and retries, segmented
// answers), the client services the gateway uses (discovery, reads,
// writes with priority, COV subscriptions), and the gateway's own Device
// object serving chosen values to other BACnet clients. It knows nothing of
// the site or the field layer; the BACnet driver builds on it.
//
// # Use
//
//	link, _ := node.NewBIP(node.BIPConfig{Conn: udpConn, Broadcast: bcast})
//	srv, _ := node.NewServer(node.ServerConfig{Instance: 4000001, Name: "gw", Objects: objs})
//	n, _ := node.New(node.Config{Link: link, Server: srv, OnCOV: onCOV})
//	go n.Run(ctx)
//	devs, _ := n.Discover(ctx, node.DiscoverOptions{})
//	res, _ := n.ReadProperties(ctx, devs[0].Address, refs)
//
// Data links: BIP (BACnet/IP over a UDP socket the caller binds, with
// optional foreign-device registration at a BBMD) in this package, and
// the MS/TP master node in package mstp. Both satisfy DataLink; the node
// above them is the same.
//
// # Transactions
//
// A confirmed request waits on its own goroutine for the answer, sending
// it again after each APDU timeout up to Retries times. Invoke ids are
// unique per device among pending requests. A request larger than the
// device's max-APDU (from its I-Am) is refused before it is sent: this node
// never segments requests. Segmented ComplexACKs are reassembled with
// Segment-ACKs every window, up to MaxReassembly octets; one whose next
// segment does not come within the APDU timeout fails with
// ErrSegmentTimeout and is forgotten. Answers to invoke ids not pending
// are dropped and counted (Stats.UnknownInvoke).
//
// # Reading
//
// ReadProperties packs properties into as few ReadPropertyMultiple
// requests as fit the device's max-APDU, splits a request whose answer
// does not fit, isolates properties that fail a whole request, and falls
// back to ReadProperty for a device that rejects ReadPropertyMultiple
// (remembered per device). ReadObjectList reads the array whole, or
// element by element when the device cannot send it in one piece.
//
// # Serving
//
// A Server is the gateway's Device object with its required properties
// and analog, binary and multi-state objects (values; inputs read-only;
// outputs always commandable), each backed by a Source the driver
// implements. SetObjects replaces them while the server runs, keeping the
// priority arrays of objects that stay and counting the change in
// database-revision; ServerConfig.NoCOV makes a device without
// SubscribeCOV, as small controllers are. Commandable objects keep a
// priority array; a write reaches the Source with the value that now
// wins, and the array changes only when the Source accepted it. COV
// subscribers are notified when the value moves by the COV increment or
// the status flags change.
//
// # Bounds
//
// Every table outside traffic can grow is bounded: pending transactions
// (MaxPending), the I-Am table (MaxDevices, evicting the longest-unseen
// device no request used), reassembly (MaxReassembly), subscriptions both
// ways (MaxSubscriptions, MaxCOVSubscriptions), requests served at once.
// Malformed frames are dropped and counted in Stats, never affecting
// other devices.
//
// # Caveats
//
//   - No routing: NPDUs for other networks are dropped (Stats.NotForUs),
//     network layer messages are skipped. Devices behind routers are
//     reached through the router's address (Routed).
//   - The server sends no segmented answers: an answer larger than the
//     client's max-APDU is aborted with segmentation-not-supported, and
//     clients read long arrays by index, as the standard expects.
//   - The priority array of a served object lives in memory: a restart
//     forgets commands, and the Source's field value stays as last written.
//   - The server answers Who-Is with a unicast I-Am to the asker.
package node
