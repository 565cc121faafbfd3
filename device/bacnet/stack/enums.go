package stack

import (
	"fmt"
	"strconv"
	"strings"
)

// The enumerations of clause 21 that the gateway speaks, as typed values.
// String gives the standard's name in lower case with hyphens
// ("analog-input"); a value without a name here prints as its number.
// Parse accepts that name, the same with underscores or in camelCase
// ("analog_input", "analogInput"), or a decimal number.

// normName folds the spellings Parse accepts onto one key.
func normName(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.NewReplacer("-", "", "_", "", " ", "").Replace(s)
}

func index[T ~uint32](names map[T]string) map[string]T {
	m := make(map[string]T, len(names))
	for v, n := range names {
		m[normName(n)] = v
	}
	return m
}

func enumString[T ~uint32](names map[T]string, v T) string {
	if n, ok := names[v]; ok {
		return n
	}
	return strconv.FormatUint(uint64(v), 10)
}

func enumParse[T ~uint32](kind string, idx map[string]T, s string, max uint64) (T, error) {
	if u, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32); err == nil {
		if u > max {
			return 0, fmt.Errorf("%s %d is above %d: %w", kind, u, max, ErrRange)
		}
		return T(u), nil
	}
	if v, ok := idx[normName(s)]; ok {
		return v, nil
	}
	return 0, fmt.Errorf("unknown %s %q (a name such as %s, or a number): %w", kind, s, exampleOf(kind), ErrRange)
}

func exampleOf(kind string) string {
	switch kind {
	case "object type":
		return `"analog-input"`
	case "property":
		return `"present-value"`
	}
	return "in the standard"
}

// ObjectType is BACnetObjectType (10 bits in an object identifier).
type ObjectType uint32

// Object types (clause 21, BACnetObjectType).
const (
	ObjectAnalogInput      ObjectType = 0
	ObjectAnalogOutput     ObjectType = 1
	ObjectAnalogValue      ObjectType = 2
	ObjectBinaryInput      ObjectType = 3
	ObjectBinaryOutput     ObjectType = 4
	ObjectBinaryValue      ObjectType = 5
	ObjectDevice           ObjectType = 8
	ObjectMultiStateInput  ObjectType = 13
	ObjectMultiStateOutput ObjectType = 14
	ObjectMultiStateValue  ObjectType = 19
	ObjectTrendLog         ObjectType = 20
	// MaxObjectType is the largest type an object identifier can carry.
	MaxObjectType ObjectType = 1023
)

var objectTypeNames = map[ObjectType]string{
	0: "analog-input", 1: "analog-output", 2: "analog-value", 3: "binary-input",
	4: "binary-output", 5: "binary-value", 6: "calendar", 7: "command", 8: "device",
	9: "event-enrollment", 10: "file", 11: "group", 12: "loop", 13: "multi-state-input",
	14: "multi-state-output", 15: "notification-class", 16: "program", 17: "schedule",
	18: "averaging", 19: "multi-state-value", 20: "trend-log", 21: "life-safety-point",
	22: "life-safety-zone", 23: "accumulator", 24: "pulse-converter", 25: "event-log",
	26: "global-group", 27: "trend-log-multiple", 28: "load-control", 29: "structured-view",
	30: "access-door", 31: "timer", 32: "access-credential", 33: "access-point",
	34: "access-rights", 35: "access-user", 36: "access-zone", 37: "credential-data-input",
	38: "network-security", 39: "bitstring-value", 40: "characterstring-value",
	41: "date-pattern-value", 42: "date-value", 43: "datetime-pattern-value",
	44: "datetime-value", 45: "integer-value", 46: "large-analog-value",
	47: "octetstring-value", 48: "positive-integer-value", 49: "time-pattern-value",
	50: "time-value", 51: "notification-forwarder", 52: "alert-enrollment", 53: "channel",
	54: "lighting-output", 55: "binary-lighting-output", 56: "network-port",
	57: "elevator-group", 58: "escalator", 59: "lift", 60: "staging", 61: "audit-log",
	62: "audit-reporter", 63: "color", 64: "color-temperature",
}

