package device

import (
	"encoding/json"
	"fmt"
	"time"
)

// AlertState is what happened to an alert: raised or cleared.
type AlertState string

// Alert states, as the alerts stream carries them.
const (
	AlertRaised  AlertState = "raised"
	AlertCleared AlertState = "cleared"
)

// alertMessage is the alerts stream's payload (the uplink adds seq).
type alertMessage struct {
	Rule     string     `json:"rule"`
	Severity string     `json:"severity"`
	Since    time.Time  `json:"since"`
	State    AlertState `json:"state"`
	Detail   string     `json:"detail,omitempty"`
}

// AlertChanged reports that alert a was raised or cleared — by the health
// monitor's rules, or by a driver's own (SNMP trap rules): it queues the
// change on the alerts stream for the cloud and tells live sessions. at
// is when it changed; device names the device it concerns ("" for the
// gateway). Every alert change goes through here, so that the cloud sees
// all of them the same way.
func (g *Gateway) AlertChanged(a Alert, state AlertState, at time.Time, device string) error {
	b, err := json.Marshal(alertMessage{Rule: a.Rule, Severity: a.Severity, Since: at.UTC(), State: state, Detail: a.Detail})
	if err != nil {
		return err
	}
	_, err = g.st.Enqueue(string(StreamAlerts), b)
	g.Publish(Event{Kind: EventAlert, Device: device, Detail: a.Rule})
	if err != nil {
		return fmt.Errorf("queue alert %s: %w", a.Rule, err)
	}
	return nil
}
