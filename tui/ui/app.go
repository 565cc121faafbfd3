package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/themes"
	"github.com/sitegate/sitegate/tui/access"
	"github.com/sitegate/sitegate/tui/ui/common"
)

// Minimum terminal size the console lays out for.
const (
	minWidth  = 80
	minHeight = 24
)

// eventBuffer is how many live events a session may fall behind by before
// the gateway drops them for it (and the status line counts them).
const eventBuffer = 64

// Gateway is everything the console asks of the gateway; *device.Gateway
// implements it. The root hands each screen only the part it needs.
type Gateway interface {
	DashboardSource
	LogsSource
	SiteSource
	FieldSource
	SyncSource
	NetworkSource
	SecuritySource
	// Subscribe delivers live events (readings, audit, site changes).
	Subscribe(buffer int) *device.Subscription
}

// Accounts is what the console asks of the access rules beyond
// common.Rules; *access.Service implements it.
type Accounts interface {
	common.Rules
	UsersAdmin
	ProfileAccounts
	WizardAccounts
	Account(id string) (access.Account, error)
	Pending(a access.Account) []access.Step
}

// Deps are the console's dependencies, the same for every session.
type Deps struct {
	Gateway  Gateway
	Accounts Accounts
	// LoRa finds the LoRa driver (nil: the one running for Gateway).
	LoRa LoRaLookup
	// BACnet finds the BACnet driver (nil: the one running for Gateway).
	BACnet BACnetLookup
	// SNMP finds the SNMP driver (nil: the one running for Gateway).
	SNMP SNMPLookup
	// Security is what the Security tab reads (nil: Gateway).
	Security SecuritySource
}

// EndMsg ends the session from outside (the gateway is stopping, the
// account was locked): the console leaves the terminal as it found it and
// says why.
type EndMsg struct{ Reason string }

// App is the root model of one console session: header, tabs, the active
// screen, the status line and the help bar.
type App struct {
	s       *common.Session
	d       Deps
	help    help.Model
	tabKeys []key.Binding
	screens []common.Component
	active  int
	wizard  *wizard

	width, height int
	themeChoice   string // the user's choice (may be auto)
	darkBg        bool

	sub        *device.Subscription // created with the app, closed with the session
	missed     uint64
	lastInput  time.Time
	status     string
	statusErr  bool
	statusTime time.Time
	quitText   string
	hdr        headerStatus
}

// headerStatus is what the header shows of the gateway's state, refreshed
// every second.
type headerStatus struct {
	synced    bool
	connected bool
	active    string
}

// New builds the console of session s: the setup wizard, a first-login
// wizard, or the tabs its role may see.
func New(s *common.Session, d Deps, width, height int) *App {
	if s.Keys == nil {
		s.Keys = common.DefaultKeyMap()
	}
	a := &App{s: s, d: d, help: help.New(), width: width, height: height, darkBg: true, lastInput: s.Now()}
	a.themeChoice = s.Principal.Account.Theme
	a.applyTheme()
	switch {
	case s.Principal.Setup:
		a.wizard = newSetupWizard(s, d.Gateway, d.Accounts)
	case len(d.Accounts.Pending(s.Principal.Account)) > 0:
		a.wizard = newStepsWizard(s, d.Gateway, d.Accounts, d.Accounts.Pending(s.Principal.Account))
	default:
		a.buildScreens()
	}
	a.sub = d.Gateway.Subscribe(eventBuffer)
	a.refreshStatus()
	a.resize()
	return a
}

// Close releases the app's live-update subscription.
func (a *App) Close() { a.sub.Close() }

// QuitText is what to say after the console ended ("" for nothing).
func (a *App) QuitText() string { return a.quitText }

func (a *App) refreshStatus() {
	h := a.d.Gateway.Health()
	a.hdr = headerStatus{synced: h.Clock.Synced, connected: h.Uplink.Connected, active: h.WAN.Active}
}

