package tui

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"charm.land/ssh"
	"charm.land/wish/v2/bubbletea"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/themes"
	"github.com/sitegate/sitegate/tui/access"
)

// Minimum terminal size the console lays out for.
const (
	minWidth  = 80
	minHeight = 24
)

// screen is one tab of the console: a model with its keys and size. Only
// the root returns a tea.View; screens return strings.
type screen interface {
	Title() string
	Update(msg tea.Msg) (screen, tea.Cmd)
	View() string
	SetSize(w, h int)
	Keys() []key.Binding
	// Capturing reports that a text field has focus, so global
	// single-letter keys must go to the screen.
	Capturing() bool
}

// shared is what every screen of one session reads: its dependencies and
// the session's identity and theme. It belongs to one session.
type shared struct {
	gw      *device.Gateway
	acc     *access.Service
	p       access.Principal
	st      *themes.Styles
	now     func() time.Time
	version string
	// applySite re-checks the role and applies a change (the same path as
	// exec `config import`); applySiteAs does so under another audit action.
	applySite   func(p access.Principal, next *device.Site) (device.Change, error)
	applySiteAs func(p access.Principal, next *device.Site, action device.Action) (device.Change, error)
	// srv is the SSH server, for what outlives a session (a change on
	// probation); nil in screen tests that need none.
	srv *Server
}

func (c *shared) can(perm access.Perm) bool { return access.Can(c.p.Account.Role, perm) }

// Messages.
type (
	tickMsg  time.Time
	eventMsg struct {
		ev     device.Event
		missed uint64
	}
	// flashMsg shows a one-line status message.
	flashMsg struct {
		text  string
		isErr bool
	}
	// quitMsg ends the session with a message.
	quitMsg struct{ text string }
	// wizardDoneMsg leaves a wizard for the main console.
	wizardDoneMsg struct{}
)

func flash(text string) tea.Cmd {
	return func() tea.Msg { return flashMsg{text: text} }
}

func flashErr(err error) tea.Cmd {
	return func() tea.Msg { return flashMsg{text: err.Error(), isErr: true} }
}

func quitWith(text string) tea.Cmd { return func() tea.Msg { return quitMsg{text} } }

type globalKeys struct {
	Next, Prev, Help, Quit key.Binding
	Tabs                   []key.Binding
}

func newGlobalKeys() globalKeys {
	return globalKeys{
		Next: key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next screen")),
		Prev: key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous")),
		Help: key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit: key.NewBinding(key.WithKeys("ctrl+c", "q"), key.WithHelp("q", "quit")),
	}
}

// app is the root model of one console session.
type app struct {
	c       *shared
	keys    globalKeys
	help    help.Model
	screens []screen
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
	quit       func() // quits the program (set when served over SSH)
	hdr        headerStatus
}

// headerStatus is what the header shows of the gateway's state, refreshed
// every second.
type headerStatus struct {
	synced    bool
	connected bool
	active    string
}

func (a *app) refreshStatus() {
	h := a.c.gw.Health()
	a.hdr = headerStatus{synced: h.Clock.Synced, connected: h.Uplink.Connected, active: h.WAN.Active}
}

// newApp builds the console for principal p.
func newApp(c *shared, width, height int) *app {
	a := &app{c: c, keys: newGlobalKeys(), help: help.New(), width: width, height: height, darkBg: true, lastInput: c.now()}
	a.themeChoice = c.p.Account.Theme
	a.applyTheme()
	if c.p.Setup {
		a.wizard = newSetupWizard(c)
	} else if steps := c.acc.Pending(c.p.Account); len(steps) > 0 {
		a.wizard = newStepsWizard(c, steps)
	} else {
		a.buildScreens()
	}
	a.sub = c.gw.Subscribe(64)
	a.refreshStatus()
	a.resize()
	return a
}

// close releases the app's live-update subscription.
func (a *app) close() { a.sub.Close() }

// end makes the program quit (the gateway ended the session).
func (a *app) end() {
	if a.quit != nil {
		a.quit()
	}
}