var objectTypeIndex = index(objectTypeNames)

func (t ObjectType) String() string { return enumString(objectTypeNames, t) }

// ParseObjectType parses "analog-input", "analogInput" or "0".
func ParseObjectType(s string) (ObjectType, error) {
	return enumParse("object type", objectTypeIndex, s, uint64(MaxObjectType))
}

// PropertyID is BACnetPropertyIdentifier.
type PropertyID uint32

// Properties this stack uses by name; PropertyID(n) reaches every other.
const (
	PropAll                       PropertyID = 8
	PropAPDUTimeout               PropertyID = 11
	PropApplicationSoftwareVer    PropertyID = 12
	PropCOVIncrement              PropertyID = 22
	PropDescription               PropertyID = 28
	PropDeviceAddressBinding      PropertyID = 30
	PropEventState                PropertyID = 36
	PropFirmwareRevision          PropertyID = 44
	PropMaxAPDULengthAccepted     PropertyID = 62
	PropModelName                 PropertyID = 70
	PropNumberOfAPDURetries       PropertyID = 73
	PropNumberOfStates            PropertyID = 74
	PropObjectIdentifier          PropertyID = 75
	PropObjectList                PropertyID = 76
	PropObjectName                PropertyID = 77
	PropObjectType                PropertyID = 79
	PropOptional                  PropertyID = 80
	PropOutOfService              PropertyID = 81
	PropPresentValue              PropertyID = 85
	PropPriorityArray             PropertyID = 87
	PropProtocolObjectTypesSupp   PropertyID = 96
	PropProtocolServicesSupported PropertyID = 97
	PropProtocolVersion           PropertyID = 98
	PropReliability               PropertyID = 103
	PropRelinquishDefault         PropertyID = 104
	PropRequired                  PropertyID = 105
	PropSegmentationSupported     PropertyID = 107
	PropStateText                 PropertyID = 110
	PropStatusFlags               PropertyID = 111
	PropSystemStatus              PropertyID = 112
	PropUnits                     PropertyID = 117
	PropVendorIdentifier          PropertyID = 120
	PropVendorName                PropertyID = 121
	PropProtocolRevision          PropertyID = 139
	PropDatabaseRevision          PropertyID = 155
	PropPropertyList              PropertyID = 371
	// MaxPropertyID is the largest identifier the 22-bit field holds.
	MaxPropertyID PropertyID = 4194303
)

