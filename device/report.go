package device

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sitegate/sitegate/device/field"
)

// ReportSchema names the layout of a commissioning report's JSON.
const ReportSchema = "sitegate-commissioning-report/1"

// reportAuditPage is how many audit events one read of the report takes:
// the whole retained log is walked in pages, never held at once.
const reportAuditPage = 1000

// ErrNoReportKey means the gateway has no report key: it runs without a
// data directory (tests) or the daemon did not load one.
var ErrNoReportKey = errors.New("the gateway has no report key")

// CommissioningReport is the site as it is now, for the customer: the
// gateway, its links and clock, every field device with its live values,
// who commissioned it and the audit range the report covers. JSON field
// names are binding (README, "Commissioning report").
type CommissioningReport struct {
	Schema      string          `json:"schema"`
	GatewayID   string          `json:"gateway_id"`
	Site        string          `json:"site"`
	SiteRev     uint64          `json:"site_rev"`
	GeneratedAt time.Time       `json:"generated_at"`
	Firmware    FirmwareInfo    `json:"firmware"`
	Clock       ClockHealth     `json:"clock"`
	Uplink      UplinkHealth    `json:"uplink"`
	WAN         WANHealth       `json:"wan"`
	Devices     []ReportDevice  `json:"devices"`
	Summary     ReportSummary   `json:"summary"`
	Commission  []ReportActor   `json:"commissioned_by"`
	Audit       ReportAuditSpan `json:"audit"`
}

// ReportDevice is one field device in a report.
type ReportDevice struct {
	Name        string        `json:"name"`
	Protocol    string        `json:"protocol"`
	Bus         string        `json:"bus"`
	UnitID      int           `json:"unit_id,omitempty"`
	Profile     string        `json:"profile,omitempty"`
	State       field.State   `json:"state"`
	SuccessRate float64       `json:"success_rate"` // 0..1
	Requests    uint64        `json:"requests"`
	Points      []ReportPoint `json:"points"`
}

// ReportPoint is one point's live value in a report.
type ReportPoint struct {
	Name      string        `json:"name"`
	Value     field.Value   `json:"value"`
	Unit      string        `json:"unit,omitempty"`
	Quality   field.Quality `json:"quality"`
	Error     string        `json:"error,omitempty"`
	TS        time.Time     `json:"ts,omitzero"`
	precision int
}

// ReportSummary counts devices and points by state and quality.
type ReportSummary struct {
	Devices       int `json:"devices"`
	DevicesOnline int `json:"devices_online"`
	Points        int `json:"points"`
	PointsGood    int `json:"points_good"`
}

// ReportActor is an account that changed the site: id and role only
// (README requirement 7: no personal data).
type ReportActor struct {
	ID      string    `json:"id"`
	Role    string    `json:"role"`
	Changes int       `json:"changes"`
	First   time.Time `json:"first"`
	Last    time.Time `json:"last"`
}

// ReportAuditSpan is the audit range a report covers: the retained chain
// from first to last seq, the hash of the last event (which the chain
// makes depend on every event before it) and whether the chain verified.
type ReportAuditSpan struct {
	FirstSeq  uint64 `json:"first_seq"`
	LastSeq   uint64 `json:"last_seq"`
	ChainHash string `json:"chain_hash"`
	Verified  bool   `json:"verified"`
	Problem   string `json:"problem,omitempty"`
}

// siteChanging are the audit actions that change the site.
var siteChanging = []Action{ActionConfigChange, ActionConfigImport, ActionSyncApplied, ActionConfigRollback, ActionConfigConfirm}

// CommissioningReport samples the report now.
func (g *Gateway) CommissioningReport() (CommissioningReport, error) {
	h := g.Health()
	site, rev := g.Site()
	r := CommissioningReport{Schema: ReportSchema, GatewayID: g.id, Site: site.Site.Name, SiteRev: rev, GeneratedAt: h.Time,
		Firmware: h.Firmware, Clock: h.Clock, Uplink: h.Uplink, WAN: h.WAN}
	hub := g.field
	for _, info := range hub.Topology() {
		st, _ := hub.Status(info.Name)
		d := ReportDevice{Name: info.Name, Protocol: info.Protocol.String(), Bus: info.Bus, State: st.State, SuccessRate: st.SuccessRate, Requests: st.Requests}
		if md, ok := site.Modbus.FindDevice(info.Name); ok && info.Protocol == field.Modbus {
			d.UnitID, d.Profile = md.UnitID, md.Profile
		}
		prec := map[string]int{}
		for _, p := range info.Points {
			prec[p.Name] = p.Precision
		}
		readings, _ := hub.Latest(info.Name)
		for _, rd := range readings {
			d.Points = append(d.Points, ReportPoint{Name: rd.Point, Value: rd.Value, Unit: rd.Unit, Quality: rd.Quality, Error: rd.Error, TS: rd.TS, precision: prec[rd.Point]})
			r.Summary.Points++
			if rd.Quality == field.QualityGood {
				r.Summary.PointsGood++
			}
		}
		r.Summary.Devices++
		if st.State == field.StateOnline {
			r.Summary.DevicesOnline++
		}
		r.Devices = append(r.Devices, d)
	}
	if err := g.reportAudit(&r); err != nil {
		return r, fmt.Errorf("read the audit log: %w", err)
	}
	return r, nil
}

