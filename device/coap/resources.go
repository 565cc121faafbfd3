package coap

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/plgd-dev/go-coap/v3/message"
	"github.com/plgd-dev/go-coap/v3/message/codes"
	"github.com/plgd-dev/go-coap/v3/mux"

	"github.com/sitegate/sitegate/device"
)

// The server's resources.
const (
	PathReadings = "/v1/readings"
	PathConfig   = "/v1/config"
)

// Errors of the resources, answered to the sensor as diagnostic payloads.
var (
	// errNoSensor means the session's sensor left the site meanwhile.
	errNoSensor = errors.New("no such sensor")
	// errStale means a reading's time is outside the accepted window.
	errStale = errors.New("stale reading")
)

func (d *Driver) router() *mux.Router {
	r := mux.NewRouter()
	_ = r.Handle(PathReadings, mux.HandlerFunc(d.handleReadings))
	_ = r.Handle(PathConfig, mux.HandlerFunc(d.handleConfig))
	r.DefaultHandle(mux.HandlerFunc(func(w mux.ResponseWriter, _ *mux.Message) {
		d.stats.add(CounterBadRequest, 1)
		respond(w, codes.NotFound, "resources: "+PathReadings+" (POST), "+PathConfig+" (GET, observable)")
	}))
	return r
}

// respond answers with a code and a diagnostic payload (RFC 7252 section
// 5.5.2): a short text that never holds a secret.
func respond(w mux.ResponseWriter, code codes.Code, diag string) {
	var body io.ReadSeeker
	if diag != "" {
		body = bytes.NewReader([]byte(diag))
	}
	_ = w.SetResponse(code, message.TextPlain, body)
}

// admit returns the PSK identity of the request's session when the
// request uses method, and answers it otherwise.
func (d *Driver) admit(w mux.ResponseWriter, r *mux.Message, method codes.Code, hint string) (string, bool) {
	s, ok := w.Conn().NetConn().(*session)
	switch {
	case !ok:
		respond(w, codes.InternalServerError, "")
		return "", false
	case r.Code() != method:
		d.stats.add(CounterBadRequest, 1)
		respond(w, codes.MethodNotAllowed, hint)
		return "", false
	}
	return s.identity, true
}

// handleReadings serves POST /v1/readings.
func (d *Driver) handleReadings(w mux.ResponseWriter, r *mux.Message) {
	identity, ok := d.admit(w, r, codes.POST, "POST readings here")
	if !ok {
		return
	}
	remote := w.Conn().RemoteAddr().String()
	body, err := readBody(r)
	if err == nil && r.Options().HasOption(message.Block1) {
		// Blocks are not reassembled: this would be the first only.
		err = fmt.Errorf("send the body in one message of at most %d bytes, not in blocks", MaxBodySize)
	}
	if err != nil {
		d.bodyRefused(identity, CounterTooLarge)
		d.refusal(CounterTooLarge, remote, identity, err.Error())
		respond(w, codes.RequestEntityTooLarge, err.Error())
		return
	}
	var root item
	switch cf, err := r.Options().ContentFormat(); {
	case err != nil || cf == message.AppJSON:
		root, err = decodeJSON(body)
		if err != nil {
			d.malformed(w, identity, remote, err)
			return
		}
	case cf == message.AppCBOR:
		root, err = decodeCBOR(body)
		if err != nil {
			d.malformed(w, identity, remote, err)
			return
		}
	default:
		d.bodyRefused(identity, CounterUnsupportedFormat)
		d.refusal(CounterUnsupportedFormat, remote, identity, cf.String())
		respond(w, codes.UnsupportedMediaType, "send application/json (50) or application/cbor (60)")
		return
	}
	samples, err := interpret(root)
	if err != nil {
		d.malformed(w, identity, remote, err)
		return
	}
	switch _, err := d.accept(identity, samples); {
	case errors.Is(err, errStale):
		d.refusal(CounterStale, remote, identity, err.Error())
		respond(w, codes.BadRequest, err.Error())
	case err != nil:
		respond(w, codes.ServiceUnavailable, "")
	default:
		respond(w, codes.Changed, "")
	}
}

func (d *Driver) malformed(w mux.ResponseWriter, identity, remote string, err error) {
	d.bodyRefused(identity, CounterMalformed)
	d.refusal(CounterMalformed, remote, identity, err.Error())
	respond(w, codes.BadRequest, err.Error())
}