var propertyNames = map[PropertyID]string{
	0: "acked-transitions", 1: "ack-required", 2: "action", 3: "action-text", 4: "active-text",
	5: "active-vt-sessions", 6: "alarm-value", 7: "alarm-values", 8: "all",
	9: "all-writes-successful", 10: "apdu-segment-timeout", 11: "apdu-timeout",
	12: "application-software-version", 13: "archive", 14: "bias", 15: "change-of-state-count",
	16: "change-of-state-time", 17: "notification-class", 19: "controlled-variable-reference",
	20: "controlled-variable-units", 21: "controlled-variable-value", 22: "cov-increment",
	23: "date-list", 24: "daylight-savings-status", 25: "deadband", 26: "derivative-constant",
	27: "derivative-constant-units", 28: "description", 29: "description-of-halt",
	30: "device-address-binding", 31: "device-type", 32: "effective-period",
	33: "elapsed-active-time", 34: "error-limit", 35: "event-enable", 36: "event-state",
	37: "event-type", 38: "exception-schedule", 39: "fault-values", 40: "feedback-value",
	41: "file-access-method", 42: "file-size", 43: "file-type", 44: "firmware-revision",
	45: "high-limit", 46: "inactive-text", 47: "in-process", 48: "instance-of",
	49: "integral-constant", 50: "integral-constant-units", 52: "limit-enable",
	53: "list-of-group-members", 54: "list-of-object-property-references", 56: "local-date",
	57: "local-time", 58: "location", 59: "low-limit", 60: "manipulated-variable-reference",
	61: "maximum-output", 62: "max-apdu-length-accepted", 63: "max-info-frames",
	64: "max-master", 65: "max-pres-value", 66: "minimum-off-time", 67: "minimum-on-time",
	68: "minimum-output", 69: "min-pres-value", 70: "model-name", 71: "modification-date",
	72: "notify-type", 73: "number-of-apdu-retries", 74: "number-of-states",
	75: "object-identifier", 76: "object-list", 77: "object-name",
	78: "object-property-reference", 79: "object-type", 80: "optional", 81: "out-of-service",
	82: "output-units", 83: "event-parameters", 84: "polarity", 85: "present-value",
	86: "priority", 87: "priority-array", 88: "priority-for-writing", 89: "process-identifier",
	90: "program-change", 91: "program-location", 92: "program-state",
	93: "proportional-constant", 94: "proportional-constant-units",
	96: "protocol-object-types-supported", 97: "protocol-services-supported",
	98: "protocol-version", 99: "read-only", 100: "reason-for-halt", 102: "recipient-list",
	103: "reliability", 104: "relinquish-default", 105: "required", 106: "resolution",
	107: "segmentation-supported", 108: "setpoint", 109: "setpoint-reference",
	110: "state-text", 111: "status-flags", 112: "system-status", 113: "time-delay",
	114: "time-of-active-time-reset", 115: "time-of-state-count-reset",
	116: "time-synchronization-recipients", 117: "units", 118: "update-interval",
	119: "utc-offset", 120: "vendor-identifier", 121: "vendor-name", 122: "vt-classes-supported",
	123: "weekly-schedule", 124: "attempted-samples", 125: "average-value", 126: "buffer-size",
	127: "client-cov-increment", 128: "cov-resubscription-interval", 130: "event-time-stamps",
	131: "log-buffer", 132: "log-device-object-property", 133: "enable", 134: "log-interval",
	135: "maximum-value", 136: "minimum-value", 137: "notification-threshold",
	139: "protocol-revision", 140: "records-since-notification", 141: "record-count",
	142: "start-time", 143: "stop-time", 144: "stop-when-full", 145: "total-record-count",
	146: "valid-samples", 147: "window-interval", 148: "window-samples",
	149: "maximum-value-timestamp", 150: "minimum-value-timestamp", 151: "variance-value",
	152: "active-cov-subscriptions", 153: "backup-failure-timeout", 154: "configuration-files",
	155: "database-revision", 156: "direct-reading", 157: "last-restore-time",
	158: "maintenance-required", 159: "member-of", 160: "mode", 161: "operation-expected",
	162: "setting", 163: "silenced", 164: "tracking-value", 165: "zone-members",
	166: "life-safety-alarm-values", 167: "max-segments-accepted", 168: "profile-name",
	371: "property-list",
}

var propertyIndex = index(propertyNames)

func (p PropertyID) String() string { return enumString(propertyNames, p) }

// ParsePropertyID parses "present-value", "presentValue" or "85".
func ParsePropertyID(s string) (PropertyID, error) {
	return enumParse("property", propertyIndex, s, uint64(MaxPropertyID))
}

// ErrorClass is BACnetErrorClass.
type ErrorClass uint32

// Error classes.
const (
	ErrorClassDevice        ErrorClass = 0
	ErrorClassObject        ErrorClass = 1
	ErrorClassProperty      ErrorClass = 2
	ErrorClassResources     ErrorClass = 3
	ErrorClassSecurity      ErrorClass = 4
	ErrorClassServices      ErrorClass = 5
	ErrorClassVT            ErrorClass = 6
	ErrorClassCommunication ErrorClass = 7
)

var errorClassNames = map[ErrorClass]string{0: "device", 1: "object", 2: "property",
	3: "resources", 4: "security", 5: "services", 6: "vt", 7: "communication"}

var errorClassIndex = index(errorClassNames)

func (c ErrorClass) String() string { return enumString(errorClassNames, c) }

// ParseErrorClass parses an error class name or number.
func ParseErrorClass(s string) (ErrorClass, error) {
	return enumParse("error class", errorClassIndex, s, 65535)
}

