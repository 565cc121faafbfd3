package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// Broker is a running embedded broker.
type Broker struct {
	srv   *mqtt.Server
	addr  string
	once  sync.Once
	close error
}

// Options configure Start.
type Options struct {
	// Address to listen on, e.g. 127.0.0.1:0.
	Address string
	// MinVersion of TLS the broker accepts (default TLS 1.2); tests lower
	// MaxVersion to play an outdated broker.
	MinVersion, MaxVersion uint16
	Logger                 *slog.Logger
}

// Start runs a broker with the server certificate of f, requiring client
// certificates signed by f's CA.
func Start(f Files, o Options) (*Broker, error) {
	cert, err := tls.LoadX509KeyPair(f.ServerCert, f.ServerKey)
	if err != nil {
		return nil, fmt.Errorf("broker certificate: %w", err)
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no CA certificate in %s", f.CA)
	}
	if o.MinVersion == 0 {
		o.MinVersion = tls.VersionTLS12
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	// The broker's start-up chatter stays out of the gateway's log.
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(warnOnly{o.Logger.Handler()})})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, err
	}
	l := listeners.NewTCP(listeners.Config{ID: "tls", Address: o.Address, TLSConfig: &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   o.MinVersion,
		MaxVersion:   o.MaxVersion,
	}})
	if err := srv.AddListener(l); err != nil {
		return nil, fmt.Errorf("broker listen on %s: %w", o.Address, err)
	}
	go func() { _ = srv.Serve() }()
	return &Broker{srv: srv, addr: l.Address()}, nil
}

// Addr returns the address the broker listens on.
func (b *Broker) Addr() string { return b.addr }

// URL returns the mqtts:// URL clients use.
func (b *Broker) URL() string { return "mqtts://" + b.addr }

// Server returns the mochi server, e.g. to subscribe inline in tests.
func (b *Broker) Server() *mqtt.Server { return b.srv }

// Close stops the broker; later calls do nothing.
func (b *Broker) Close() error {
	b.once.Do(func() { b.close = b.srv.Close() })
	return b.close
}

// warnOnly passes warnings and errors only.
type warnOnly struct{ slog.Handler }

func (w warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && w.Handler.Enabled(ctx, l)
}

func (w warnOnly) WithAttrs(a []slog.Attr) slog.Handler { return warnOnly{w.Handler.WithAttrs(a)} }
func (w warnOnly) WithGroup(n string) slog.Handler      { return warnOnly{w.Handler.WithGroup(n)} }
