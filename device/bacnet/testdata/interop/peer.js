// A BACnet/IP device and client driven by sitegate's interop test, built on
// @bacnet-js/client (a stack nobody at sitegate wrote). It serves a Device
// object, analog-input:1, analog-value:2 (commandable, with a priority
// array) and binary-value:3 by answering the library's service events, and
// runs client requests the test sends on stdin. Everything it sees goes to
// stdout as one JSON object per line.
//
// Usage: node peer.js DEVICE_INSTANCE [EXTRA_INPUTS]   (binds 127.0.0.1 on a free port)
// PEER_BIND, PEER_PORT and PEER_BROADCAST place it elsewhere: the broadcast
// discovery test binds 0.0.0.0:47808 in a network namespace of its own.
'use strict'

const readline = require('node:readline')
const Bacnet = require('@bacnet-js/client').default
const Transport = require('@bacnet-js/client/dist/lib/transport').default

const T = { NULL: 0, BOOLEAN: 1, UNSIGNED: 2, REAL: 4, CHARSTRING: 7, BITSTRING: 8, ENUMERATED: 9, OBJECTID: 12, ERROR: 105 }
const P = {
  ALL: 8, DESCRIPTION: 28, EVENT_STATE: 36, MAX_APDU: 62, OBJECT_IDENTIFIER: 75, OBJECT_LIST: 76,
  OBJECT_NAME: 77, OBJECT_TYPE: 79, OUT_OF_SERVICE: 81, PRESENT_VALUE: 85, PRIORITY_ARRAY: 87,
  RELIABILITY: 103, RELINQUISH_DEFAULT: 104, SEGMENTATION: 107, STATUS_FLAGS: 111,
  SYSTEM_STATUS: 112, UNITS: 117, VENDOR_ID: 120, VENDOR_NAME: 121, PROTOCOL_VERSION: 98,
  PROTOCOL_REVISION: 139,
}
const ARRAY_ALL = 0xffffffff

// The lack of a way to bind port 0 in the library's own transport (it
// treats 0 as "use 47808") is why this subclass exists: tests never use
// fixed ports.
class EphemeralTransport extends Transport {
  open () {
    this._server.bind(this._settings.port, this._settings.interface, () => this._server.setBroadcast(true))
  }
}

const instance = Number(process.argv[2] || 1234)
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')
const bind = process.env.PEER_BIND || '127.0.0.1'
const transport = new EphemeralTransport({
  port: Number(process.env.PEER_PORT || 0),
  interface: bind === '0.0.0.0' ? undefined : bind,
  broadcastAddress: process.env.PEER_BROADCAST || '127.255.255.255',
  reuseAddr: false,
})
const client = new Bacnet({ transport, apduTimeout: 2000 })

const key = (o) => `${o.type}:${o.instance}`
const flags = (fault) => ({ type: T.BITSTRING, value: { bitsUsed: 4, value: [fault ? 0x02 : 0x00] } })
const objects = new Map()
function add (obj) { objects.set(key(obj.id), obj) }
add({ id: { type: 8, instance }, name: 'node-peer' })
add({ id: { type: 0, instance: 1 }, name: 'supply-temp', pv: 21.5, units: 62, fault: false })
add({ id: { type: 2, instance: 2 }, name: 'setpoint', pv: 20, units: 62, prio: new Array(16).fill(null), relinquish: 20 })
add({ id: { type: 5, instance: 3 }, name: 'fan', pv: 0 })
// Extra analog inputs for the polling benchmark: node peer.js INSTANCE COUNT.
for (let i = 0; i < Number(process.argv[3] || 0); i++) {
  add({ id: { type: 0, instance: 100 + i }, name: `ai-${100 + i}`, pv: i / 4, units: 62, fault: false })
}

function pvOf (obj) {
  if (obj.id.type === 5) return { type: T.ENUMERATED, value: obj.pv }
  return { type: T.REAL, value: obj.pv }
}