// ErrorCode is BACnetErrorCode.
type ErrorCode uint32

// Error codes this stack sends or acts on.
const (
	ErrorCodeOther                   ErrorCode = 0
	ErrorCodeConfigurationInProgress ErrorCode = 2
	ErrorCodeDeviceBusy              ErrorCode = 3
	ErrorCodeInconsistentParameters  ErrorCode = 7
	ErrorCodeInvalidDataType         ErrorCode = 9
	ErrorCodeMissingRequiredParam    ErrorCode = 16
	ErrorCodeNoSpaceForObject        ErrorCode = 18
	ErrorCodeOperationalProblem      ErrorCode = 25
	ErrorCodeReadAccessDenied        ErrorCode = 27
	ErrorCodeServiceRequestDenied    ErrorCode = 29
	ErrorCodeTimeout                 ErrorCode = 30
	ErrorCodeUnknownObject           ErrorCode = 31
	ErrorCodeUnknownProperty         ErrorCode = 32
	ErrorCodeValueOutOfRange         ErrorCode = 37
	ErrorCodeWriteAccessDenied       ErrorCode = 40
	ErrorCodeInvalidArrayIndex       ErrorCode = 42
	ErrorCodeCOVSubscriptionFailed   ErrorCode = 43
	ErrorCodeNotCOVProperty          ErrorCode = 44
	ErrorCodeOptionalNotSupported    ErrorCode = 45
	ErrorCodePropertyIsNotAnArray    ErrorCode = 50
	// The abort-* and reject-* codes report an abort or reject reason in
	// an Error PDU, which some stacks send instead of the Abort or Reject.
	ErrorCodeAbortBufferOverflow      ErrorCode = 51
	ErrorCodeAbortSegmentationNotSupp ErrorCode = 54
	ErrorCodeRejectBufferOverflow     ErrorCode = 59
	ErrorCodeRejectUnrecognizedSvc    ErrorCode = 67
	ErrorCodeAbortAPDUTooLong         ErrorCode = 123
)

var errorCodeNames = map[ErrorCode]string{
	0: "other", 1: "authentication-failed", 2: "configuration-in-progress", 3: "device-busy",
	4: "dynamic-creation-not-supported", 5: "file-access-denied",
	6: "incompatible-security-levels", 7: "inconsistent-parameters",
	8: "inconsistent-selection-criterion", 9: "invalid-data-type",
	10: "invalid-file-access-method", 11: "invalid-file-start-position",
	12: "invalid-operator-name", 13: "invalid-parameter-data-type", 14: "invalid-time-stamp",
	15: "key-generation-error", 16: "missing-required-parameter",
	17: "no-objects-of-specified-type", 18: "no-space-for-object",
	19: "no-space-to-add-list-element", 20: "no-space-to-write-property",
	21: "no-vt-sessions-available", 22: "property-is-not-a-list",
	23: "object-deletion-not-permitted", 24: "object-identifier-already-exists",
	25: "operational-problem", 26: "password-failure", 27: "read-access-denied",
	28: "security-not-supported", 29: "service-request-denied", 30: "timeout",
	31: "unknown-object", 32: "unknown-property", 34: "unknown-vt-class",
	35: "unknown-vt-session", 36: "unsupported-object-type", 37: "value-out-of-range",
	38: "vt-session-already-closed", 39: "vt-session-termination-failure",
	40: "write-access-denied", 41: "character-set-not-supported", 42: "invalid-array-index",
	43: "cov-subscription-failed", 44: "not-cov-property",
	45: "optional-functionality-not-supported", 46: "invalid-configuration-data",
	47: "datatype-not-supported", 48: "duplicate-name", 49: "duplicate-object-id",
	50: "property-is-not-an-array", 51: "abort-buffer-overflow",
	52: "abort-invalid-apdu-in-this-state", 53: "abort-preempted-by-higher-priority-task",
	54: "abort-segmentation-not-supported", 55: "abort-proprietary", 56: "abort-other",
	59: "reject-buffer-overflow", 60: "reject-inconsistent-parameters",
	61: "reject-invalid-parameter-data-type", 62: "reject-invalid-tag",
	63: "reject-missing-required-parameter", 64: "reject-parameter-out-of-range",
	65: "reject-too-many-arguments", 66: "reject-undefined-enumeration",
	67: "reject-unrecognized-service", 68: "reject-proprietary", 69: "reject-other",
	123: "abort-apdu-too-long", 124: "abort-application-exceeded-reply-time",
	125: "abort-out-of-resources", 126: "abort-tsm-timeout", 127: "abort-window-size-out-of-range",
}

