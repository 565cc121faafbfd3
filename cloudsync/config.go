package cloudsync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/sitegate/sitegate/device"
)

// CloudActor is the cloud when it changes the site.
var CloudActor = device.Actor{ID: "cloud", Role: "cloud"}

// MaxDesired bounds a desired configuration message.
const MaxDesired = 1 << 20

const (
	metaConflict = "cloudsync.conflict"
	// metaDesired is the last desired revision handled: the cloud retains
	// config/desired, so every reconnect delivers it again.
	metaDesired = "cloudsync.desired_rev"
)

// desired is the config/desired payload.
type desired struct {
	Rev     *uint64         `json:"rev"`
	BaseRev *uint64         `json:"base_rev"`
	Site    json.RawMessage `json:"site"`
}

// result is the config/result payload.
type result struct {
	Rev      uint64   `json:"rev"`
	Result   string   `json:"result"` // applied, conflict, invalid
	Errors   []string `json:"errors"`
	LocalRev uint64   `json:"local_rev"`
}

// storedConflict persists a conflict across restarts.
type storedConflict struct {
	device.SyncConflict
	SiteJSON json.RawMessage `json:"site"`
}

func loadConflict(gw *device.Gateway) (device.SyncConflict, bool) {
	raw, _ := gw.Store().Meta(metaConflict)
	if raw == nil {
		return device.SyncConflict{}, false
	}
	var sc storedConflict
	if err := json.Unmarshal(raw, &sc); err != nil {
		return device.SyncConflict{}, false
	}
	site, err := device.DecodeSiteYAML(sc.SiteJSON)
	if err != nil {
		return device.SyncConflict{}, false
	}
	sc.Site = site
	return sc.SyncConflict, true
}

// onDesired handles a desired configuration from the cloud: applied when
// it was made against the gateway's current revision, refused when it is
// not valid, and a conflict when the site changed meanwhile (someone
// worked offline): then nothing is applied and an installer decides.
func (u *Uplink) onDesired(ctx context.Context, payload []byte) {
	res, fresh := u.decideOnce(payload)
	if !fresh {
		return
	}
	b, _ := json.Marshal(res)
	u.mu.Lock()
	cm := u.cm
	u.mu.Unlock()
	if cm == nil {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cm.Publish(pctx, &paho.Publish{Topic: u.topic("config/result"), QoS: 1, Payload: b}); err != nil {
		u.log.Warn("uplink: publish config result", "err", err)
	}
}

// decideOnce handles a desired configuration unless its revision was
// handled already (a retained message delivered again on reconnect).
func (u *Uplink) decideOnce(payload []byte) (result, bool) {
	var head struct {
		Rev *uint64 `json:"rev"`
	}
	if len(payload) <= MaxDesired && json.Unmarshal(payload, &head) == nil && head.Rev != nil {
		if raw, _ := u.gw.Store().Meta(metaDesired); raw != nil {
			var last uint64
			if _, err := fmt.Sscan(string(raw), &last); err == nil && *head.Rev <= last {
				return result{}, false
			}
		}
		defer func() { _ = u.gw.Store().PutMeta(metaDesired, []byte(fmt.Sprint(*head.Rev))) }()
	}
	return u.decide(payload), true
}

func (u *Uplink) decide(payload []byte) result {
	_, localRev := u.gw.Site()
	invalid := func(rev uint64, errs ...string) result {
		_ = u.gw.AuditDetail(CloudActor, "sync.invalid", "site", device.ResultDenied, truncate(errs[0], 200))
		u.log.Warn("uplink: invalid desired configuration", "rev", rev, "errors", len(errs))
		return result{Rev: rev, Result: "invalid", Errors: errs, LocalRev: localRev}
	}
	if len(payload) > MaxDesired {
		return invalid(0, fmt.Sprintf("the desired configuration is %d bytes, over the %d byte limit", len(payload), MaxDesired))
	}
	var d desired
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return invalid(0, "not a desired configuration object: "+err.Error())
	}
	var rev uint64
	if d.Rev != nil {
		rev = *d.Rev
	}
	if d.Rev == nil || d.BaseRev == nil || len(d.Site) == 0 {
		return invalid(rev, "rev, base_rev and site are required")
	}
	current, _ := u.gw.Site()
	// JSON is YAML: the site file's strict decoder gives paths and
	// suggestions for unknown fields; "<set>" keeps stored secrets.
	next, err := device.ImportSiteYAML(d.Site, current)
	if err != nil {
		var ve *device.ValidationError
		if errors.As(err, &ve) {
			var errs []string
			for _, p := range ve.Problems {
				errs = append(errs, p.String())
			}
			return invalid(rev, errs...)
		}
		return invalid(rev, err.Error())
	}
	// The desired site is based on the revision the cloud last heard of;
	// ApplySite refuses it inside its transaction when the site changed
	// since (someone changed it offline meanwhile): that is a conflict.
	ch, err := u.gw.ApplySite(device.Edit{Actor: CloudActor, Action: device.ActionSyncApplied, Base: *d.BaseRev}, next)
	var stale *device.StaleError
	if errors.As(err, &stale) {
		localRev = stale.Current
		c := device.SyncConflict{DesiredRev: rev, BaseRev: *d.BaseRev, LocalRev: localRev, Received: time.Now().UTC(), Site: next}
		raw, _ := json.Marshal(storedConflict{SyncConflict: c, SiteJSON: d.Site})
		if err := u.gw.Store().PutMeta(metaConflict, raw); err != nil {
			u.log.Error("uplink: keep conflict", "err", err)
		}
		u.mu.Lock()
		u.conflict = &c
		u.mu.Unlock()
		_ = u.gw.AuditDetail(CloudActor, device.ActionSyncConflict, fmt.Sprintf("site@%d", localRev), device.ResultDenied, fmt.Sprintf("cloud rev %d based on %d", rev, *d.BaseRev))
		u.gw.Publish(device.Event{Kind: device.EventUplink, Detail: "conflict"})
		return result{Rev: rev, Result: "conflict", Errors: []string{fmt.Sprintf("based on revision %d, the gateway is at %d", *d.BaseRev, localRev)}, LocalRev: localRev}
	}
	if err != nil {
		return invalid(rev, err.Error())
	}
	u.log.Info("uplink: desired configuration applied", "rev", rev, "site_rev", ch.Rev)
	return result{Rev: rev, Result: "applied", Errors: []string{}, LocalRev: ch.Rev}
}

