package sshd

import (
	"io"
	"sync"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"charm.land/wish/v2/bubbletea"

	"github.com/sitegate/sitegate/tui/ui"
	"github.com/sitegate/sitegate/tui/ui/common"
)

// console builds the console of a session with a terminal: its own root
// model from its own dependencies, reading the session's input, under the
// session's context. When the client closes the session the program
// quits, and what it started in the background ends with the context, so
// nothing of it outlives the session.
func (s *Server) console(sess ssh.Session) *tea.Program {
	p, ok := principalOf(sess.Context())
	st := s.stateOf(sess)
	if !ok || st == nil {
		return nil
	}
	pty, _, _ := sess.Pty()
	cs := &common.Session{Ctx: st.ctx, Principal: p, Rules: s.acc, Clock: s.clk, GatewayID: s.gw.ID(), Version: s.cfg.Version}
	a := ui.New(cs, ui.Deps{Gateway: s.gw, Accounts: s.acc}, pty.Window.Width, pty.Window.Height)
	in := &eofReader{r: sess}
	opts := append(bubbletea.MakeOptions(sess),
		tea.WithInput(in),
		tea.WithContext(st.ctx),
		// The daemon owns process signals and ends sessions itself.
		tea.WithoutSignalHandler())
	prog := tea.NewProgram(a, opts...)
	in.onEOF = prog.Quit
	st.setConsole(a, prog)
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
