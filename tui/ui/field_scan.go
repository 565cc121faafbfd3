package ui

import (
	"fmt"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/tui/internal/format"
	"github.com/sitegate/sitegate/tui/ui/common"
)

// Add from scan: the units a bus scan found, not yet in the site, each
// with a name and a profile to pick — guessed from what the unit says of
// itself (function 43 identification) where it answers — saved all at
// once as one revision.

// skipUnit is the add-from-scan form's choice of not adding a unit.
const skipUnit = "skip (do not add)"

// openAddFound opens the form for the units of the last scan that no
// device of the site uses yet.
func (m *fieldScreen) openAddFound() tea.Cmd {
	site := m.base.Site
	bus, ok := site.Modbus.FindBus(m.scan.bus)
	if !ok {
		return common.FlashErr(fmt.Errorf("bus %s is no longer in the site", m.scan.bus))
	}
	m.found = m.found[:0]
	var specs []common.FieldSpec
	var inUse []string
	taken := map[string]bool{}
	for _, f := range m.scan.found {
		if who, used := site.UnitUser(bus, f.ID); used {
			inUse = append(inUse, fmt.Sprintf("%d (%s)", f.ID, who))
			continue
		}
		guess := site.GuessProfile(f.Vendor, f.Model)
		name := m.guessName(guess, bus.Name, f.ID, taken)
		taken[name] = true
		choice := skipUnit
		if guess != "" {
			choice = guess
		}
		id := strings.TrimSpace(f.Vendor + " " + f.Model)
		if id == "" {
			id = "no identification"
		}
		specs = append(specs,
			common.FieldSpec{Label: fmt.Sprintf("Unit %d name", f.ID), Value: name, Limit: device.MaxNameLength, Note: id},
			common.FieldSpec{Label: fmt.Sprintf("Unit %d profile", f.ID), Value: choice, Options: append([]string{skipUnit}, site.ProfileNames()...)})
		m.found = append(m.found, f)
	}
	if len(m.found) == 0 {
		return common.Flash("Every unit found is already a device of the site: " + strings.Join(inUse, ", ") + ".")
	}
	m.form = common.NewForm(m.s.Styles, "Add them (one revision)", specs...)
	m.formKind, m.editing, m.mode = formAddFound, m.scan.bus, fieldForm
	if len(inUse) > 0 {
		return common.Flash("Already devices of the site, so not offered: units " + strings.Join(inUse, ", ") + ".")
	}
	return nil
}

// guessName names a unit found: after its profile (or the bus) and its
// unit id, unique in the site and among the names offered.
func (m *fieldScreen) guessName(profile, bus string, unit int, taken map[string]bool) string {
	base := bus
	if profile != "" {
		base = profile
	}
	name := fmt.Sprintf("%s-%d", base, unit)
	if len(name) > device.MaxNameLength {
		name = fmt.Sprintf("unit-%d", unit)
	}
	for i := 2; taken[name]; i++ {
		name = fmt.Sprintf("%s-%d-%d", base, unit, i)
	}
	return m.freeName(name)
}

// submitAddFound adds every unit not skipped, as one revision; every
// problem (a name taken, an invalid name) is shown at once and nothing is
// saved then.
func (m *fieldScreen) submitAddFound() tea.Cmd {
	next := m.base.Site.Clone()
	var probs common.Problems
	var added []string
	for i, f := range m.found {
		name := strings.TrimSpace(m.form.Value(2 * i))
		profile := m.form.Value(2*i + 1)
		if profile == skipUnit {
			continue
		}
		d := device.Device{Name: name, Bus: m.editing, UnitID: f.ID, Interval: device.DefaultPollInterval, Profile: profile}
		if err := next.AddDevice(d); err != nil {
			probs = append(probs, "unit "+strconv.Itoa(f.ID)+": "+err.Error())
			continue
		}
		added = append(added, name)
	}
	switch {
	case len(probs) > 0:
		m.form.SetError(probs.Text())
		return nil
	case len(added) == 0:
		m.form.SetError("every unit is skipped: pick a profile for the units to add")
		return nil
	}
	text, ok := m.applyForm(next, fmt.Sprintf("added %s (%s)", format.Count(len(added), "device"), strings.Join(added, ", ")))
	if !ok {
		return nil
	}
	m.mode = fieldTree
	m.show(added[0])
	return common.Flash(common.Clip(text, 200))
}