var errorCodeIndex = index(errorCodeNames)

func (c ErrorCode) String() string { return enumString(errorCodeNames, c) }

// ParseErrorCode parses an error code name or number.
func ParseErrorCode(s string) (ErrorCode, error) {
	return enumParse("error code", errorCodeIndex, s, 65535)
}

// RejectReason is BACnetRejectReason.
type RejectReason uint32

// Reject reasons.
const (
	RejectOther                    RejectReason = 0
	RejectBufferOverflow           RejectReason = 1
	RejectInconsistentParameters   RejectReason = 2
	RejectInvalidParameterDataType RejectReason = 3
	RejectInvalidTag               RejectReason = 4
	RejectMissingRequiredParameter RejectReason = 5
	RejectParameterOutOfRange      RejectReason = 6
	RejectTooManyArguments         RejectReason = 7
	RejectUndefinedEnumeration     RejectReason = 8
	RejectUnrecognizedService      RejectReason = 9
)

var rejectNames = map[RejectReason]string{0: "other", 1: "buffer-overflow",
	2: "inconsistent-parameters", 3: "invalid-parameter-data-type", 4: "invalid-tag",
	5: "missing-required-parameter", 6: "parameter-out-of-range", 7: "too-many-arguments",
	8: "undefined-enumeration", 9: "unrecognized-service"}

var rejectIndex = index(rejectNames)

func (r RejectReason) String() string { return enumString(rejectNames, r) }

// ParseRejectReason parses a reject reason name or number.
func ParseRejectReason(s string) (RejectReason, error) {
	return enumParse("reject reason", rejectIndex, s, 255)
}

// AbortReason is BACnetAbortReason.
type AbortReason uint32

// Abort reasons.
const (
	AbortOther                    AbortReason = 0
	AbortBufferOverflow           AbortReason = 1
	AbortInvalidAPDUInThisState   AbortReason = 2
	AbortPreemptedByHigherPrio    AbortReason = 3
	AbortSegmentationNotSupported AbortReason = 4
	AbortSecurityError            AbortReason = 5
	AbortInsufficientSecurity     AbortReason = 6
	AbortWindowSizeOutOfRange     AbortReason = 7
	AbortApplicationExceededReply AbortReason = 8
	AbortOutOfResources           AbortReason = 9
	AbortTSMTimeout               AbortReason = 10
	AbortAPDUTooLong              AbortReason = 11
)

var abortNames = map[AbortReason]string{0: "other", 1: "buffer-overflow",
	2: "invalid-apdu-in-this-state", 3: "preempted-by-higher-priority-task",
	4: "segmentation-not-supported", 5: "security-error", 6: "insufficient-security",
	7: "window-size-out-of-range", 8: "application-exceeded-reply-time",
	9: "out-of-resources", 10: "tsm-timeout", 11: "apdu-too-long"}

var abortIndex = index(abortNames)

func (r AbortReason) String() string { return enumString(abortNames, r) }

// ParseAbortReason parses an abort reason name or number.
func ParseAbortReason(s string) (AbortReason, error) {
	return enumParse("abort reason", abortIndex, s, 255)
}

// Segmentation is BACnetSegmentation, what a device says it supports.
type Segmentation uint32

// Segmentation support.
const (
	SegmentedBoth     Segmentation = 0
	SegmentedTransmit Segmentation = 1
	SegmentedReceive  Segmentation = 2
	NoSegmentation    Segmentation = 3
)