// buildScreens lays out the tabs the role may see.
func (a *App) buildScreens() {
	s, g := a.s, a.d.Gateway
	a.screens = []common.Component{newDashboard(s, g)}
	if s.Can(access.PermLogs) {
		a.screens = append(a.screens, newLogsScreen(s, g))
	}
	if s.Can(access.PermConfigView) {
		a.screens = append(a.screens, newSiteScreen(s, g))
	}
	if s.Can(access.PermFieldRead) {
		a.screens = append(a.screens, newFieldScreen(s, g, a.d.bacnetLookup(), a.d.snmpLookup()))
	}
	if lr, ok := newLoRaScreen(s, a.d.loraLookup()); ok && s.Can(access.PermFieldRead) {
		a.screens = append(a.screens, lr)
	}
	if s.Can(access.PermHealth) {
		a.screens = append(a.screens, newSyncScreen(s, g))
	}
	if s.Can(access.PermHealth) && g.Network() != nil {
		// Without the network subsystem there are no links to show.
		a.screens = append(a.screens, newNetworkScreen(s, g))
	}
	if s.Can(access.PermHealth) {
		a.screens = append(a.screens, newSecurityScreen(s, a.d.securitySource(), a.d.Accounts))
	}
	if s.Can(access.PermUsers) {
		a.screens = append(a.screens, newUsersScreen(s, a.d.Accounts))
	}
	a.screens = append(a.screens, newProfileScreen(s, g, a.d.Accounts))
	a.buildTabKeys()
}

// buildTabKeys gives each tab its digit key.
func (a *App) buildTabKeys() {
	a.tabKeys = nil
	for i := range a.screens {
		if k := tabKey(i); k != "" {
			a.tabKeys = append(a.tabKeys, key.NewBinding(key.WithKeys(k), key.WithHelp(k, a.screens[i].Title())))
		}
	}
}

// maxTabKeys is how many tabs have a digit key: 1..9, then 0 for the
// tenth (an administrator's last, Profile); tabs past it are reached
// with tab and shift+tab only.
const maxTabKeys = 10

// tabKey is the digit that shows tab i ("" past maxTabKeys), in the
// keyboard's order: 1..9, then 0.
func tabKey(i int) string {
	switch {
	case i < 9:
		return fmt.Sprint(i + 1)
	case i < maxTabKeys:
		return "0"
	}
	return ""
}

func (a *App) applyTheme() {
	a.s.Styles = themes.Get(themes.Resolve(a.themeChoice, a.darkBg))
	a.help.Styles = a.s.Styles.Help
}

// Init asks the terminal for its background and starts the live updates.
func (a *App) Init() tea.Cmd {
	return tea.Batch(tea.RequestBackgroundColor, waitEvent(a.sub), common.Tick())
}

// waitEvent delivers the next gateway event. Events that arrive while the
// session is slow are dropped by the gateway and counted.
func waitEvent(sub *device.Subscription) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-sub.C()
		if !ok {
			return nil
		}
		return common.EventMsg{Event: ev, Missed: sub.Missed()}
	}
}

func (a *App) bodySize() (int, int) {
	chrome := 4 // header, tabs, status, help
	if a.wizard != nil {
		chrome = 3
	}
	if a.help.ShowAll && a.wizard == nil && len(a.screens) > 0 {
		chrome += a.fullHelpRows() - 1
	}
	return a.width, a.height - chrome
}

// tooSmall reports that the terminal is smaller than the console lays out
// for: only the message and quitting work then.
func (a *App) tooSmall() bool { return a.width < minWidth || a.height < minHeight }

func (a *App) resize() {
	w, h := a.bodySize()
	a.help.SetWidth(a.width)
	if a.wizard != nil {
		a.wizard.SetSize(w, h)
	}
	for _, s := range a.screens {
		s.SetSize(w, h)
	}
}

