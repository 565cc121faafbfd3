package device

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// ErrRevertConflict means a change cannot be reverted because a later change
// touched the same settings.
var ErrRevertConflict = errors.New("a later change touched the same settings")

// RevertConflictError names the settings a revert would overwrite.
type RevertConflictError struct {
	Paths []string // settings changed by the change to revert and again since
}

func (e *RevertConflictError) Error() string {
	return fmt.Sprintf("cannot revert: %v since (%s); change them back by hand", ErrRevertConflict, strings.Join(e.Paths, ", "))
}

// Is makes errors.Is(err, ErrRevertConflict) true.
func (e *RevertConflictError) Is(target error) bool { return target == ErrRevertConflict }

// RevertChange undoes the change that turned before into after, and only
// that change: every setting it changed goes back to its old value, while
// changes other people made since (to other settings) stay. If a later
// change touched a setting this change changed, nothing is applied and a
// *RevertConflictError names the settings. Settings of a radio that was
// disabled for good since are left alone (the radio is off, so they cannot
// cut anyone off, and re-enabling it needs physical access). The revert is
// stored through ApplySite like every other change.
func (g *Gateway) RevertChange(actor Actor, action Action, before, after *Site) (Change, error) {
	for attempt := 0; ; attempt++ {
		current, rev := g.Site()
		reverted, err := revertSite(before, after, current)
		if err != nil {
			return Change{Rev: rev}, err
		}
		ch, err := g.ApplySite(Edit{Actor: actor, Action: action, Base: rev}, reverted)
		if errors.Is(err, ErrStale) && attempt < 3 {
			continue // someone saved in between: compute the revert again
		}
		return ch, err
	}
}

// revertSite computes current with before→after undone.
func revertSite(before, after, current *Site) (*Site, error) {
	b, a, c := siteMap(before), siteMap(after), siteMap(current)
	changed := map[string]bool{}
	for _, p := range leafPaths(b, a) {
		changed[p] = true
	}
	var conflicts []string
	var apply []string
	for p := range changed {
		if radioLocked(p, current) {
			continue
		}
		av, _ := lookupPath(a, p)
		cv, _ := lookupPath(c, p)
		if !reflect.DeepEqual(av, cv) {
			conflicts = append(conflicts, p)
			continue
		}
		apply = append(apply, p)
	}
	if len(conflicts) > 0 {
		slices.Sort(conflicts)
		return nil, &RevertConflictError{Paths: conflicts}
	}
	for _, p := range apply {
		if bv, ok := lookupPath(b, p); ok {
			setPath(c, p, bv)
		} else {
			deletePath(c, p)
		}
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var out Site
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("revert: %w", err)
	}
	return &out, nil
}

// radioLocked reports whether path belongs to a radio that current has
// disabled for good.
func radioLocked(path string, current *Site) bool {
	switch {
	case strings.HasPrefix(path, "wifi."):
		return current.WiFi.PermanentlyDisabled
	case strings.HasPrefix(path, "lora."):
		return current.LoRa.PermanentlyDisabled
	}
	return false
}

func siteMap(s *Site) map[string]any {
	raw, _ := json.Marshal(s)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if m == nil {
		m = map[string]any{}
	}
	return m
}

// leafPaths lists the dotted paths whose values differ between a and b:
// objects are walked, anything else (lists included) is a leaf.
func leafPaths(a, b map[string]any) []string {
	var out []string
	var walk func(prefix string, x, y map[string]any)
	walk = func(prefix string, x, y map[string]any) {
		keys := map[string]bool{}
		for k := range x {
			keys[k] = true
		}
		for k := range y {
			keys[k] = true
		}
		for k := range keys {
			xv, xok := x[k]
			yv, yok := y[k]
			xm, xIsMap := xv.(map[string]any)
			ym, yIsMap := yv.(map[string]any)
			switch {
			case xok && yok && xIsMap && yIsMap:
				walk(prefix+k+".", xm, ym)
			case !reflect.DeepEqual(xv, yv) || xok != yok:
				out = append(out, prefix+k)
			}
		}
	}
	walk("", a, b)
	slices.Sort(out)
	return out
}

func lookupPath(m map[string]any, path string) (any, bool) {
	parts := strings.Split(path, ".")
	var cur any = m
	for _, p := range parts {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = mm[p]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

func setPath(m map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[parts[len(parts)-1]] = v
}

func deletePath(m map[string]any, path string) {
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			return
		}
		m = next
	}
	delete(m, parts[len(parts)-1])
}
