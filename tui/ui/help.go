package ui

// fullHelpRows is how many lines the full help (?) takes: every key laid
// out in as many columns as fit the width (fullHelp).
func (a *App) fullHelpRows() int { return len(a.fullHelp()) }
