package common

import "charm.land/bubbles/v2/key"

// KeyMap is every key of the console, in one place. Screens offer the
// ones that apply (Component.Keys); a letter may mean different things on
// different screens, each with its own binding and help text.
type KeyMap struct {
	// Global.
	Next, Prev, Help, Quit key.Binding
	// Moving and answering.
	Up, Down, Back, Cancel, Yes, No, Reload key.Binding

	// Site.
	Edit, Apply key.Binding
	// Logs.
	AuditToggle, Follow, Filter, ClearFilter key.Binding
	// Field.
	AddBus, Add, Delete, Profile, Lab, Write, Scan key.Binding
	// Field tree: find, fold, page, clone, add from a scan, report.
	Find, CollapseAll, ExpandAll, Fold, Unfold, PageUp, PageDown, Home, End, Clone, AddFound, Report, Pick key.Binding
	// Forms: what the keys do while a form has them.
	FormNext, FormPrev, FormChoice, FormSubmit, FormSave, FormCancel key.Binding
	// Decode lab.
	Left, Right, Save, ReadAgain key.Binding
	// Network.
	MoveUp, MoveDown, Probes, WiFi, Cellular, LoRa, DisableRadio, Confirm, Rollback key.Binding
	// LoRa.
	LoRaPlan key.Binding
	// BACnet in the field tab: discover, objects, pick them, add them.
	Discover, Objects, PickObject, PickAll, AddPicked key.Binding
	// SNMP in the field tab: the walk browser.
	Walk key.Binding
	// Sync.
	TakeCloud, KeepLocal, Cut, Restore key.Binding
	// Users.
	Invite, Role, Lock, Reset2FA key.Binding
	// Profile.
	Password, EnrolTOTP, Theme, Withdraw key.Binding
}

func bind(help, desc string, keys ...string) key.Binding {
	return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
}

// DefaultKeyMap returns the console's keys.
func DefaultKeyMap() *KeyMap {
	return &KeyMap{
		Next: bind("tab", "next screen", "tab"),
		Prev: bind("shift+tab", "previous", "shift+tab"),
		Help: bind("?", "help", "?"),
		Quit: bind("q", "quit", "ctrl+c", "q"),

		Up:     bind("↑/k", "up", "up", "k"),
		Down:   bind("↓/j", "down", "down", "j"),
		Back:   bind("esc", "back", "esc"),
		Cancel: bind("esc", "cancel", "esc"),
		Yes:    bind("y", "yes", "y"),
		No:     bind("n", "no", "n", "esc"),
		// ctrl+r, because a letter would be typed into an open form.
		Reload: bind("ctrl+r", "reload", "ctrl+r"),

		Edit:  bind("e", "edit", "e"),
		Apply: bind("y", "apply", "y"),

		AuditToggle: bind("a", "audit/system", "a"),
		Follow:      bind("f", "follow", "f"),
		Filter:      bind("/", "filter", "/"),
		ClearFilter: bind("esc", "clear filter", "esc"),

		AddBus:  bind("B", "add bus", "B"),
		Add:     bind("a", "add", "a"),
		Delete:  bind("d", "delete", "d"),
		Profile: bind("p", "profile", "p"),
		Lab:     bind("l", "decode lab", "l"),
		Write:   bind("w", "write", "w"),
		Scan:    bind("s", "scan", "s"),

		Find:        bind("/", "find", "/"),
		CollapseAll: bind("-", "collapse all", "-"),
		ExpandAll:   bind("+", "expand all", "+", "="),
		Fold:        bind("←", "collapse", "left"),
		Unfold:      bind("→", "expand", "right"),
		PageUp:      bind("pgup", "page up", "pgup"),
		PageDown:    bind("pgdn", "page down", "pgdown"),
		Home:        bind("home/g", "first", "home", "g"),
		End:         bind("end/G", "last", "end", "G"),
		Clone:       bind("c", "clone device", "c"),
		AddFound:    bind("a", "add the units found", "a"),
		Report:      bind("R", "commissioning report", "R"),
		Pick:        bind("enter", "pick", "enter"),

		FormNext:   bind("tab/↓", "next field", "tab", "down"),
		FormPrev:   bind("shift+tab/↑", "back", "shift+tab", "up"),
		FormChoice: bind("←/→", "choose", "left", "right"),
		FormSubmit: bind("enter", "next/save", "enter"),
		FormSave:   bind("ctrl+s", "save", "ctrl+s"),
		FormCancel: bind("esc", "cancel", "esc"),

		Left:      bind("←/h", "byte order", "left", "h"),
		Right:     bind("→/l", "byte order", "right", "l"),
		Save:      bind("enter", "save to the point", "enter"),
		ReadAgain: bind("r", "read again", "r"),

		MoveUp:       bind("U", "raise priority", "U"),
		MoveDown:     bind("D", "lower priority", "D"),
		Probes:       bind("p", "probes", "p"),
		WiFi:         bind("w", "Wi-Fi", "w"),
		Cellular:     bind("c", "cellular", "c"),
		LoRa:         bind("l", "LoRa", "l"),
		DisableRadio: bind("X", "disable a radio for good", "X"),
		Confirm:      bind("y", "confirm change", "y"),
		Rollback:     bind("n", "roll back now", "n"),

		LoRaPlan: bind("p", "channel plan", "p"),

		Discover:   bind("s", "discover (Who-Is)", "s"),
		Objects:    bind("o", "objects", "o"),
		PickObject: bind("space", "pick", "space"),
		PickAll:    bind("*", "pick all/none", "*"),
		AddPicked:  bind("a", "add to the site", "a"),
		Walk:       bind("o", "walk (pick OIDs)", "o"),

		TakeCloud: bind("c", "take cloud's", "c"),
		KeepLocal: bind("k", "keep local", "k"),
		Cut:       bind("x", "cut demo uplink", "x"),
		Restore:   bind("r", "restore uplink", "r"),

		Invite:   bind("i", "invite", "i"),
		Role:     bind("r", "role", "r"),
		Lock:     bind("l", "lock/unlock", "l"),
		Reset2FA: bind("t", "reset 2FA", "t"),

		Password:  bind("p", "password", "p"),
		EnrolTOTP: bind("e", "enrol 2FA", "e"),
		Theme:     bind("t", "theme", "t"),
		Withdraw:  bind("w", "withdraw privacy", "w"),
	}
}

// FormKeys are the keys of an open form, for the help bar: letters are
// typed into the field, so the console's own single-letter keys (? help,
// q quit) do not work while a form is open.
func (k *KeyMap) FormKeys() []key.Binding {
	return []key.Binding{k.FormNext, k.FormPrev, k.FormChoice, k.FormSave, k.FormSubmit, k.FormCancel}
}