// read returns the values of one property, or throws [class, code].
function read (objectId, prop, index) {
  const obj = objects.get(key(objectId))
  if (!obj) throw [1, 31] // object, unknown-object
  const t = objectId.type
  const arr = (vals) => {
    if (index === undefined || index === ARRAY_ALL) return vals
    if (index === 0) return [{ type: T.UNSIGNED, value: vals.length }]
    if (index > vals.length) throw [2, 42] // property, invalid-array-index
    return [vals[index - 1]]
  }
  switch (prop) {
    case P.OBJECT_IDENTIFIER: return [{ type: T.OBJECTID, value: obj.id }]
    case P.OBJECT_NAME: return [{ type: T.CHARSTRING, value: obj.name }]
    case P.OBJECT_TYPE: return [{ type: T.ENUMERATED, value: t }]
  }
  if (t === 8) {
    switch (prop) {
      case P.OBJECT_LIST: return arr([...objects.values()].map((o) => ({ type: T.OBJECTID, value: o.id })))
      case P.SYSTEM_STATUS: return [{ type: T.ENUMERATED, value: 0 }]
      case P.VENDOR_NAME: return [{ type: T.CHARSTRING, value: '@bacnet-js/client' }]
      case P.VENDOR_ID: return [{ type: T.UNSIGNED, value: 999 }]
      case P.MAX_APDU: return [{ type: T.UNSIGNED, value: 1476 }]
      case P.SEGMENTATION: return [{ type: T.ENUMERATED, value: 3 }]
      case P.PROTOCOL_VERSION: return [{ type: T.UNSIGNED, value: 1 }]
      case P.PROTOCOL_REVISION: return [{ type: T.UNSIGNED, value: 14 }]
    }
    throw [2, 32]
  }
  switch (prop) {
    case P.PRESENT_VALUE: return [pvOf(obj)]
    case P.STATUS_FLAGS: return [flags(obj.fault)]
    case P.EVENT_STATE: return [{ type: T.ENUMERATED, value: 0 }]
    case P.OUT_OF_SERVICE: return [{ type: T.BOOLEAN, value: false }]
    case P.RELIABILITY: return [{ type: T.ENUMERATED, value: obj.fault ? 7 : 0 }]
  }
  if (prop === P.UNITS && obj.units !== undefined) return [{ type: T.ENUMERATED, value: obj.units }]
  if (prop === P.PRIORITY_ARRAY && obj.prio) {
    return arr(obj.prio.map((v) => (v === null ? { type: T.NULL, value: null } : { type: T.REAL, value: v })))
  }
  if (prop === P.RELINQUISH_DEFAULT && obj.prio) return [{ type: T.REAL, value: obj.relinquish }]
  throw [2, 32] // property, unknown-property
}

function propsOf (objectId) {
  const t = objectId.type
  if (t === 8) return [P.OBJECT_IDENTIFIER, P.OBJECT_NAME, P.OBJECT_TYPE, P.OBJECT_LIST, P.SYSTEM_STATUS, P.VENDOR_NAME, P.VENDOR_ID, P.MAX_APDU, P.SEGMENTATION]
  const ps = [P.OBJECT_IDENTIFIER, P.OBJECT_NAME, P.OBJECT_TYPE, P.PRESENT_VALUE, P.STATUS_FLAGS, P.EVENT_STATE, P.OUT_OF_SERVICE, P.RELIABILITY]
  const obj = objects.get(key(objectId))
  if (obj && obj.units !== undefined) ps.push(P.UNITS)
  if (obj && obj.prio) ps.push(P.PRIORITY_ARRAY, P.RELINQUISH_DEFAULT)
  return ps
}

