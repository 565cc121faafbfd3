package bacnet

import (
	"errors"
	"fmt"
	"math"

	"github.com/sitegate/sitegate/device/bacnet/stack"
	"github.com/sitegate/sitegate/device/field"
)

// Errors of value conversion.
var (
	// ErrValueType means a property's value is not a number or a boolean,
	// the only values a point holds.
	ErrValueType = errors.New("not a number or a boolean")
)

// family is what an object's present-value is.
type family uint8

const (
	famOther family = iota
	famAnalog
	famBinary
	famMulti
)

func familyOf(t stack.ObjectType) family {
	switch t {
	case stack.ObjectAnalogInput, stack.ObjectAnalogOutput, stack.ObjectAnalogValue:
		return famAnalog
	case stack.ObjectBinaryInput, stack.ObjectBinaryOutput, stack.ObjectBinaryValue:
		return famBinary
	case stack.ObjectMultiStateInput, stack.ObjectMultiStateOutput, stack.ObjectMultiStateValue:
		return famMulti
	}
	return famOther
}

// hasUnits reports whether the object has a units property.
func hasUnits(t stack.ObjectType) bool { return familyOf(t) == famAnalog }

// hasStatusFlags reports whether present-value's quality can be read
// from the object's status-flags: every standard object but the Device
// object has them.
func hasStatusFlags(o stack.ObjectID, p stack.PropertyID) bool {
	return p == stack.PropPresentValue && o.Type != stack.ObjectDevice
}

// binaryProperty reports whether the property of a binary object holds a
// BACnetBinaryPV (inactive/active), which the field layer shows as a
// boolean.
func binaryProperty(o stack.ObjectID, p stack.PropertyID) bool {
	const relinquishDefault, feedbackValue, alarmValue = 104, 40, 6
	return familyOf(o.Type) == famBinary && (p == stack.PropPresentValue || p == relinquishDefault || p == feedbackValue || p == alarmValue)
}

// toField turns a property value into a point's value. Null (a slot of a
// priority array, a relinquished command) is no value.
func toField(o stack.ObjectID, p stack.PropertyID, vs []stack.Value) (field.Value, error) {
	switch {
	case len(vs) == 0:
		return field.Value{}, fmt.Errorf("%s of %s: the device sent no value: %w", p, o, ErrValueType)
	case len(vs) > 1:
		return field.Value{}, fmt.Errorf("%s of %s is a list of %d values; a point holds one: %w", p, o, len(vs), ErrValueType)
	}
	v := vs[0]
	switch v.Type {
	case stack.TypeNull:
		return field.Value{}, nil
	case stack.TypeBoolean:
		return field.Boolean(v.Bool), nil
	case stack.TypeEnumerated:
		if binaryProperty(o, p) && v.Unsigned <= 1 {
			return field.Boolean(v.Unsigned == 1), nil
		}
		return field.Number(float64(v.Unsigned)), nil
	case stack.TypeUnsigned, stack.TypeSigned, stack.TypeReal, stack.TypeDouble:
		f, _ := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return field.Value{}, fmt.Errorf("%s of %s is %v, not a number the gateway can use: %w", p, o, f, ErrValueType)
		}
		return field.Number(f), nil
	}
	return field.Value{}, fmt.Errorf("%s of %s is a %s: %w", p, o, v.Type, ErrValueType)
}

// toBACnet encodes a value written to a point in the datatype of the
// property: the binary, multi-state and analog present-values have theirs;
// any other property gets a Real for a number and a Boolean for a bool,
// and a device that wants something else says so (invalid-data-type).
func toBACnet(o stack.ObjectID, p stack.PropertyID, v field.Value) (stack.Value, error) {
	if !v.Valid {
		return stack.Null(), nil
	}
	switch {
	case binaryProperty(o, p):
		switch {
		case v.IsBool && v.Bool, !v.IsBool && v.Num == 1:
			return stack.Enumerated(1), nil
		case v.IsBool, v.Num == 0:
			return stack.Enumerated(0), nil
		}
		return stack.Value{}, fmt.Errorf("%s of %s is binary: write true or false (or 1 or 0), not %s", p, o, v)
	case familyOf(o.Type) == famMulti && p == stack.PropPresentValue:
		if v.IsBool || v.Num < 1 || v.Num != math.Trunc(v.Num) || v.Num > math.MaxUint32 {
			return stack.Value{}, fmt.Errorf("%s of %s is a state number: write 1, 2, ..., not %s", p, o, v)
		}
		return stack.Unsigned(uint64(v.Num)), nil
	case familyOf(o.Type) == famAnalog && p == stack.PropPresentValue:
		if v.IsBool {
			return stack.Value{}, fmt.Errorf("%s of %s is analog: write a number, not %s", p, o, v)
		}
		if math.Abs(v.Num) > math.MaxFloat32 {
			return stack.Value{}, fmt.Errorf("%v does not fit the REAL of %s", v.Num, o)
		}
		return stack.Real(float32(v.Num)), nil
	case v.IsBool:
		return stack.Bool(v.Bool), nil
	}
	return stack.Real(float32(v.Num)), nil
}

// quality maps status-flags and reliability to a reading's quality: a
// fault is an error (with the reliability), an object out of service is
// stale (its present-value is not the field's), anything else is good.
func quality(flags stack.StatusFlags, rel stack.Reliability, relKnown bool) (field.Quality, string) {
	switch {
	case flags.Fault:
		why := "fault"
		if relKnown && rel != stack.NoFaultDetected {
			why = "fault: " + rel.String()
		}
		return field.QualityError, why
	case flags.OutOfService:
		return field.QualityStale, "out of service: the value is not the field's"
	}
	return field.QualityGood, ""
}

// unitText is the field layer's unit for BACnet units: the short symbol
// where there is one ("degC"), else the standard's name; nothing for
// no-units.
func unitText(u stack.Units) string {
	if u == stack.UnitsNoUnits {
		return ""
	}
	if s := u.Symbol(); s != "" {
		return s
	}
	return u.String()
}

// unitsFor is the BACnet units of a site unit: a units name or number, or
// the symbol of one; no-units when none matches.
func unitsFor(unit string) stack.Units {
	if unit == "" {
		return stack.UnitsNoUnits
	}
	if u, err := stack.ParseUnits(unit); err == nil {
		return u
	}
	for u := stack.Units(0); u < 256; u++ {
		if u.Symbol() == unit {
			return u
		}
	}
	return stack.UnitsNoUnits
}
