package cmd

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sitegate/sitegate/device"
)

// Bounds of `logs`.
const (
	maxLogLines  = 100000 // -n
	followBuffer = 256    // events a follower may fall behind by
)

func (e *session) logsCmd() *cobra.Command {
	var auditLog, follow, asJSON bool
	var last int
	cmd := &cobra.Command{
		Use:         "logs [--audit] [--follow] [--json] [-n N]",
		Short:       "Show the system log, or the audit log with --audit",
		Args:        noArgs,
		Annotations: needs("logs"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if last < 0 || last > maxLogLines {
				return usageErr("-n %d: give 1..%d", last, maxLogLines)
			}
			// Subscribe before reading history so nothing falls between.
			var sub *device.Subscription
			if follow {
				sub = e.gw.Subscribe(followBuffer)
				defer sub.Close()
			}
			if !asJSON {
				e.writeLogHeader(auditLog)
			}
			lastSeq, err := e.logHistory(auditLog, asJSON, !follow, last)
			if err != nil || !follow {
				return err
			}
			for {
				select {
				case <-cmd.Context().Done():
					return nil
				case ev, ok := <-sub.C():
					if !ok {
						return nil
					}
					if n := sub.Missed(); n > 0 {
						fmt.Fprintf(e.errw, "(missed %d updates: the connection is slower than the log)\n", n)
					}
					switch {
					case auditLog && ev.Kind == device.EventAudit && ev.Audit.Seq > lastSeq:
						e.writeAudit(ev.Audit, asJSON)
						lastSeq = ev.Audit.Seq
					case !auditLog && ev.Kind == device.EventLog:
						e.writeLog(ev.Log, asJSON)
					}
				}
			}
		},
	}
	f := cmd.Flags()
	f.BoolVar(&auditLog, "audit", false, "the audit log instead of the system log")
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new entries (one JSON object per line with --json)")
	f.BoolVar(&asJSON, "json", false, "print JSON (an array, or JSON lines with --follow)")
	f.IntVarP(&last, "lines", "n", 100, "how many of the newest entries to print first")
	return cmd
}

// logHistory prints the newest last entries (with asJSON as one JSON
// array when they are all there is, else as JSON lines) and returns the
// audit sequence number it got to.
func (e *session) logHistory(auditLog, asJSON, all bool, last int) (uint64, error) {
	asArray := asJSON && all
	if !auditLog {
		recs := e.gw.Logs()
		if len(recs) > last {
			recs = recs[len(recs)-last:]
		}
		if asArray {
			if recs == nil {
				recs = []device.LogRecord{}
			}
			return 0, e.writeJSON(recs)
		}
		for _, r := range recs {
			e.writeLog(r, asJSON)
		}
		return 0, nil
	}
	events, err := e.gw.AuditLog().ListAudit(device.AuditFilter{Limit: last, Newest: true})
	if err != nil {
		return 0, err
	}
	if asArray {
		if events == nil {
			events = []device.AuditRecord{}
		}
		return 0, e.writeJSON(events)
	}
	var seq uint64
	for _, ev := range events {
		e.writeAudit(ev, asJSON)
		seq = ev.Seq
	}
	return seq, nil
}

// Widths of the audit log's text columns; longer values are cut with an
// ellipsis so the columns stay aligned, also while following.
const (
	auditUserWidth   = 16
	auditRoleWidth   = 9
	auditActionWidth = 20
	auditTargetWidth = 24
)

// writeLogHeader names the columns and the time zone: both logs are in UTC.
func (e *session) writeLogHeader(auditLog bool) {
	if auditLog {
		fmt.Fprintf(e.out, "%6s  %-19s  %-*s %-*s %-*s %-*s %s\n", "SEQ", "TIME (UTC)", auditUserWidth, "USER", auditRoleWidth, "ROLE",
			auditActionWidth, "ACTION", auditTargetWidth, "TARGET", "RESULT")
		return
	}
	fmt.Fprintf(e.out, "%-19s %s\n", "TIME (UTC)", "LEVEL MESSAGE")
}

// writeAudit prints one audit event: as JSON with the account id (the
// contract), as text with the account's name for people.
func (e *session) writeAudit(ev device.AuditRecord, asJSON bool) {
	if asJSON {
		_ = json.NewEncoder(e.out).Encode(ev)
		return
	}
	if e.names == nil {
		e.names = e.d.Access.Names()
	}
	user := ev.Actor
	if n, ok := e.names[ev.Actor]; ok {
		user = n
	}
	fmt.Fprintf(e.out, "%6d  %s  %-*s %-*s %-*s %-*s %s\n", ev.Seq, ev.TS.UTC().Format(time.DateTime),
		auditUserWidth, clip(printable(user), auditUserWidth), auditRoleWidth, clip(ev.Role, auditRoleWidth),
		auditActionWidth, clip(ev.Action, auditActionWidth), auditTargetWidth, clip(printable(ev.Target), auditTargetWidth), ev.Result)
}

// clip cuts s to n runes with an ellipsis.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func (e *session) writeLog(r device.LogRecord, asJSON bool) {
	if asJSON {
		_ = json.NewEncoder(e.out).Encode(r)
		return
	}
	fmt.Fprintln(e.out, r.String())
}
