package ui

import (
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// The field tree at scale: hundreds of devices with dozens of points each.
// Nodes fold (a large site starts with its devices folded), the find field
// narrows the tree to the devices and points whose names contain what is
// typed, and the cursor moves by line, by page and to either end.

// Bounds of the field tree.
const (
	// autoFoldDevices: a site with more devices starts with every device
	// folded, so that the tree shows buses and devices first.
	autoFoldDevices = 12
	// findLimit bounds what the find field takes.
	findLimit = 64
)

// key names a node that folds, for the fold state ("" for points).
func (n node) key() string {
	switch n.kind {
	case nodeProtocol:
		return "p/" + n.proto.String()
	case nodeBus:
		return "b/" + n.proto.String() + "/" + n.bus
	case nodeDevice:
		return "d/" + n.dev
	}
	return ""
}

// folded reports whether n is folded: as set, else a device follows
// foldDevices.
func (m *fieldScreen) folded(n node) bool {
	if f, ok := m.fold[n.key()]; ok {
		return f
	}
	return n.kind == nodeDevice && m.foldDevices
}

// rebuild lays out the nodes shown: with a find text, the devices and
// points whose names contain it (and the buses and protocols above them),
// whatever is folded; without one, every node not under a folded one. The
// cursor stays on keep when it is still shown, else on its device or bus.
func (m *fieldScreen) rebuild(keep node) {
	m.nodes = m.nodes[:0]
	if needle := strings.ToLower(strings.TrimSpace(m.find.Value())); needle != "" {
		m.nodes = append(m.nodes, findNodes(m.all, needle)...)
	} else {
		var protoFolded, busFolded, devFolded bool
		for _, n := range m.all {
			switch n.kind {
			case nodeProtocol:
				protoFolded, busFolded, devFolded = m.folded(n), false, false
				m.nodes = append(m.nodes, n)
				continue
			case nodeBus:
				busFolded, devFolded = m.folded(n), false
				if protoFolded {
					continue
				}
			case nodeDevice:
				devFolded = m.folded(n)
				if protoFolded || busFolded {
					continue
				}
			case nodePoint:
				if protoFolded || busFolded || devFolded {
					continue
				}
			}
			m.nodes = append(m.nodes, n)
		}
	}
	for _, cand := range []node{keep, {kind: nodeDevice, proto: keep.proto, bus: keep.bus, dev: keep.dev}, {kind: nodeBus, proto: keep.proto, bus: keep.bus}} {
		if i := slices.Index(m.nodes, cand); i >= 0 {
			m.cursor = i
			m.scrollToCursor()
			return
		}
	}
	m.cursor = min(m.cursor, max(len(m.nodes)-1, 0))
	m.scrollToCursor()
}

// findNodes keeps the devices and points whose names contain needle, every
// device of a bus whose name contains it, and the nodes above each.
func findNodes(all []node, needle string) []node {
	keep := make([]bool, len(all))
	match := func(s string) bool { return strings.Contains(strings.ToLower(s), needle) }
	var proto, bus, dev int
	busMatch, devMatch := false, false
	for i, n := range all {
		switch n.kind {
		case nodeProtocol:
			proto = i
		case nodeBus:
			bus, busMatch = i, match(n.bus)
			if busMatch {
				keep[proto], keep[i] = true, true
			}
		case nodeDevice:
			dev, devMatch = i, match(n.dev)
			if devMatch || busMatch {
				keep[proto], keep[bus], keep[i] = true, true, true
			}
		case nodePoint:
			if match(n.point) || devMatch {
				keep[proto], keep[bus], keep[dev], keep[i] = true, true, true, true
			}
		}
	}
	var out []node
	for i, k := range keep {
		if k {
			out = append(out, all[i])
		}
	}
	return out
}

// treeRows is how many nodes fit: the title, the find field while a
// find text is shown and, when not every node fits, the line that says
// how many more there are take the rest.
func (m *fieldScreen) treeRows() int {
	rows := m.h - 2
	if m.finding || m.find.Value() != "" {
		rows--
	}
	if len(m.nodes) > rows {
		rows--
	}
	return max(rows, 1)
}

// scrollToCursor keeps the cursor's line visible.
func (m *fieldScreen) scrollToCursor() {
	visible := m.treeRows()
	if m.cursor < m.offset {
		m.offset = m.cursor
	} else if m.cursor >= m.offset+visible {
		m.offset = m.cursor - visible + 1
	}
	m.offset = max(min(m.offset, len(m.nodes)-visible), 0)
}

// navKey moves the cursor or folds; it reports whether k was one of those
// keys.
func (m *fieldScreen) navKey(k tea.KeyPressMsg) bool {
	keys := m.s.Keys
	last := max(len(m.nodes)-1, 0)
	n, ok := m.selected()
	switch {
	case key.Matches(k, keys.Up):
		m.cursor = max(m.cursor-1, 0)
	case key.Matches(k, keys.Down):
		m.cursor = min(m.cursor+1, last)
	case key.Matches(k, keys.PageUp):
		m.cursor = max(m.cursor-m.treeRows(), 0)
	case key.Matches(k, keys.PageDown):
		m.cursor = min(m.cursor+m.treeRows(), last)
	case key.Matches(k, keys.Home):
		m.cursor = 0
	case key.Matches(k, keys.End):
		m.cursor = last
	case key.Matches(k, keys.Fold) && ok:
		if n.kind == nodePoint || m.folded(n) {
			// Up to the node above, folded.
			n = m.parent(n)
		}
		m.fold[n.key()] = true
		m.rebuild(n)
	case key.Matches(k, keys.Unfold) && ok && n.kind != nodePoint:
		m.fold[n.key()] = false
		m.rebuild(n)
	case key.Matches(k, keys.CollapseAll):
		// Devices fold; a second press folds the buses too.
		allFolded := true
		for _, x := range m.all {
			if x.kind == nodeDevice && !m.folded(x) {
				allFolded = false
			}
		}
		for _, x := range m.all {
			if x.kind == nodeDevice || x.kind == nodeBus && allFolded {
				m.fold[x.key()] = true
			}
		}
		if ok && (n.kind == nodePoint || n.kind == nodeDevice && allFolded) {
			n = m.parent(n)
		}
		m.rebuild(n)
	case key.Matches(k, keys.ExpandAll):
		m.foldDevices = false
		clear(m.fold)
		m.rebuild(n)
	default:
		return false
	}
	m.scrollToCursor()
	return true
}

// parent returns the node above n (n itself for a protocol).
func (m *fieldScreen) parent(n node) node {
	switch n.kind {
	case nodePoint:
		return node{kind: nodeDevice, proto: n.proto, bus: n.bus, dev: n.dev}
	case nodeDevice:
		return node{kind: nodeBus, proto: n.proto, bus: n.bus}
	case nodeBus:
		return node{kind: nodeProtocol, proto: n.proto}
	}
	return n
}

// openFind starts typing a find text.
func (m *fieldScreen) openFind() tea.Cmd {
	m.finding = true
	return m.find.Focus()
}

// findKey handles a key while the find field has the keys: enter keeps
// the text and goes to the first device or point it found, esc clears it.
func (m *fieldScreen) findKey(msg tea.Msg) tea.Cmd {
	keep, _ := m.selected()
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch k.String() {
		case "enter":
			m.finding = false
			m.find.Blur()
			for i, n := range m.nodes {
				if n.kind == nodeDevice || n.kind == nodePoint {
					m.cursor = i
					break
				}
			}
			m.scrollToCursor()
			return nil
		case "esc":
			m.finding = false
			m.find.Blur()
			m.find.SetValue("")
			m.rebuild(keep)
			return nil
		case "up", "down":
			m.navKey(k)
			return nil
		}
	}
	var cmd tea.Cmd
	m.find, cmd = m.find.Update(msg)
	m.rebuild(keep)
	return cmd
}