func (a *App) capturing() bool {
	if a.wizard != nil {
		return true
	}
	return len(a.screens) > 0 && a.screens[a.active].Capturing()
}

// Update handles the root's own messages and keys and passes the rest on:
// input to the active screen, everything else (live events, ticks, the
// results of background work) to every screen, so that work a screen
// started reaches it whichever tab is shown.
func (a *App) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	m, cmd := a.update(msg)
	if a.help.ShowAll {
		// The full help's height follows the keys the screen offers now.
		a.resize()
	}
	return m, cmd
}

func (a *App) update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		a.width, a.height = msg.Width, msg.Height
		a.resize()
		return a, nil
	case tea.BackgroundColorMsg:
		a.darkBg = msg.IsDark()
		a.applyTheme()
		a.restyle()
		return a, nil
	case common.TickMsg:
		a.refreshStatus()
		if d := a.idleTimeout(); d > 0 && a.s.Now().Sub(a.lastInput) >= d {
			return a, common.QuitWith(fmt.Sprintf("Session closed after %s without input.", d))
		}
		return a, tea.Batch(common.Tick(), a.broadcast(msg))
	case common.EventMsg:
		a.missed += msg.Missed
		return a, tea.Batch(waitEvent(a.sub), a.broadcast(msg))
	case common.FlashMsg:
		a.status, a.statusErr, a.statusTime = msg.Text, msg.IsErr, a.s.Now()
		return a, nil
	case common.QuitMsg:
		a.quitText = msg.Text
		return a, tea.Quit
	case EndMsg:
		a.quitText = "Session ended: " + msg.Reason
		return a, tea.Quit
	case common.ThemeChangedMsg:
		a.themeChoice = msg.Choice
		a.applyTheme()
		a.restyle()
		return a, nil
	case common.WizardDoneMsg:
		acct, err := a.d.Accounts.Account(a.s.Principal.Account.ID)
		if err != nil {
			return a, common.QuitWith("Your account no longer exists.")
		}
		a.s.Principal.Account = acct
		a.wizard = nil
		a.buildScreens()
		a.resize()
		return a, common.Flash("Welcome, " + acct.Name + ".")
	case tea.KeyPressMsg:
		a.lastInput = a.s.Now()
		if a.tooSmall() {
			// Nothing can be seen to act on: only quitting works.
			if msg.String() == "ctrl+c" || key.Matches(msg, a.s.Keys.Quit) {
				return a, tea.Quit
			}
			return a, nil
		}
		if cmd, done := a.globalKey(msg); done {
			return a, cmd
		}
	case tea.PasteMsg:
		a.lastInput = a.s.Now()
		if a.tooSmall() {
			return a, nil
		}
	default:
		return a, a.broadcast(msg)
	}
	if a.wizard != nil {
		w, cmd := a.wizard.Update(msg)
		a.wizard = w
		return a, cmd
	}
	if len(a.screens) == 0 {
		return a, nil
	}
	s, cmd := a.screens[a.active].Update(msg)
	a.screens[a.active] = s
	return a, cmd
}

// globalKey handles the keys that work on every screen; done reports that
// the key was one of them.
func (a *App) globalKey(k tea.KeyPressMsg) (tea.Cmd, bool) {
	keys := a.s.Keys
	if k.String() == "ctrl+c" {
		return tea.Quit, true
	}
	if a.capturing() {
		return nil, false
	}
	switch {
	case key.Matches(k, keys.Quit):
		return tea.Quit, true
	case key.Matches(k, keys.Help):
		a.help.ShowAll = !a.help.ShowAll
		a.resize()
		return nil, true
	case len(a.screens) == 0:
		return nil, false
	case key.Matches(k, keys.Next):
		a.active = (a.active + 1) % len(a.screens)
		return nil, true
	case key.Matches(k, keys.Prev):
		a.active = (a.active + len(a.screens) - 1) % len(a.screens)
		return nil, true
	}
	for i, b := range a.tabKeys {
		if key.Matches(k, b) {
			a.active = i
			return nil, true
		}
	}
	return nil, false
}