// reportAudit fills who commissioned the site and the audit span.
func (g *Gateway) reportAudit(r *CommissioningReport) error {
	actors := map[[2]string]*ReportActor{}
	var order [][2]string
	var after uint64
	for {
		page, err := g.st.ListAudit(AuditFilter{AfterSeq: after, Limit: reportAuditPage})
		if err != nil {
			return err
		}
		for _, e := range page {
			if r.Audit.FirstSeq == 0 {
				r.Audit.FirstSeq = e.Seq
			}
			r.Audit.LastSeq, r.Audit.ChainHash = e.Seq, e.Hash
			if !slices.Contains(siteChanging, Action(e.Action)) || Result(e.Result) != ResultOK {
				continue
			}
			k := [2]string{e.Actor, e.Role}
			a, ok := actors[k]
			if !ok {
				a = &ReportActor{ID: e.Actor, Role: e.Role, First: e.TS}
				actors[k] = a
				order = append(order, k)
			}
			a.Changes++
			a.Last = e.TS
		}
		if len(page) < reportAuditPage {
			break
		}
		after = page[len(page)-1].Seq
	}
	for _, k := range order {
		r.Commission = append(r.Commission, *actors[k])
	}
	if _, err := g.st.VerifyAudit(); err != nil {
		r.Audit.Problem = err.Error()
	} else {
		r.Audit.Verified = true
	}
	return nil
}

// Render writes the report in format f (the body Sign signs).
func (r CommissioningReport) Render(f ReportFormat, loc *time.Location) ([]byte, error) {
	switch f {
	case ReportJSON:
		if r.Devices == nil {
			r.Devices = []ReportDevice{}
		}
		if r.Commission == nil {
			r.Commission = []ReportActor{}
		}
		b, err := json.MarshalIndent(r, "  ", "  ")
		return append(b, '\n'), err
	case ReportText, ReportMarkdown:
		return r.renderText(f == ReportMarkdown, loc), nil
	}
	return nil, fmt.Errorf("report format %s: use text, markdown or json", f)
}