// buildScreens lays out the tabs the role may see.
func (a *app) buildScreens() {
	a.screens = []screen{newDashboard(a.c)}
	if a.c.can(access.PermLogs) {
		a.screens = append(a.screens, newLogsScreen(a.c))
	}
	if a.c.can(access.PermConfigView) {
		a.screens = append(a.screens, newSiteScreen(a.c))
	}
	if a.c.can(access.PermFieldRead) {
		a.screens = append(a.screens, newModbusScreen(a.c))
	}
	if a.c.can(access.PermHealth) {
		a.screens = append(a.screens, newSyncScreen(a.c))
	}
	if a.c.can(access.PermHealth) && a.c.srv != nil {
		a.screens = append(a.screens, newNetworkScreen(a.c, a.c.srv))
	}
	if a.c.can(access.PermUsers) {
		a.screens = append(a.screens, newUsersScreen(a.c))
	}
	a.screens = append(a.screens, newProfileScreen(a.c))
	a.keys.Tabs = nil
	for i := range a.screens {
		k := fmt.Sprint(i + 1)
		a.keys.Tabs = append(a.keys.Tabs, key.NewBinding(key.WithKeys(k), key.WithHelp(k, a.screens[i].Title())))
	}
}

func (a *app) applyTheme() {
	name := themes.Resolve(a.themeChoice, a.darkBg)
	a.c.st = themes.Get(name)
	a.help.Styles = a.c.st.Help
}

func (a *app) Init() tea.Cmd {
	return tea.Batch(tea.RequestBackgroundColor, waitEvent(a.sub), tick())
}

func tick() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// waitEvent delivers the next gateway event. Events that arrive while the
// session is slow are dropped by the gateway and counted.
func waitEvent(sub *device.Subscription) tea.Cmd {
	return func() tea.Msg {
		ev, ok := <-sub.C()
		if !ok {
			return nil
		}
		return eventMsg{ev: ev, missed: sub.Missed()}
	}
}

func (a *app) bodySize() (int, int) {
	chrome := 4 // header, tabs, status, help
	if a.wizard != nil {
		chrome = 3
	}
	if a.help.ShowAll {
		chrome += 4
	}
	return a.width, a.height - chrome
}

func (a *app) resize() {
	w, h := a.bodySize()
	a.help.SetWidth(a.width)
	if a.wizard != nil {
		a.wizard.SetSize(w, h)
	}
	for _, s := range a.screens {
		s.SetSize(w, h)
	}
}

func (a *app) capturing() bool {
	if a.wizard != nil {
		return true
	}
	return len(a.screens) > 0 && a.screens[a.active].Capturing()
}