// COV subscriptions this device serves.
const subs = new Map()
function notify (obj) {
  const now = Date.now()
  for (const [k, s] of subs) {
    if (key(s.object) !== key(obj.id)) continue
    if (s.expires && now > s.expires) { subs.delete(k); continue }
    const remaining = s.expires ? Math.ceil((s.expires - now) / 1000) : 0
    const values = [
      { property: { id: P.PRESENT_VALUE, index: ARRAY_ALL }, value: [pvOf(obj)] },
      { property: { id: P.STATUS_FLAGS, index: ARRAY_ALL }, value: [flags(obj.fault)] },
    ]
    if (s.confirmed) {
      client.confirmedCOVNotification(s.receiver, obj.id, s.pid, instance, remaining, values)
        .then(() => out({ event: 'covSent', object: key(obj.id), confirmed: true }))
        .catch((e) => out({ event: 'covFailed', error: String(e) }))
    } else {
      client.unconfirmedCOVNotification(s.receiver, s.pid, instance, obj.id, remaining, values)
      out({ event: 'covSent', object: key(obj.id), confirmed: false })
    }
  }
}

function effective (obj) {
  const v = obj.prio.find((x) => x !== null)
  return v === undefined ? obj.relinquish : v
}

client.on('whoIs', (m) => {
  const p = m.payload || {}
  out({ event: 'whoIs', from: m.header.sender.address, low: p.lowLimit, high: p.highLimit })
  if (p.lowLimit !== undefined && (instance < p.lowLimit || instance > p.highLimit)) return
  client.iAmResponse(m.header.sender, instance, 3, 999)
})

client.on('readProperty', (m) => {
  const { objectId, property } = m.payload
  try {
    client.readPropertyResponse(m.header.sender, m.invokeId, objectId, property, read(objectId, property.id, property.index))
  } catch (e) {
    if (!Array.isArray(e)) throw e
    client.errorResponse(m.header.sender, m.service, m.invokeId, e[0], e[1])
  }
})

// PEER_NO_RPM=1 leaves ReadPropertyMultiple unhandled, as a small device
// would: the library then answers it with Error services/reject-unrecognized-service.
if (process.env.PEER_NO_RPM !== '1') client.on('readPropertyMultiple', (m) => {
  const values = m.payload.properties.map((spec) => {
    let props = spec.properties
    if (props.length === 1 && props[0].id === P.ALL) props = propsOf(spec.objectId).map((id) => ({ id, index: ARRAY_ALL }))
    return {
      objectId: spec.objectId,
      values: props.map((p) => {
        try {
          return { property: p, value: read(spec.objectId, p.id, p.index) }
        } catch (e) {
          if (!Array.isArray(e)) throw e
          return { property: p, value: [{ type: T.ERROR, value: { type: 'BacnetError', errorClass: e[0], errorCode: e[1] } }] }
        }
      }),
    }
  })
  client.readPropertyMultipleResponse(m.header.sender, m.invokeId, values)
})

client.on('writeProperty', (m) => {
  const { objectId, value } = m.payload
  const obj = objects.get(key(objectId))
  const fail = (c, code) => client.errorResponse(m.header.sender, m.service, m.invokeId, c, code)
  if (!obj) return fail(1, 31)
  if (value.property.id !== P.PRESENT_VALUE || objectId.type === 0 || objectId.type === 8) return fail(2, 40)
  const v = value.value[0]
  const isNull = v.type === T.NULL
  if (obj.prio) {
    obj.prio[value.priority - 1] = isNull ? null : v.value
    obj.pv = effective(obj)
  } else {
    if (isNull) return fail(2, 9)
    obj.pv = v.value
  }
  out({ event: 'write', object: key(objectId), priority: value.priority, value: isNull ? null : v.value, pv: obj.pv })
  client.simpleAckResponse(m.header.sender, m.service, m.invokeId)
  notify(obj)
})

client.on('subscribeCov', (m) => {
  const p = m.payload
  const obj = objects.get(key(p.monitoredObjectId))
  if (!obj || p.monitoredObjectId.type === 8) {
    return client.errorResponse(m.header.sender, m.service, m.invokeId, 1, 31)
  }
  const k = `${m.header.sender.address}/${p.subscriberProcessId}/${key(p.monitoredObjectId)}`
  out({ event: 'subscribe', object: key(p.monitoredObjectId), pid: p.subscriberProcessId, confirmed: !!p.issueConfirmedNotifications, lifetime: p.lifetime || 0, cancel: !!p.cancellationRequest })
  if (p.cancellationRequest) {
    subs.delete(k)
  } else {
    subs.set(k, {
      receiver: { address: m.header.sender.address }, pid: p.subscriberProcessId, object: p.monitoredObjectId,
      confirmed: !!p.issueConfirmedNotifications, expires: p.lifetime ? Date.now() + p.lifetime * 1000 : 0,
    })
  }
  client.simpleAckResponse(m.header.sender, m.service, m.invokeId)
  if (!p.cancellationRequest) notify(obj)
})