func (r CommissioningReport) renderText(md bool, loc *time.Location) []byte {
	if loc == nil {
		loc = time.UTC
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.In(loc).Format("2006-01-02 15:04:05 MST")
	}
	var b bytes.Buffer
	heading := func(level int, s string) {
		if md {
			fmt.Fprintf(&b, "\n%s %s\n\n", strings.Repeat("#", level), s)
			return
		}
		if level == 1 {
			fmt.Fprintf(&b, "%s\n%s\n", s, strings.Repeat("=", len(s)))
			return
		}
		fmt.Fprintf(&b, "\n%s\n%s\n", s, strings.Repeat("-", len(s)))
	}
	table := func(head []string, rows [][]string) {
		if md {
			fmt.Fprintf(&b, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat("---|", len(head)))
			for _, row := range rows {
				for i := range row {
					row[i] = strings.ReplaceAll(row[i], "|", `\|`)
				}
				fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
			}
			return
		}
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(head, "\t"))
		for _, row := range rows {
			fmt.Fprintln(tw, strings.Join(row, "\t"))
		}
		_ = tw.Flush()
	}
	kv := func(pairs ...string) {
		var rows [][]string
		for i := 0; i+1 < len(pairs); i += 2 {
			rows = append(rows, []string{pairs[i], pairs[i+1]})
		}
		if md {
			table([]string{"", ""}, rows)
			return
		}
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, row := range rows {
			fmt.Fprintf(tw, "%s\t%s\n", row[0], row[1])
		}
		_ = tw.Flush()
	}
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	heading(1, "Commissioning report: "+r.Site)
	if md {
		b.WriteString("\n")
	}
	clock := "not synchronised"
	if r.Clock.Synced {
		clock = fmt.Sprintf("synchronised, offset %+.0f ms, source %s", r.Clock.OffsetMS, r.Clock.Source)
	}
	uplink := "disconnected"
	switch {
	case r.Uplink.Connected:
		uplink = "connected to " + r.Uplink.Broker
	case r.Uplink.Broker == "":
		uplink = "none configured (offline)"
	}
	var links []string
	for _, l := range r.WAN.Links {
		links = append(links, l.Name+" "+l.State)
	}
	kv("gateway", r.GatewayID, "site", fmt.Sprintf("%s (revision %d)", r.Site, r.SiteRev), "generated", ts(r.GeneratedAt),
		"firmware", dash(strings.TrimSpace(r.Firmware.Version+" "+r.Firmware.Slot)), "clock", clock, "uplink", uplink,
		"wan", fmt.Sprintf("active %s; %s", dash(r.WAN.Active), dash(strings.Join(links, ", "))),
		"devices", fmt.Sprintf("%d of %d online; %d of %d points good", r.Summary.DevicesOnline, r.Summary.Devices, r.Summary.PointsGood, r.Summary.Points))

	heading(2, "Devices")
	var rows [][]string
	for _, d := range r.Devices {
		unit := "-"
		if d.UnitID > 0 {
			unit = fmt.Sprint(d.UnitID)
		}
		rows = append(rows, []string{d.Name, d.Protocol, d.Bus, unit, dash(d.Profile), string(d.State), fmt.Sprintf("%.1f%%", 100*d.SuccessRate)})
	}
	table([]string{"DEVICE", "PROTOCOL", "BUS", "UNIT", "PROFILE", "STATE", "SUCCESS"}, rows)
	for _, d := range r.Devices {
		heading(3, "Points of "+d.Name)
		var rows [][]string
		for _, p := range d.Points {
			rows = append(rows, []string{p.Name, dash(strings.TrimSpace(FormatValue(p.Value, p.precision) + " " + p.Unit)), string(p.Quality), dash(p.Error)})
		}
		table([]string{"POINT", "VALUE", "QUALITY", "ERROR"}, rows)
	}

	heading(2, "Commissioned by")
	rows = nil
	for _, a := range r.Commission {
		rows = append(rows, []string{a.ID, a.Role, fmt.Sprint(a.Changes), ts(a.First), ts(a.Last)})
	}
	table([]string{"ACCOUNT", "ROLE", "CHANGES", "FIRST", "LAST"}, rows)

	heading(2, "Audit range")
	verified := "yes"
	if !r.Audit.Verified {
		verified = "NO: " + r.Audit.Problem
	}
	kv("first seq", fmt.Sprint(r.Audit.FirstSeq), "last seq", fmt.Sprint(r.Audit.LastSeq), "chain hash", dash(r.Audit.ChainHash), "chain verified", verified)
	b.WriteString("\n")
	return b.Bytes()
}

// SetReportKey gives the gateway the key that signs its reports.
func (g *Gateway) SetReportKey(k *ReportKey) {
	g.fieldMu.Lock()
	g.reports = k
	g.fieldMu.Unlock()
}

// ReportKey returns the key that signs the gateway's reports, or nil.
func (g *Gateway) ReportKey() *ReportKey {
	g.fieldMu.RLock()
	defer g.fieldMu.RUnlock()
	return g.reports
}

// SignedReport samples the commissioning report, writes it in format f
// (times in the site's time zone) and signs it with the gateway's report
// key; actor's request is audited report.commissioning.
func (g *Gateway) SignedReport(actor Actor, f ReportFormat) ([]byte, error) {
	key := g.ReportKey()
	if key == nil {
		return nil, ErrNoReportKey
	}
	r, err := g.CommissioningReport()
	if err != nil {
		return nil, err
	}
	site, _ := g.Site()
	body, err := r.Render(f, site.Clock.Location())
	if err != nil {
		return nil, err
	}
	doc := key.Sign(f, g.id, body)
	if err := g.AuditDetail(actor, ActionReportCommissioning, fmt.Sprintf("site@%d", r.SiteRev), ResultOK,
		fmt.Sprintf("%s, audit %d..%d", f, r.Audit.FirstSeq, r.Audit.LastSeq)); err != nil {
		return nil, err
	}
	return doc, nil
}