// broadcast passes a message to every screen, not only the visible one,
// so switching tabs shows current data and background results arrive.
func (a *App) broadcast(msg tea.Msg) tea.Cmd {
	var cmds []tea.Cmd
	for i, s := range a.screens {
		var cmd tea.Cmd
		a.screens[i], cmd = s.Update(msg)
		cmds = append(cmds, cmd)
	}
	if a.wizard != nil {
		var cmd tea.Cmd
		a.wizard, cmd = a.wizard.Update(msg)
		cmds = append(cmds, cmd)
	}
	return tea.Batch(cmds...)
}

func (a *App) restyle() {
	for _, s := range a.screens {
		if r, ok := s.(common.Restyler); ok {
			r.Restyle()
		}
	}
	if a.wizard != nil {
		a.wizard.Restyle()
	}
}

func (a *App) idleTimeout() time.Duration {
	site, _ := a.d.Gateway.Site()
	return site.Access.IdleTimeout.Std()
}

// View renders the whole screen.
func (a *App) View() tea.View {
	v := tea.NewView(a.render())
	v.AltScreen = true
	return v
}

func (a *App) render() string {
	st := a.s.Styles
	if a.tooSmall() {
		msg := fmt.Sprintf("The console needs a terminal of at least %d×%d.\nThis one is %d×%d: make the window larger.\n\nq quits.", minWidth, minHeight, a.width, a.height)
		return lipgloss.NewStyle().Width(max(a.width, 1)).MaxHeight(max(a.height, 1)).Render(st.Text.Warn.Render(msg))
	}
	_, bodyH := a.bodySize()
	if a.wizard != nil {
		return lipgloss.JoinVertical(lipgloss.Left, a.header(), common.Fit(a.wizard.View(), a.width, bodyH), a.statusLine())
	}
	return lipgloss.JoinVertical(lipgloss.Left, a.header(), a.tabs(), common.Fit(a.screens[a.active].View(), a.width, bodyH), a.statusLine(), a.footer())
}

func (a *App) header() string {
	st := a.s.Styles
	site, _ := a.d.Gateway.Site()
	who := "setup"
	if !a.s.Principal.Setup {
		who = a.s.Principal.Account.Name + " (" + a.s.Principal.Account.Role.String() + ")"
	}
	clock := a.s.Now().In(site.Clock.Location()).Format("15:04:05")
	if !a.hdr.synced {
		// Certificates and signatures depend on the clock: say when it
		// is not known to be right (README requirement 9).
		clock += "?"
	}
	link := "offline"
	if a.hdr.connected {
		link = "cloud ✓"
	}
	if a.hdr.active != "" && a.hdr.active != "unknown" {
		link = a.hdr.active + " · " + link
	}
	right := st.Header.Item.Render(link+" │ "+a.s.GatewayID+" │ "+who+" │ ") + st.Header.Title.Render(clock)
	// The site name gets what is left of the line.
	room := a.width - 2 - lipgloss.Width("sitegate │ ") - lipgloss.Width(right) - 1
	left := st.Header.Title.Render("sitegate") + st.Header.Item.Render(" │ "+common.Clip(site.Site.Name, max(room, 3)))
	gap := max(a.width-2-lipgloss.Width(left)-lipgloss.Width(right), 1)
	return st.Header.Bar.Width(a.width).Render(left + st.Header.Item.Render(strings.Repeat(" ", gap)) + right)
}

