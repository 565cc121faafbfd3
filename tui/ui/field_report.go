package ui

import (
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/sitegate/sitegate/device"
)

// The commissioning report on screen: the signed text report (the same as
// `ssh <gateway> report commissioning`), scrolled in a viewport. Making it
// is audited like the exec command.

// reportState is the report on screen.
type reportState struct {
	vp  viewport.Model
	err string
}

// reportMsg is a report made in the background.
type reportMsg struct {
	doc []byte
	err error
}

// openReport makes the report in the background (it reads the whole audit
// log) and shows it when done.
func (m *fieldScreen) openReport() tea.Cmd {
	m.mode = fieldReport
	m.report.err = ""
	m.report.vp.SetContent("")
	src, actor := m.src, m.s.Actor()
	run := func() tea.Msg {
		doc, err := src.SignedReport(actor, device.ReportText)
		return reportMsg{doc: doc, err: err}
	}
	return tea.Batch(m.busy.Start(m.s.Styles, "making the commissioning report…"), run)
}

func (m *fieldScreen) reportView() string {
	st := m.s.Styles
	head := st.Title.Render("Commissioning report") + "  " +
		st.Text.Dim.Render("signed by the gateway; keep a copy with: ssh <gateway> report commissioning > report.txt")
	switch {
	case m.busy.Active():
		return head + "\n\n" + m.busy.View(st)
	case m.report.err != "":
		return head + "\n\n" + st.Text.Error.Render(m.report.err)
	}
	return head + "\n" + m.report.vp.View()
}