var segmentationNames = map[Segmentation]string{0: "segmented-both",
	1: "segmented-transmit", 2: "segmented-receive", 3: "no-segmentation"}

var segmentationIndex = index(segmentationNames)

func (s Segmentation) String() string { return enumString(segmentationNames, s) }

// ParseSegmentation parses a segmentation name or number.
func ParseSegmentation(s string) (Segmentation, error) {
	return enumParse("segmentation", segmentationIndex, s, 3)
}

// CanTransmit reports whether a device with this support sends segmented
// messages (so it can answer us with a segmented ComplexACK).
func (s Segmentation) CanTransmit() bool { return s == SegmentedBoth || s == SegmentedTransmit }

// EventState is BACnetEventState.
type EventState uint32

// Event states.
const (
	EventNormal    EventState = 0
	EventFault     EventState = 1
	EventOffnormal EventState = 2
	EventHighLimit EventState = 3
	EventLowLimit  EventState = 4
)

var eventStateNames = map[EventState]string{0: "normal", 1: "fault", 2: "offnormal",
	3: "high-limit", 4: "low-limit", 5: "life-safety-alarm"}

var eventStateIndex = index(eventStateNames)

func (s EventState) String() string { return enumString(eventStateNames, s) }

// ParseEventState parses an event state name or number.
func ParseEventState(s string) (EventState, error) {
	return enumParse("event state", eventStateIndex, s, 65535)
}

// Reliability is BACnetReliability.
type Reliability uint32

// Reliability values.
const (
	NoFaultDetected      Reliability = 0
	NoSensor             Reliability = 1
	UnreliableOther      Reliability = 7
	ConfigurationError   Reliability = 10
	CommunicationFailure Reliability = 12
)

var reliabilityNames = map[Reliability]string{0: "no-fault-detected", 1: "no-sensor",
	2: "over-range", 3: "under-range", 4: "open-loop", 5: "shorted-loop", 6: "no-output",
	7: "unreliable-other", 8: "process-error", 9: "multi-state-fault",
	10: "configuration-error", 12: "communication-failure", 13: "member-fault",
	14: "monitored-object-fault", 15: "tripped", 16: "lamp-failure", 17: "activation-failure",
	18: "renew-dhcp-failure", 19: "renew-fd-registration-failure",
	20: "restart-auto-negotiation-failure", 21: "restart-failure",
	22: "proprietary-command-failure", 23: "faults-listed", 24: "referenced-object-fault"}

var reliabilityIndex = index(reliabilityNames)

func (r Reliability) String() string { return enumString(reliabilityNames, r) }

// ParseReliability parses a reliability name or number.
func ParseReliability(s string) (Reliability, error) {
	return enumParse("reliability", reliabilityIndex, s, 65535)
}

// DeviceStatus is BACnetDeviceStatus (the Device object's system-status).
type DeviceStatus uint32

// Device statuses.
const (
	StatusOperational         DeviceStatus = 0
	StatusOperationalReadOnly DeviceStatus = 1
	StatusNonOperational      DeviceStatus = 4
)

var deviceStatusNames = map[DeviceStatus]string{0: "operational", 1: "operational-read-only",
	2: "download-required", 3: "download-in-progress", 4: "non-operational",
	5: "backup-in-progress"}

var deviceStatusIndex = index(deviceStatusNames)

func (s DeviceStatus) String() string { return enumString(deviceStatusNames, s) }

// ParseDeviceStatus parses a device status name or number.
func ParseDeviceStatus(s string) (DeviceStatus, error) {
	return enumParse("device status", deviceStatusIndex, s, 65535)
}

// Units is BACnetEngineeringUnits. Names cover the units a building
// gateway meets daily; others print as numbers.
type Units uint32

// Units used by name in this package.
const (
	UnitsNoUnits        Units = 95
	UnitsDegreesCelsius Units = 62
	UnitsPercent        Units = 98
)