func (a *App) tabs() string {
	st := a.s.Styles
	// tight: no padding and no space between the digit and the title.
	render := func(compact, tight bool) string {
		var parts []string
		for i, s := range a.screens {
			style := st.Tabs.Inactive
			if i == a.active {
				style = st.Tabs.Active
			}
			if compact {
				style = style.UnsetPadding()
			}
			label := s.Title()
			if k := tabKey(i); k != "" && tight {
				label = k + label
			} else if k != "" {
				label = k + " " + label
			}
			parts = append(parts, style.Render(label))
		}
		return strings.Join(parts, st.Tabs.Gap.Render("│"))
	}
	line := render(false, false)
	if lipgloss.Width(line) > a.width {
		// An administrator's nine tabs fit 80 columns only without the
		// padding, the ten of one with LoRa only without the spaces too.
		line = render(true, false)
	}
	if lipgloss.Width(line) > a.width {
		line = render(true, true)
	}
	return lipgloss.NewStyle().MaxWidth(a.width).Render(line)
}

func (a *App) statusLine() string {
	st := a.s.Styles
	text := a.status
	style := st.Text.Dim
	if a.statusErr {
		style = st.Text.Error
	}
	if a.status != "" && a.s.Now().Sub(a.statusTime) > 10*time.Second && !a.statusErr {
		text = ""
	}
	if a.missed > 0 {
		if text != "" {
			text += "  "
		}
		text += fmt.Sprintf("missed %d updates", a.missed)
	}
	return lipgloss.NewStyle().MaxWidth(a.width).Render(style.Render(common.Clip(text, a.width)))
}

// footerKeys adapts the keys to help.KeyMap.
type footerKeys struct {
	global *common.KeyMap
	screen []key.Binding
	// capturing: a form or a question has the keys, so the global
	// letters (? help, q quit, tab) do not work and are not offered.
	capturing bool
}

func (f footerKeys) ShortHelp() []key.Binding {
	if f.capturing {
		return append([]key.Binding{}, f.screen...)
	}
	return append(append([]key.Binding{}, f.screen...), f.global.Next, f.global.Help, f.global.Quit)
}

func (f footerKeys) FullHelp() [][]key.Binding { return [][]key.Binding{f.ShortHelp()} }

// fullHelp lays out every key of the screen, the tabs and the global keys
// in as many columns as fit the width, so that none is cut off.
func (a *App) fullHelp() []string {
	st := a.help.Styles
	keys := footerKeys{global: a.s.Keys, screen: a.screens[a.active].Keys(), capturing: a.capturing()}
	all := keys.ShortHelp()
	if !keys.capturing {
		all = append(append(keys.screen[:len(keys.screen):len(keys.screen)], a.tabKeys...), a.s.Keys.Next, a.s.Keys.Prev, a.s.Keys.Help, a.s.Keys.Quit)
	}
	var items []string
	colw := 0
	for _, b := range all {
		if !b.Enabled() {
			continue
		}
		h := b.Help()
		item := st.FullKey.Render(h.Key) + " " + st.FullDesc.Render(h.Desc)
		items = append(items, item)
		colw = max(colw, lipgloss.Width(item)+3)
	}
	if len(items) == 0 {
		return []string{""}
	}
	cols := max(1, min(len(items), a.width/max(colw, 1)))
	rows := (len(items) + cols - 1) / cols
	lines := make([]string, rows)
	for i, item := range items {
		r := i % rows
		pad := ""
		if i/rows < cols-1 {
			pad = strings.Repeat(" ", colw-lipgloss.Width(item))
		}
		lines[r] += item + pad
	}
	return lines
}

func (a *App) footer() string {
	if a.help.ShowAll {
		return lipgloss.NewStyle().MaxWidth(a.width).Render(strings.Join(a.fullHelp(), "\n"))
	}
	// bubbles' help adds items past its width when even the ellipsis would
	// not fit; cut the line so the layout never overflows.
	keys := footerKeys{global: a.s.Keys, screen: a.screens[a.active].Keys(), capturing: a.capturing()}
	return lipgloss.NewStyle().MaxWidth(a.width).Render(a.help.ShortHelpView(keys.ShortHelp()))
}
