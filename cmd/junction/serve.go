package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/access"
	"github.com/junctionmq/junction/protocols/stomp"
	"github.com/junctionmq/junction/protocols/transport"
	"github.com/junctionmq/junction/security"
	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/memory"
)

type serveFlags struct {
	config   string
	data     string
	stomp    string
	stompTLS string
	ws       string
	wss      string
	mqtt     string
	mqttTLS  string
	store    string
	sync     string
	logLevel string
	repair   bool
}

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the broker",
		Long: `Run the broker. With no configuration it listens on 127.0.0.1 at the standard
ports (STOMP 61613, WebSocket 61614 for STOMP and MQTT, MQTT 1883), keeps its
journal in ./data and allows anonymous access (with a warning).

Flags override the configuration file. A listener ADDR is host:port, or "off"
to disable it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "YAML configuration `FILE`")
	fl.StringVar(&f.data, "data", "", "journal folder `DIR` (default ./data)")
	fl.StringVar(&f.stomp, "stomp", "", "STOMP listener `ADDR` (default "+config.DefaultSTOMP+")")
	fl.StringVar(&f.stompTLS, "stomp-tls", "", "STOMP over TLS listener `ADDR` (default "+config.DefaultSTOMPTLS+" when tls is configured, else off)")
	fl.StringVar(&f.ws, "ws", "", "WebSocket listener `ADDR` for STOMP (v10/v11/v12.stomp) and MQTT (mqtt) (default "+config.DefaultWS+")")
	fl.StringVar(&f.wss, "wss", "", "WebSocket over TLS listener `ADDR` (default "+config.DefaultWSS+" when tls is configured, else off)")
	fl.StringVar(&f.mqtt, "mqtt", "", "MQTT listener `ADDR` (default "+config.DefaultMQTT+")")
	fl.StringVar(&f.mqttTLS, "mqtt-tls", "", "MQTT over TLS listener `ADDR` (default "+config.DefaultMQTTTLS+" when tls is configured, else off)")
	fl.StringVar(&f.store, "store", "", "message store: journal (default) or memory")
	fl.StringVar(&f.sync, "sync", "", "journal sync policy: always, batch (default) or never")
	fl.StringVar(&f.logLevel, "log-level", "", "log level: debug, info (default), warn or error")
	fl.BoolVar(&f.repair, "repair", false, "start even if the journal has a corrupt record in its middle, dropping what cannot be read")
	return cmd
}

func loadServeConfig(f serveFlags) (*config.Config, error) {
	cfg, err := config.Load(f.config)
	if err != nil {
		return nil, err
	}
	over := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	over(&cfg.Data, f.data)
	over(&cfg.Listeners.STOMP, f.stomp)
	over(&cfg.Listeners.STOMPTLS, f.stompTLS)
	over(&cfg.Listeners.WS, f.ws)
	over(&cfg.Listeners.WSS, f.wss)
	over(&cfg.Listeners.MQTT, f.mqtt)
	over(&cfg.Listeners.MQTTTLS, f.mqttTLS)
	over(&cfg.Store.Type, f.store)
	over(&cfg.Store.Sync, f.sync)
	over(&cfg.Log.Level, f.logLevel)
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func newLogger(cfg *config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func serve(cmd *cobra.Command, f serveFlags) error {
	cfg, err := loadServeConfig(f)
	if err != nil {
		return err
	}
	log := newLogger(cfg)
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := startBroker(ctx, cfg, f.repair, log)
	if err != nil {
		return err
	}
	err = b.run(ctx)
	return errors.Join(err, b.shutdown())
}

// runningBroker is everything `serve` starts, in the order it stops them.
type runningBroker struct {
	cfg    *config.Config
	log    *slog.Logger
	core   *core.Broker
	srv    *transport.Server
	stomp  *stomp.Server
	extras []func(ctx context.Context) // adapters' shutdown reports
}

func openStore(cfg *config.Config, repair bool, log *slog.Logger) (storage.Store, error) {
	if cfg.Store.Type == "memory" {
		log.Warn("store is memory: nothing survives a restart")
		return memory.New(), nil
	}
	return openJournal(cfg, repair, log)
}

func startBroker(ctx context.Context, cfg *config.Config, repair bool, log *slog.Logger) (*runningBroker, error) {
	sec, err := security.New(cfg.Security, cfg.Dir, log)
	if err != nil {
		return nil, fmt.Errorf("security: %w", err)
	}
	if sec.AnonymousAllowed() {
		log.Warn("anonymous access is allowed: configure security.users-file to require logins")
	}
	var tlsConf *tls.Config
	if cfg.TLS != nil && cfg.TLS.CertFile != "" {
		if tlsConf, err = cfg.TLS.Build(); err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
	}
	st, err := openStore(cfg, repair, log)
	if err != nil {
		return nil, err
	}
	cb, err := core.New(core.Config{Store: st, AddressSettings: cfg.AddressSettings, Logger: log, MaxMessageSize: int(cfg.MaxMessageSize)})
	if err != nil {
		st.Close()
		return nil, err
	}
	rs, err := cb.Start(ctx)
	if err != nil {
		cb.Close()
		return nil, err
	}
	log.Info("recovered", "queues", rs.Queues, "messages", rs.Messages, "references", rs.Refs, "took", rs.Duration.Round(time.Millisecond))

	gate := &access.Gate{Manager: sec}
	rb := &runningBroker{cfg: cfg, log: log, core: cb, srv: transport.NewServer(log)}
	rb.stomp = stomp.NewServer(stomp.Options{Broker: cb, Gate: gate, Logger: log})
	ws := transport.NewWebSocket(log)
	if err := ws.HandleSTOMP(rb.stomp); err != nil {
		return nil, err
	}
	if err := registerMQTT(rb, gate, ws); err != nil {
		rb.shutdown()
		return nil, err
	}
	listen := func(name, addr string, tlsOn bool, serveFn func(ln net.Listener) error) error {
		if addr == config.Off {
			return nil
		}
		var tc *tls.Config
		if tlsOn {
			tc = tlsConf
		}
		ln, err := transport.ListenTCP(addr, tc)
		if err != nil {
			return fmt.Errorf("listener %s: %w", name, err)
		}
		go func() {
			if err := serveFn(ln); err != nil && !errors.Is(err, transport.ErrServerClosed) {
				log.Error("listener stopped", "listener", name, "err", err)
			}
		}()
		warnExposed(log, name, ln.Addr(), sec.AnonymousAllowed())
		log.Info("listening", "listener", name, "addr", ln.Addr().String(), "tls", tlsOn)
		return nil
	}
	stompFn := func(name string) func(net.Listener) error {
		return func(ln net.Listener) error { return rb.srv.Serve(name, ln, rb.stomp) }
	}
	wsFn := func(name string) func(net.Listener) error {
		return func(ln net.Listener) error { return rb.srv.ServeWebSocket(name, ln, ws) }
	}
	listeners := []listenerSpec{
		{"stomp", cfg.Listeners.STOMP, false, stompFn},
		{"stomp-tls", cfg.Listeners.STOMPTLS, true, stompFn},
		{"ws", cfg.Listeners.WS, false, wsFn},
		{"wss", cfg.Listeners.WSS, true, wsFn},
	}
	listeners = append(listeners, mqttListeners(rb)...)
	for _, x := range listeners {
		if x.fn == nil {
			continue
		}
		if err := listen(x.name, x.addr, x.tls, x.fn(x.name)); err != nil {
			rb.shutdown()
			return nil, err
		}
	}
	log.Info("junction ready", "data", cfg.Data, "store", cfg.Store.Type)
	return rb, nil
}

// listenerSpec is one listener serve may open; fn returns the function that
// serves an opened listener under the given name.
type listenerSpec struct {
	name, addr string
	tls        bool
	fn         func(name string) func(ln net.Listener) error
}

// warnExposed logs loudly when anonymous clients can reach the broker from
// other machines.
func warnExposed(log *slog.Logger, name string, addr net.Addr, anonymous bool) {
	ta, ok := addr.(*net.TCPAddr)
	if !ok || !anonymous || ta.IP.IsLoopback() {
		return
	}
	log.Warn("!!! ANONYMOUS ACCESS ON A NON-LOOPBACK ADDRESS: anyone who can reach this port can send and consume; configure security.users-file !!!",
		"listener", name, "addr", addr.String())
}

func (rb *runningBroker) run(ctx context.Context) error {
	<-ctx.Done()
	rb.log.Info("shutting down")
	return nil
}

func (rb *runningBroker) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, report := range rb.extras {
		report(ctx)
	}
	err := rb.srv.Shutdown(ctx)
	if cerr := rb.core.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("closing the store: %w", cerr))
	}
	st := rb.core.Stats()
	rb.log.Info("stopped", "sent", st.Sent, "expired", st.Expired, "dead-lettered", st.DeadLettered)
	return err
}