// Notifications from the gateway's server, when this peer is its client.
const plain = (vals) => vals.map((v) => ({ property: v.property.id, value: v.value.map((x) => (x.value && x.value.value !== undefined && x.type === T.BITSTRING ? x.value.value : x.value)) }))
client.on('covNotify', (m) => {
  client.simpleAckResponse(m.header.sender, m.service, m.invokeId)
  out({ event: 'cov', confirmed: true, pid: m.payload.subscriberProcessId, device: m.payload.initiatingDeviceId, object: key(m.payload.monitoredObjectId), values: plain(m.payload.values) })
})
client.on('covNotifyUnconfirmed', (m) => {
  out({ event: 'cov', confirmed: false, pid: m.payload.subscriberProcessId, device: m.payload.initiatingDeviceId, object: key(m.payload.monitoredObjectId), values: plain(m.payload.values) })
})
const iams = []
client.on('iAm', (m) => { iams.push({ address: m.header.sender.address, deviceId: m.payload.deviceId, maxApdu: m.payload.maxApdu, segmentation: m.payload.segmentation, vendorId: m.payload.vendorId }) })
client.on('error', (e) => out({ event: 'error', error: String(e) }))

// Values as plain JSON for the test.
const simple = (vals) => vals.map((x) => ({ type: x.type, value: x.type === T.BITSTRING ? x.value.value : x.value }))

async function run (c) {
  const to = { address: c.address }
  switch (c.cmd) {
    case 'set': {
      const obj = objects.get(c.object)
      obj.pv = c.value
      if (c.fault !== undefined) obj.fault = c.fault
      notify(obj)
      return null
    }
    case 'readProperty': {
      const opts = c.index === undefined ? {} : { arrayIndex: c.index }
      const r = await client.readProperty(to, c.object, c.property, opts)
      return simple(r.values)
    }
    case 'readPropertyMultiple': {
      const r = await client.readPropertyMultiple(to, c.specs)
      return r.values.map((o) => ({ object: key(o.objectId), values: o.values.map((v) => ({ property: v.id, index: v.index, value: simple(v.value) })) }))
    }
    case 'subscribeCov':
      await client.subscribeCov(to, c.object, c.pid, !!c.cancel, !!c.confirmed, c.lifetime || 0)
      return null
    case 'writeProperty':
      await client.writeProperty(to, c.object, c.property, c.values, { priority: c.priority })
      return null
    case 'whoIs': {
      iams.length = 0
      const range = c.low === undefined ? {} : { lowLimit: c.low, highLimit: c.high }
      if (c.address) client.whoIs(to, range)
      else client.whoIs(undefined, range) // a broadcast, to PEER_BROADCAST
      await new Promise((resolve) => setTimeout(resolve, c.wait || 500))
      return iams.slice()
    }
    case 'exit':
      client.close()
      process.exit(0)
  }
  throw new Error('unknown command ' + c.cmd)
}

client.on('listening', () => {
  out({ event: 'listening', port: transport.ownAddress.port, instance })
  const rl = readline.createInterface({ input: process.stdin })
  rl.on('line', (line) => {
    let c
    try { c = JSON.parse(line) } catch (e) { return out({ event: 'error', error: 'bad command: ' + line }) }
    run(c).then((result) => out({ id: c.id, ok: true, result }), (e) => out({ id: c.id, ok: false, error: String(e && e.message ? e.message : e) }))
  })
  rl.on('close', () => { client.close(); process.exit(0) })
})
