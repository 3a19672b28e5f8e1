package main

import (
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/server"
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
to disable it. SIGINT or SIGTERM shut the broker down cleanly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd, f) },
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
	if f.data != "" {
		// A folder given on the command line is relative to where the
		// command runs, not to the configuration file.
		abs, err := filepath.Abs(f.data)
		if err != nil {
			return nil, err
		}
		f.data = abs
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
	s, err := server.Start(ctx, cfg, log, server.Options{Repair: f.repair})
	if err != nil {
		return err
	}
	// SIGHUP re-reads the users file at once (it is also polled every 2 s).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for wait := true; wait; {
		select {
		case <-ctx.Done():
			wait = false
		case <-hup:
			if err := s.Security.Reload(); err != nil {
				log.Error("SIGHUP: reloading the users file failed, keeping the previous users", "err", err)
			}
		}
	}
	log.Info("shutting down")
	err = s.Shutdown()
	if errors.Is(err, ctx.Err()) {
		err = nil
	}
	return err
}