// Conflict returns the pending conflict.
func (u *Uplink) Conflict() (device.SyncConflict, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.conflict == nil {
		return device.SyncConflict{}, false
	}
	c := *u.conflict
	c.Site = c.Site.Clone()
	return c, true
}

// ResolveConflict settles the pending conflict as actor: take the cloud's
// site as a new revision through apply (the caller's permission checks and
// ApplySite; nil applies directly), or keep the local one and report it
// again so the cloud sees it.
func (u *Uplink) ResolveConflict(actor device.Actor, takeCloud bool, apply func(*device.Site) error) error {
	c, ok := u.Conflict()
	if !ok {
		return errors.New("there is no conflict to resolve")
	}
	if takeCloud {
		if apply == nil {
			apply = func(s *device.Site) error {
				_, err := u.gw.ApplySite(device.Edit{Actor: actor, Action: device.ActionSyncApplied, Base: c.LocalRev}, s)
				return err
			}
		}
		if err := apply(c.Site); err != nil {
			return err
		}
	} else {
		site, rev := u.gw.Site()
		reported, _ := json.Marshal(struct {
			Rev  uint64       `json:"rev"`
			Site *device.Site `json:"site"`
		}{rev, site.Redacted()})
		if _, err := u.gw.Store().Enqueue(string(device.StreamConfigReported), reported); err != nil {
			return err
		}
		_ = u.gw.AuditDetail(actor, device.ActionSyncKeepLocal, fmt.Sprintf("site@%d", rev), device.ResultOK, fmt.Sprintf("cloud rev %d not applied", c.DesiredRev))
	}
	if err := u.gw.Store().DeleteMeta(metaConflict); err != nil {
		return err
	}
	u.mu.Lock()
	u.conflict = nil
	u.mu.Unlock()
	u.gw.Publish(device.Event{Kind: device.EventUplink, Detail: "conflict resolved"})
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