var unitNames = map[Units]string{
	2: "milliamperes", 3: "amperes", 5: "volts", 6: "kilovolts", 9: "kilovolt-amperes",
	12: "kilovolt-amperes-reactive", 14: "degrees-phase", 15: "power-factor", 18: "watt-hours",
	19: "kilowatt-hours", 27: "hertz", 29: "percent-relative-humidity", 37: "luxes",
	39: "kilograms", 47: "watts", 48: "kilowatts", 53: "pascals", 54: "kilopascals", 55: "bars",
	62: "degrees-celsius", 63: "degrees-kelvin", 64: "degrees-fahrenheit", 71: "hours",
	72: "minutes", 73: "seconds", 74: "meters-per-second", 80: "cubic-meters", 82: "liters",
	85: "cubic-meters-per-second", 87: "liters-per-second", 88: "liters-per-minute",
	95: "no-units", 96: "parts-per-million", 98: "percent", 104: "revolutions-per-minute",
	121: "delta-degrees-kelvin", 124: "millivolts", 135: "cubic-meters-per-hour",
	136: "liters-per-hour", 146: "megawatt-hours",
}

var unitIndex = index(unitNames)

func (u Units) String() string { return enumString(unitNames, u) }

// ParseUnits parses a unit name ("degrees-celsius") or number ("62").
func ParseUnits(s string) (Units, error) { return enumParse("units", unitIndex, s, 65535) }

// Symbol is the short form the site file and console use ("degC"), or ""
// where there is no common one.
func (u Units) Symbol() string {
	switch u {
	case 2:
		return "mA"
	case 3:
		return "A"
	case 5:
		return "V"
	case 6:
		return "kV"
	case 9:
		return "kVA"
	case 12:
		return "kvar"
	case 18:
		return "Wh"
	case 19:
		return "kWh"
	case 27:
		return "Hz"
	case 29:
		return "%RH"
	case 37:
		return "lx"
	case 47:
		return "W"
	case 48:
		return "kW"
	case 53:
		return "Pa"
	case 54:
		return "kPa"
	case 55:
		return "bar"
	case 62:
		return "degC"
	case 63:
		return "K"
	case 64:
		return "degF"
	case 73:
		return "s"
	case 96:
		return "ppm"
	case 98:
		return "%"
	case 104:
		return "rpm"
	case 135:
		return "m3/h"
	case 146:
		return "MWh"
	}
	return ""
}

// StatusFlags is BACnetStatusFlags: four bits, in-alarm, fault,
// overridden, out-of-service (clause 12, Status_Flags).
type StatusFlags struct {
	InAlarm, Fault, Overridden, OutOfService bool
}

// DecodeStatusFlags reads the flags from their bit string; missing bits
// are false.
func DecodeStatusFlags(bs BitString) StatusFlags {
	return StatusFlags{InAlarm: bs.Bit(0), Fault: bs.Bit(1), Overridden: bs.Bit(2), OutOfService: bs.Bit(3)}
}

// BitString encodes the flags as the four-bit string.
func (f StatusFlags) BitString() BitString {
	bs := NewBitString(4)
	bs.Set(0, f.InAlarm)
	bs.Set(1, f.Fault)
	bs.Set(2, f.Overridden)
	bs.Set(3, f.OutOfService)
	return bs
}

func (f StatusFlags) String() string {
	var parts []string
	if f.InAlarm {
		parts = append(parts, "in-alarm")
	}
	if f.Fault {
		parts = append(parts, "fault")
	}
	if f.Overridden {
		parts = append(parts, "overridden")
	}
	if f.OutOfService {
		parts = append(parts, "out-of-service")
	}
	if len(parts) == 0 {
		return "normal"
	}
	return strings.Join(parts, ",")
}

// ObjectID is BACnetObjectIdentifier: a type and a 22-bit instance.
type ObjectID struct {
	Type     ObjectType
	Instance uint32
}

// MaxInstance is the largest object instance; it also means "unknown
// instance" (4194303) in a Who-Is or a Device object reference.
const MaxInstance = 1<<22 - 1

