// Package payload turns decrypted LoRaWAN application payloads into named
// values: Cayenne LPP, built in, and a small declarative codec for sensors
// with a format of their own (fields at byte offsets, with a type, a byte
// order, a scale and an offset, as the site file describes them).
//
// # Names
//
// Cayenne LPP values are named {type}_{channel}: temperature_1,
// humidity_2. Types with several values add the component:
// accelerometer_1_x, _y, _z; gyrometer_3_x, _y, _z; gps_1_latitude,
// gps_1_longitude, gps_1_altitude; colour_4_r, _g, _b. The type names are
// those of the table in cayenne.go (IPSO names in snake case, as The Things
// Network writes them, except that illuminance, humidity and barometer
// follow the shorter names). A declarative codec's values carry the
// names of its fields.
//
// # Caveats
//
//   - Cayenne LPP has no length field per value: an unknown type stops the
//     decoding (ErrUnknownType), since the rest cannot be delimited. The
//     extended types are those of the ElectronicCats/TTN Arduino library
//     (generic sensor, voltage, current, frequency, percentage, altitude,
//     concentration, power, distance, energy, direction, unixtime, colour,
//     switch); polyline (240) is not supported.
//   - A payload carrying the same type and channel twice yields both values
//     in order; a consumer that keeps one value per name keeps the last.
//   - Values are float64: a uint32 field keeps all its digits, but
//     unixtime and the like are numbers, not times.
package payload