// readBody reads a request body of at most MaxBodySize bytes.
func readBody(r *mux.Message) ([]byte, error) {
	rs := r.Body()
	if rs == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(rs, MaxBodySize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxBodySize {
		return nil, fmt.Errorf("the body is over %d bytes", MaxBodySize)
	}
	return b, nil
}

// Config is the document GET /v1/config returns to a sensor: its own
// settings (binding JSON names).
type Config struct {
	Name      string            `json:"name"`
	IntervalS int64             `json:"interval_s"`       // how often to report
	Points    []string          `json:"points,omitempty"` // the points the gateway takes; empty: any
	Settings  map[string]string `json:"settings,omitempty"`
}

func configDoc(s device.CoAPSensor) []byte {
	c := Config{Name: s.Name, IntervalS: int64(time.Duration(s.EffectiveInterval()) / time.Second)}
	for _, p := range s.Points {
		c.Points = append(c.Points, p.Name)
	}
	if len(s.Settings) > 0 {
		c.Settings = make(map[string]string, len(s.Settings))
		for _, st := range s.Settings {
			c.Settings[st.Name] = st.Value
		}
	}
	b, _ := json.Marshal(c) // strings and numbers only
	return b
}

// observer is a sensor's registration for its configuration (RFC 7641).
type observer struct {
	conn  mux.Conn
	token message.Token
	mu    sync.Mutex
	seq   uint32
}

// notification is a changed document for one observer.
type notification struct {
	o   *observer
	doc []byte
}

// handleConfig serves GET /v1/config, with Observe.
func (d *Driver) handleConfig(w mux.ResponseWriter, r *mux.Message) {
	identity, ok := d.admit(w, r, codes.GET, "GET the configuration here")
	if !ok {
		return
	}
	if acc, err := r.Options().Accept(); err == nil && acc != message.AppJSON {
		d.stats.add(CounterBadRequest, 1)
		respond(w, codes.NotAcceptable, "the configuration is application/json (50)")
		return
	}
	d.mu.Lock()
	s := d.sensors[identity]
	if s == nil {
		d.mu.Unlock()
		respond(w, codes.Forbidden, "")
		return
	}
	doc := s.config
	obs, err := r.Options().Observe()
	var o *observer
	switch {
	case err == nil && obs == 0:
		o = &observer{conn: w.Conn(), token: append(message.Token(nil), r.Token()...), seq: 2}
		s.observers = append(dropObserver(s.observers, w.Conn(), r.Token()), o)
		if len(s.observers) > MaxObservers {
			s.observers = s.observers[len(s.observers)-MaxObservers:]
		}
	case err == nil && obs == 1:
		s.observers = dropObserver(s.observers, w.Conn(), r.Token())
	}
	d.mu.Unlock()
	if o != nil {
		w.Conn().AddOnClose(func() { d.forget(identity, o) })
	}
	_ = w.SetResponse(codes.Content, message.AppJSON, bytes.NewReader(doc))
	if o != nil {
		w.Message().SetObserve(o.next())
	}
}

func (o *observer) next() uint32 {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seq = (o.seq + 1) & 0xffffff // 24 bits (RFC 7641 section 3.4)
	return o.seq
}

func dropObserver(obs []*observer, c mux.Conn, token message.Token) []*observer {
	out := obs[:0:0]
	for _, o := range obs {
		if o.conn != c || !bytes.Equal(o.token, token) {
			out = append(out, o)
		}
	}
	return out
}

// forget drops an observer whose session ended.
func (d *Driver) forget(identity string, o *observer) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.sensors[identity]; s != nil {
		out := s.observers[:0:0]
		for _, x := range s.observers {
			if x != o {
				out = append(out, x)
			}
		}
		s.observers = out
	}
}

// notifyAll sends changed configurations to their observers.
func (d *Driver) notifyAll(ns []notification) {
	for _, n := range ns {
		cc := n.o.conn
		m := cc.AcquireMessage(cc.Context())
		m.SetCode(codes.Content)
		m.SetToken(n.o.token)
		m.SetContentFormat(message.AppJSON)
		m.SetObserve(n.o.next())
		m.SetBody(bytes.NewReader(n.doc))
		if err := cc.WriteMessage(m); err != nil {
			d.log.Debug("coap: notification not sent", "err", err)
		}
		cc.ReleaseMessage(m)
	}
}
