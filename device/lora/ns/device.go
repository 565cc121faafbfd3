package ns

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sitegate/sitegate/device/lora/lorawan"
)

// Activation is how a device gets its session.
type Activation uint8

// Activations.
const (
	OTAA Activation = iota + 1 // joins with its AppKey
	ABP                        // session keys given
)

// String is the site file's name.
func (a Activation) String() string {
	switch a {
	case OTAA:
		return "otaa"
	case ABP:
		return "abp"
	}
	return fmt.Sprintf("Activation(%d)", uint8(a))
}

// ParseActivation accepts "otaa" or "abp".
func ParseActivation(s string) (Activation, error) {
	switch strings.ToLower(s) {
	case "otaa":
		return OTAA, nil
	case "abp":
		return ABP, nil
	}
	return 0, fmt.Errorf("activation %q: want otaa or abp", s)
}

// Class is a LoRaWAN device class.
type Class uint8

// Classes; only A is served.
const (
	ClassA Class = iota + 1
)

// String is the site file's name.
func (c Class) String() string {
	if c == ClassA {
		return "A"
	}
	return fmt.Sprintf("Class(%d)", uint8(c))
}

// ParseClass accepts "A" (or "a"; "" means A).
func ParseClass(s string) (Class, error) {
	switch strings.ToUpper(s) {
	case "A", "":
		return ClassA, nil
	}
	return 0, fmt.Errorf("class %q: only class A is supported", s)
}

// Device is one end device as the site describes it.
type Device struct {
	Name       string
	DevEUI     lorawan.EUI64
	Activation Activation
	// JoinEUI and AppKey are for OTAA.
	JoinEUI lorawan.EUI64
	AppKey  lorawan.Key
	// DevAddr, NwkSKey and AppSKey are for ABP.
	DevAddr lorawan.DevAddr
	NwkSKey lorawan.Key
	AppSKey lorawan.Key
	// Class is ClassA (the zero value counts as A).
	Class Class
	// Codec names the payload codec; the network server only carries it.
	Codec string
}

// ErrDevices means the device list has problems; the error lists them.
var ErrDevices = errors.New("invalid device list")

// CheckDevices reports every problem of a device list, each naming the
// device by index; nil means none.
func CheckDevices(devs []Device) error {
	var errs []error
	add := func(i int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("devices[%d]: %s", i, fmt.Sprintf(format, args...)))
	}
	names := map[string]int{}
	euis := map[lorawan.EUI64]int{}
	for i, d := range devs {
		if d.Name == "" {
			add(i, "a device needs a name")
		} else if j, dup := names[d.Name]; dup {
			add(i, "name %q is already devices[%d]", d.Name, j)
		} else {
			names[d.Name] = i
		}
		if j, dup := euis[d.DevEUI]; dup {
			add(i, "dev_eui %s is already devices[%d]", d.DevEUI, j)
		}
		euis[d.DevEUI] = i
		switch d.Activation {
		case OTAA:
			if d.AppKey.IsZero() {
				add(i, "an otaa device needs an app_key")
			}
		case ABP:
			if d.NwkSKey.IsZero() || d.AppSKey.IsZero() {
				add(i, "an abp device needs nwk_s_key and app_s_key")
			}
		default:
			add(i, "activation must be otaa or abp")
		}
		if d.Class != 0 && d.Class != ClassA {
			add(i, "only class A is supported")
		}
	}
	if errs == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrDevices, errors.Join(errs...))
}
