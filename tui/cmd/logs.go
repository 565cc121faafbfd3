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

func (e *session) writeAudit(ev device.AuditRecord, asJSON bool) {
	if asJSON {
		_ = json.NewEncoder(e.out).Encode(ev)
		return
	}
	fmt.Fprintf(e.out, "%6d  %s  %-10s %-9s %-18s %-16s %s\n", ev.Seq, ev.TS.UTC().Format(time.DateTime), ev.Actor, ev.Role, ev.Action, ev.Target, ev.Result)
}

func (e *session) writeLog(r device.LogRecord, asJSON bool) {
	if asJSON {
		_ = json.NewEncoder(e.out).Encode(r)
		return
	}
	fmt.Fprintln(e.out, r.String())
}
