// peer.js: lora-packet (npm) as a LoRaWAN peer for Go tests. It reads a
// JSON array of operations on stdin and writes a JSON array of results,
// one per operation, in order. Byte fields are hex strings, big-endian as
// lora-packet presents them (DevAddr, EUIs, nonces, NetID).
"use strict";
const lp = require("lora-packet");

const hex = (s) => Buffer.from(s || "", "hex");
const out = (b) => (b ? Buffer.from(b).toString("hex") : "");

function run(op) {
  switch (op.op) {
    case "buildData": {
      const fields = {
        MType: op.mtype,
        DevAddr: hex(op.devaddr),
        FCnt: op.fcnt & 0xffff,
        FCtrl: { ADR: !!op.adr, ACK: !!op.ack, FPending: !!op.fpending, ADRACKReq: !!op.adrackreq },
        FOpts: hex(op.fopts),
        payload: hex(op.payload),
      };
      if (op.fport !== undefined && op.fport !== null) fields.FPort = op.fport;
      const fcntMSB = Buffer.alloc(2);
      fcntMSB.writeUInt16LE((op.fcnt >>> 16) & 0xffff); // bytes 2 and 3 of the counter, in wire order
      const p = lp.fromFields(fields, hex(op.appskey), hex(op.nwkskey), undefined, fcntMSB);
      // fromFields signs only frames with an FPort; sign every frame.
      lp.recalculateMIC(p, hex(op.nwkskey), undefined, fcntMSB);
      return { phy: out(p.getPHYPayload()) };
    }
    case "decodeData": {
      const p = lp.fromWire(hex(op.phy));
      const fcntMSB = Buffer.alloc(2);
      fcntMSB.writeUInt16LE((op.fcnt >>> 16) & 0xffff); // bytes 2 and 3 of the counter, in wire order
      return {
        mtype: p.getMType(),
        devaddr: out(p.DevAddr),
        fcnt: p.getFCnt(),
        fport: p.getFPort(),
        ack: p.getFCtrlACK(),
        adr: p.getFCtrlADR(),
        fpending: p.getFCtrlFPending(),
        fopts: out(p.FOpts),
        mic_ok: lp.verifyMIC(p, hex(op.nwkskey), undefined, fcntMSB),
        payload: out(lp.decrypt(p, hex(op.appskey), hex(op.nwkskey), fcntMSB)),
      };
    }
    case "buildJoinRequest": {
      const p = lp.fromFields(
        { MType: "Join Request", AppEUI: hex(op.joineui), DevEUI: hex(op.deveui), DevNonce: hex(op.devnonce) },
        undefined, undefined, hex(op.appkey));
      return { phy: out(p.getPHYPayload()) };
    }
    case "decodeJoinRequest": {
      const p = lp.fromWire(hex(op.phy));
      return {
        mtype: p.getMType(),
        joineui: out(p.AppEUI),
        deveui: out(p.DevEUI),
        devnonce: out(p.DevNonce),
        mic_ok: lp.verifyMIC(p, undefined, hex(op.appkey)),
      };
    }
    case "buildJoinAccept": {
      const f = {
        MType: "Join Accept",
        AppNonce: hex(op.appnonce),
        NetID: hex(op.netid),
        DevAddr: hex(op.devaddr),
        DLSettings: op.dlsettings,
        RxDelay: op.rxdelay,
      };
      if (op.cflist) f.CFList = hex(op.cflist);
      const p = lp.fromFields(f, undefined, undefined, hex(op.appkey));
      return { phy: out(p.getPHYPayload()) };
    }
    case "decodeJoinAccept": {
      const enc = lp.fromWire(hex(op.phy));
      const p = lp.fromWire(lp.decryptJoinAccept(enc, hex(op.appkey)));
      return {
        mtype: p.getMType(),
        appnonce: out(p.AppNonce),
        netid: out(p.NetID),
        devaddr: out(p.DevAddr),
        dlsettings: p.DLSettings ? p.DLSettings.readUInt8(0) : 0,
        rxdelay: p.RxDelay ? p.RxDelay.readUInt8(0) : 0,
        cflist: out(p.CFList),
        mic_ok: lp.verifyMIC(p, undefined, hex(op.appkey)),
      };
    }
    case "sessionKeys": {
      const k = lp.generateSessionKeys(hex(op.appkey), hex(op.netid), hex(op.appnonce), hex(op.devnonce));
      return { nwkskey: out(k.NwkSKey), appskey: out(k.AppSKey) };
    }
    default:
      throw new Error("unknown op " + op.op);
  }
}

let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  const ops = JSON.parse(input);
  const results = ops.map((op) => {
    try {
      return run(op);
    } catch (e) {
      return { error: String(e && e.message ? e.message : e) };
    }
  });
  process.stdout.write(JSON.stringify(results));
});
