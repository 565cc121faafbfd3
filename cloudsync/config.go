package cloudsync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/sitegate/sitegate/device"
	"github.com/sitegate/sitegate/store"
)

// CloudActor is the cloud when it changes the site.
var CloudActor = device.Actor{ID: "cloud", Role: "cloud"}

// MaxDesired bounds a desired configuration message.
const MaxDesired = 1 << 20

const (
	metaConflict = "cloudsync.conflict"
	// metaDesired is the last desired revision handled: the cloud retains
	// config/desired, so every reconnect delivers it again. Only a valid
	// desired configuration (applied, or a conflict) moves it: an invalid
	// one — whatever rev it claims — must not make the gateway ignore the
	// valid ones that follow.
	metaDesired = "cloudsync.desired_rev"
	// metaInvalid is the SHA-256 of the last invalid desired payload, so
	// that a retained invalid message is answered (and audited) once, not
	// again at every reconnect.
	metaInvalid = "cloudsync.desired_invalid"
	// conflictSecretPrefix keeps the secrets of a pending conflict's cloud
	// site in the secret store, apart from the site's own.
	conflictSecretPrefix = "sync-conflict/"
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

// storedConflict persists a conflict across restarts. The cloud's site is
// kept as device.SealSite writes it: its secrets are in the secret store
// (Sealed); an older sitegate kept the cloud's JSON as it came, secrets in
// clear.
type storedConflict struct {
	device.SyncConflict
	SiteJSON json.RawMessage `json:"site"`
	Sealed   bool            `json:"sealed,omitempty"`
}

// keepConflict stores c with the cloud's site (secrets in the secret store)
// in one transaction.
func keepConflict(st Store, c device.SyncConflict) error {
	return st.Update(func(tx *store.Tx) error {
		body, err := device.SealSite(tx, c.Site, conflictSecretPrefix)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(storedConflict{SyncConflict: c, SiteJSON: body, Sealed: true})
		if err != nil {
			return err
		}
		return tx.PutMeta(metaConflict, raw)
	})
}

// loadConflict reads the pending conflict. One stored by an older sitegate
// (secrets in clear) is stored again sealed, and the database compacted so
// the clear copy does not survive in a freed page.
func loadConflict(st Store) (device.SyncConflict, bool) {
	var sc storedConflict
	found := false
	var openErr error
	_ = st.View(func(tx *store.Tx) error {
		raw := tx.Meta(metaConflict)
		if raw == nil || json.Unmarshal(raw, &sc) != nil {
			return nil
		}
		found = true
		if sc.Sealed {
			sc.Site, openErr = device.OpenSite(tx, sc.SiteJSON)
		} else {
			sc.Site, openErr = device.DecodeSiteYAML(sc.SiteJSON)
		}
		return nil
	})
	if !found || sc.Site == nil || (openErr != nil && !errors.Is(openErr, device.ErrSecretLost)) {
		return device.SyncConflict{}, false
	}
	if !sc.Sealed {
		if keepConflict(st, sc.SyncConflict) == nil {
			_ = st.Compact()
		}
	}
	return sc.SyncConflict, true
}

// dropConflict removes the pending conflict and its secrets.
func dropConflict(st Store) error {
	return st.Update(func(tx *store.Tx) error {
		if err := device.DropSealedSecrets(tx, conflictSecretPrefix); err != nil {
			return err
		}
		return tx.DeleteMeta(metaConflict)
	})
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
// handled already (a retained message delivered again on reconnect). Only
// a valid one (applied, or a conflict) is recorded as handled; an invalid
// one is remembered by its digest, so that a retained invalid message is
// answered once.
func (u *Uplink) decideOnce(payload []byte) (result, bool) {
	st := u.st
	sum := sha256.Sum256(payload)
	digest := hex.EncodeToString(sum[:])
	if raw, _ := st.Meta(metaInvalid); string(raw) == digest {
		return result{}, false
	}
	var head struct {
		Rev *uint64 `json:"rev"`
	}
	if len(payload) <= MaxDesired && json.Unmarshal(payload, &head) == nil && head.Rev != nil {
		if raw, _ := st.Meta(metaDesired); raw != nil {
			if last, err := strconv.ParseUint(string(raw), 10, 64); err == nil && *head.Rev <= last {
				return result{}, false
			}
		}
	}
	res := u.decide(payload)
	switch {
	case res.Result == "invalid":
		_ = st.PutMeta(metaInvalid, []byte(digest))
	default:
		_ = st.PutMeta(metaDesired, []byte(strconv.FormatUint(res.Rev, 10)))
	}
	return res, true
}

// parseDesired decodes a config/desired payload and checks the site it
// carries against current (the site now): it returns the message, the
// site ready to apply ("<set>" secrets resolved), and every problem. rev
// is the message's rev as far as it could be read (0 otherwise).
func parseDesired(payload []byte, current *device.Site) (d desired, next *device.Site, rev uint64, problems []string) {
	if len(payload) > MaxDesired {
		return d, nil, 0, []string{fmt.Sprintf("the desired configuration is %d bytes, over the %d byte limit", len(payload), MaxDesired)}
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return d, nil, 0, []string{"not a desired configuration object: " + err.Error()}
	}
	if dec.More() {
		return d, nil, 0, []string{"not a desired configuration object: data after the object"}
	}
	if d.Rev != nil {
		rev = *d.Rev
	}
	if d.Rev == nil || d.BaseRev == nil || len(d.Site) == 0 {
		return d, nil, rev, []string{"rev, base_rev and site are required"}
	}
	// JSON is YAML: the site file's strict decoder gives paths and
	// suggestions for unknown fields; "<set>" keeps stored secrets.
	next, err := device.ImportSiteYAML(d.Site, current)
	if err != nil {
		var ve *device.ValidationError
		if errors.As(err, &ve) {
			for _, p := range ve.Problems {
				problems = append(problems, p.String())
			}
			return d, nil, rev, problems
		}
		return d, nil, rev, []string{err.Error()}
	}
	return d, next, rev, nil
}

func (u *Uplink) decide(payload []byte) result {
	current, localRev := u.gw.Site()
	invalid := func(rev uint64, errs ...string) result {
		_ = u.gw.AuditDetail(CloudActor, "sync.invalid", "site", device.ResultDenied, truncate(errs[0], 200))
		u.log.Warn("uplink: invalid desired configuration", "rev", rev, "errors", len(errs))
		return result{Rev: rev, Result: "invalid", Errors: errs, LocalRev: localRev}
	}
	d, next, rev, problems := parseDesired(payload, current)
	if len(problems) > 0 {
		return invalid(rev, problems...)
	}
	// The desired site is based on the revision the cloud last heard of;
	// ApplySite refuses it inside its transaction when the site changed
	// since (someone changed it offline meanwhile): that is a conflict.
	ch, err := u.gw.ApplySite(device.Edit{Actor: CloudActor, Action: device.ActionSyncApplied, Base: *d.BaseRev}, next)
	var stale *device.StaleError
	if errors.As(err, &stale) {
		localRev = stale.Current
		// Kept as the cloud sent it: "<set>" is resolved when an installer
		// takes the cloud's site, against what is stored then.
		cloudSite, derr := device.DecodeSiteYAML(d.Site)
		if derr != nil {
			cloudSite = next
		}
		c := device.SyncConflict{DesiredRev: rev, BaseRev: *d.BaseRev, LocalRev: localRev, Received: time.Now().UTC(), Site: cloudSite}
		if err := keepConflict(u.st, c); err != nil {
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
		if _, err := u.st.Enqueue(string(device.StreamConfigReported), reported); err != nil {
			return err
		}
		_ = u.gw.AuditDetail(actor, device.ActionSyncKeepLocal, fmt.Sprintf("site@%d", rev), device.ResultOK, fmt.Sprintf("cloud rev %d not applied", c.DesiredRev))
	}
	if err := dropConflict(u.st); err != nil {
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