// DecodeObjectID splits the 32-bit encoded form.
func DecodeObjectID(u uint32) ObjectID {
	return ObjectID{Type: ObjectType(u >> 22), Instance: u & MaxInstance}
}

// Encode packs the identifier, refusing out-of-range parts.
func (o ObjectID) Encode() (uint32, error) {
	if o.Type > MaxObjectType || o.Instance > MaxInstance {
		return 0, fmt.Errorf("object %d:%d does not fit 10+22 bits: %w", o.Type, o.Instance, ErrRange)
	}
	return uint32(o.Type)<<22 | o.Instance, nil
}

func (o ObjectID) String() string {
	return o.Type.String() + ":" + strconv.FormatUint(uint64(o.Instance), 10)
}

// ParseObjectID parses "analog-input:1" or "0:1" (the site file's form).
func ParseObjectID(s string) (ObjectID, error) {
	t, i, ok := strings.Cut(s, ":")
	if !ok {
		return ObjectID{}, fmt.Errorf("object %q: want TYPE:INSTANCE such as analog-input:1: %w", s, ErrRange)
	}
	typ, err := ParseObjectType(t)
	if err != nil {
		return ObjectID{}, fmt.Errorf("object %q: %w", s, err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(i), 10, 32)
	if err != nil || n > MaxInstance {
		return ObjectID{}, fmt.Errorf("object %q: instance must be 0..%d: %w", s, MaxInstance, ErrRange)
	}
	return ObjectID{Type: typ, Instance: uint32(n)}, nil
}

// ConfirmedService is BACnetConfirmedServiceChoice.
type ConfirmedService uint8

// Confirmed services.
const (
	ServiceConfirmedCOVNotification ConfirmedService = 1
	ServiceSubscribeCOV             ConfirmedService = 5
	ServiceReadProperty             ConfirmedService = 12
	ServiceReadPropertyMultiple     ConfirmedService = 14
	ServiceWriteProperty            ConfirmedService = 15
	ServiceWritePropertyMultiple    ConfirmedService = 16
)

var confirmedNames = map[ConfirmedService]string{0: "acknowledge-alarm",
	1: "confirmed-cov-notification", 2: "confirmed-event-notification",
	3: "get-alarm-summary", 4: "get-enrollment-summary", 5: "subscribe-cov",
	6: "atomic-read-file", 7: "atomic-write-file", 8: "add-list-element",
	9: "remove-list-element", 10: "create-object", 11: "delete-object", 12: "read-property",
	14: "read-property-multiple", 15: "write-property", 16: "write-property-multiple",
	17: "device-communication-control", 18: "confirmed-private-transfer",
	19: "confirmed-text-message", 20: "reinitialize-device", 26: "read-range",
	27: "life-safety-operation", 28: "subscribe-cov-property", 29: "get-event-information"}

func (s ConfirmedService) String() string {
	if n, ok := confirmedNames[s]; ok {
		return n
	}
	return strconv.Itoa(int(s))
}

// UnconfirmedService is BACnetUnconfirmedServiceChoice.
type UnconfirmedService uint8

// Unconfirmed services.
const (
	ServiceIAm                        UnconfirmedService = 0
	ServiceIHave                      UnconfirmedService = 1
	ServiceUnconfirmedCOVNotification UnconfirmedService = 2
	ServiceTimeSynchronization        UnconfirmedService = 6
	ServiceWhoHas                     UnconfirmedService = 7
	ServiceWhoIs                      UnconfirmedService = 8
)

var unconfirmedNames = map[UnconfirmedService]string{0: "i-am", 1: "i-have",
	2: "unconfirmed-cov-notification", 3: "unconfirmed-event-notification",
	4: "unconfirmed-private-transfer", 5: "unconfirmed-text-message",
	6: "time-synchronization", 7: "who-has", 8: "who-is", 9: "utc-time-synchronization",
	10: "write-group"}

func (s UnconfirmedService) String() string {
	if n, ok := unconfirmedNames[s]; ok {
		return n
	}
	return strconv.Itoa(int(s))
}