func (a *app) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
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
	case tickMsg:
		a.refreshStatus()
		if d := a.idleTimeout(); d > 0 && a.c.now().Sub(a.lastInput) >= d {
			return a, quitWith(fmt.Sprintf("Session closed after %s without input.", d))
		}
		return a, tea.Batch(tick(), a.broadcast(msg))
	case eventMsg:
		a.missed += msg.missed
		cmds := []tea.Cmd{waitEvent(a.sub), a.broadcast(msg)}
		return a, tea.Batch(cmds...)
	case flashMsg:
		a.status, a.statusErr, a.statusTime = msg.text, msg.isErr, a.c.now()
		return a, nil
	case quitMsg:
		a.quitText = msg.text
		return a, tea.Quit
	case themeChangedMsg:
		a.themeChoice = msg.choice
		a.applyTheme()
		a.restyle()
		return a, nil
	case wizardDoneMsg:
		acct, err := a.c.acc.Account(a.c.p.Account.ID)
		if err != nil {
			return a, quitWith("Your account no longer exists.")
		}
		a.c.p.Account = acct
		a.wizard = nil
		a.buildScreens()
		a.resize()
		return a, flash("Welcome, " + acct.Name + ".")
	case tea.KeyPressMsg, tea.PasteMsg:
		a.lastInput = a.c.now()
	}
	if k, ok := msg.(tea.KeyPressMsg); ok {
		if k.String() == "ctrl+c" {
			return a, tea.Quit
		}
		if !a.capturing() {
			switch {
			case key.Matches(k, a.keys.Quit):
				return a, tea.Quit
			case key.Matches(k, a.keys.Help):
				a.help.ShowAll = !a.help.ShowAll
				a.resize()
				return a, nil
			case key.Matches(k, a.keys.Next):
				a.active = (a.active + 1) % len(a.screens)
				return a, nil
			case key.Matches(k, a.keys.Prev):
				a.active = (a.active + len(a.screens) - 1) % len(a.screens)
				return a, nil
			}
			for i, b := range a.keys.Tabs {
				if key.Matches(k, b) {
					a.active = i
					return a, nil
				}
			}
		}
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

// broadcast passes live messages to every screen, not only the visible
// one, so switching tabs shows current data.
func (a *app) broadcast(msg tea.Msg) tea.Cmd {
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

type restyler interface{ Restyle() }

func (a *app) restyle() {
	for _, s := range a.screens {
		if r, ok := s.(restyler); ok {
			r.Restyle()
		}
	}
	if a.wizard != nil {
		a.wizard.Restyle()
	}
}

func (a *app) idleTimeout() time.Duration {
	site, _ := a.c.gw.Site()
	return site.Access.IdleTimeout.Std()
}

// View renders the whole screen.
func (a *app) View() tea.View {
	v := tea.NewView(a.render())
	v.AltScreen = true
	return v
}

func (a *app) render() string {
	st := a.c.st
	if a.width < minWidth || a.height < minHeight {
		msg := fmt.Sprintf("The console needs a terminal of at least %d×%d.\nThis one is %d×%d: make the window larger.\n\nq quits.", minWidth, minHeight, a.width, a.height)
		return lipgloss.NewStyle().Width(max(a.width, 1)).MaxHeight(max(a.height, 1)).Render(st.Text.Warn.Render(msg))
	}
	var parts []string
	parts = append(parts, a.header())
	_, bodyH := a.bodySize()
	if a.wizard != nil {
		parts = append(parts, fit(a.wizard.View(), a.width, bodyH))
		parts = append(parts, a.statusLine())
		return lipgloss.JoinVertical(lipgloss.Left, parts...)
	}
	parts = append(parts, a.tabs())
	parts = append(parts, fit(a.screens[a.active].View(), a.width, bodyH))
	parts = append(parts, a.statusLine())
	parts = append(parts, a.footer())
	return lipgloss.JoinVertical(lipgloss.Left, parts...)
}

// fit pads or cuts s to exactly w×h cells so the layout never jumps.
func fit(s string, w, h int) string {
	return lipgloss.NewStyle().Width(w).Height(h).MaxWidth(w).MaxHeight(h).Render(s)
}

func (a *app) header() string {
	st := a.c.st
	site, _ := a.c.gw.Site()
	who := "setup"
	if !a.c.p.Setup {
		who = a.c.p.Account.Name + " (" + a.c.p.Account.Role.String() + ")"
	}
	clock := a.c.now().In(site.Clock.Location()).Format("15:04:05")
	if !a.hdr.synced {
		// Certificates and signatures depend on the clock: say when it
		// is not known to be right (requirement 9).
		clock += "?"
	}
	link := "offline"
	if a.hdr.connected {
		link = "cloud ✓"
	}
	if a.hdr.active != "" && a.hdr.active != "unknown" {
		link = a.hdr.active + " · " + link
	}
	right := st.Header.Item.Render(link+" │ "+a.c.gw.ID()+" │ "+who+" │ ") + st.Header.Title.Render(clock)
	// The site name gets what is left of the line.
	room := a.width - 2 - lipgloss.Width("sitegate │ ") - lipgloss.Width(right) - 1
	left := st.Header.Title.Render("sitegate") + st.Header.Item.Render(" │ "+clip(site.Site.Name, max(room, 3)))
	gap := a.width - 2 - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		gap = 1
	}
	return st.Header.Bar.Width(a.width).Render(left + st.Header.Item.Render(strings.Repeat(" ", gap)) + right)
}

func (a *app) tabs() string {
	st := a.c.st
	var parts []string
	for i, s := range a.screens {
		label := fmt.Sprintf("%d %s", i+1, s.Title())
		if i == a.active {
			parts = append(parts, st.Tabs.Active.Render(label))
		} else {
			parts = append(parts, st.Tabs.Inactive.Render(label))
		}
	}
	return lipgloss.NewStyle().MaxWidth(a.width).Render(strings.Join(parts, st.Tabs.Gap.Render("│")))
}

func (a *app) statusLine() string {
	st := a.c.st
	text := a.status
	style := st.Text.Dim
	if a.statusErr {
		style = st.Text.Error
	}
	if a.status != "" && a.c.now().Sub(a.statusTime) > 10*time.Second && !a.statusErr {
		text = ""
	}
	if a.missed > 0 {
		if text != "" {
			text += "  "
		}
		text += fmt.Sprintf("missed %d updates", a.missed)
	}
	return lipgloss.NewStyle().MaxWidth(a.width).Render(style.Render(clip(text, a.width)))
}

// footerKeys adapts the keys to help.KeyMap.
type footerKeys struct {
	global globalKeys
	screen []key.Binding
}

func (f footerKeys) ShortHelp() []key.Binding {
	return append(append([]key.Binding{}, f.screen...), f.global.Next, f.global.Help, f.global.Quit)
}

func (f footerKeys) FullHelp() [][]key.Binding {
	return [][]key.Binding{f.screen, f.global.Tabs, {f.global.Next, f.global.Prev, f.global.Help, f.global.Quit}}
}

func (a *app) footer() string {
	// bubbles' help adds items past its width when even the ellipsis would
	// not fit; cut the line so the layout never overflows.
	return lipgloss.NewStyle().MaxWidth(a.width).Render(a.help.View(footerKeys{global: a.keys, screen: a.screens[a.active].Keys()}))
}

// clip cuts s to n display cells with an ellipsis.
func clip(s string, n int) string {
	if lipgloss.Width(s) <= n {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && lipgloss.Width(string(r))+1 > n {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// program builds the console of a session with a terminal: its own app
// from its own dependencies, reading the session's input. When the client
// closes the session the program quits, so nothing of it outlives the
// session.
func (s *Server) program(sess ssh.Session) *tea.Program {
	p, ok := principalOf(sess.Context())
	if !ok {
		return nil
	}
	pty, _, _ := sess.Pty()
	c := &shared{gw: s.gw, acc: s.acc, p: p, now: s.now, version: s.cfg.Version, applySite: s.applySite, applySiteAs: s.applySiteAs, srv: s}
	a := newApp(c, pty.Window.Width, pty.Window.Height)
	s.apps.Store(sess, a)
	in := &eofReader{r: sess}
	opts := append(bubbletea.MakeOptions(sess),
		tea.WithInput(in),
		// The daemon owns process signals and ends sessions itself.
		tea.WithoutSignalHandler())
	prog := tea.NewProgram(a, opts...)
	in.onEOF = prog.Quit
	a.quit = prog.Quit
	return prog
}

// eofReader calls onEOF when the session's input ends.
type eofReader struct {
	r     io.Reader
	onEOF func()
	once  sync.Once
}

func (e *eofReader) Read(b []byte) (int, error) {
	n, err := e.r.Read(b)
	if err != nil && e.onEOF != nil {
		e.once.Do(e.onEOF)
	}
	return n, err
}

// applySite is the one path for site changes from a session: the role is
// checked here, on the server, against the account as it is now, whatever
// the screen offered. Access settings (password policy, 2FA, idle timeout)
// protect every account, so changing them needs the users permission.
func (s *Server) applySite(p access.Principal, next *device.Site) (device.Change, error) {
	return s.applySiteAs(p, next, "config.change")
}

func (s *Server) applySiteAs(p access.Principal, next *device.Site, action device.Action) (device.Change, error) {
	return s.applyEdit(p, device.Edit{Action: action, Base: s.gw.Rev()}, next)
}

// applyEdit checks the role and applies next as e says (its actor is p's).
func (s *Server) applyEdit(p access.Principal, e device.Edit, next *device.Site) (device.Change, error) {
	action := e.Action
	e.Actor = p.Actor()
	if err := s.acc.Authorize(p, access.PermConfigEdit); err != nil {
		_ = s.gw.Audit(p.Actor(), action, "site", device.ResultDenied)
		return device.Change{}, err
	}
	current, _ := s.gw.Site()
	if !reflect.DeepEqual(normalAccess(current.Access), normalAccess(next.Access)) {
		if err := s.acc.Authorize(p, access.PermUsers); err != nil {
			_ = s.gw.AuditDetail(p.Actor(), action, "site", device.ResultDenied, "access settings")
			return device.Change{}, fmt.Errorf("%w: the access settings (password length, 2FA, idle timeout) can only be changed by an admin", access.ErrForbidden)
		}
	}
	return s.gw.ApplySite(e, next)
}

// normalAccess fills defaults so that an absent and a default value compare
// equal.
func normalAccess(a device.Access) device.Access {
	s := device.Site{Access: a}
	s.ApplyDefaults()
	return s.Access
}
