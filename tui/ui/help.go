package ui

// fullHelpRows is how many lines the full help (?) takes: its tallest
// column, which is the list of tabs when a role has many.
func (a *App) fullHelpRows() int {
	keys := footerKeys{global: a.s.Keys, tabs: a.tabKeys}
	if len(a.screens) > 0 {
		keys.screen = a.screens[a.active].Keys()
	}
	rows := 1
	for _, col := range keys.FullHelp() {
		n := 0
		for _, b := range col {
			if b.Enabled() {
				n++
			}
		}
		rows = max(rows, n)
	}
	return rows
}
