package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/internal/gcfloor"
	"github.com/junctionmq/junction/internal/memlimit"
	"github.com/junctionmq/junction/internal/memtrim"
	"github.com/junctionmq/junction/server"
)

type serveFlags struct {
	config   string
	data     string
	listen   []string
	aliases  map[string]*string // --stomp, --mqtt, ...: one per listener
	store    string
	sync     string
	logLevel string
	repair   bool
	pprof    string
}

func newServeCmd() *cobra.Command {
	cmd, _ := serveCommand()
	return cmd
}

// serveCommand returns the serve command and the flags it fills in.
func serveCommand() (*cobra.Command, *serveFlags) {
	f := &serveFlags{aliases: map[string]*string{}}
	known := server.KnownListeners(server.Adapters)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the broker",
		Long: `Run the broker. With no configuration it listens on 127.0.0.1 at the standard
ports, keeps its journal in ./data and allows anonymous access (with a warning).

Listeners (name: default address):
` + listenerHelp(known) + `
Flags override the configuration file. A listener ADDR is host:port, or "off"
to disable it; --listen NAME=ADDR sets any listener, and --NAME ADDR is the
same. SIGINT or SIGTERM shut the broker down cleanly.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd, *f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "YAML configuration `FILE`")
	fl.StringVar(&f.data, "data", "", "journal folder `DIR` (default ./data)")
	fl.StringArrayVar(&f.listen, "listen", nil, "set a listener's address: `NAME=ADDR`, ADDR host:port or off; repeatable")
	fl.StringVar(&f.store, "store", "", "message store: journal (default), memory or postgres (with store.url in the configuration)")
	fl.StringVar(&f.sync, "sync", "", "journal sync policy: always, batch (default) or never")
	fl.StringVar(&f.logLevel, "log-level", "", "log level: debug, info (default), warn or error")
	fl.StringVar(&f.pprof, "pprof", "", "serve Go's profiles (net/http/pprof) on loopback `ADDR`, e.g. 127.0.0.1:6060; for measuring, not production")
	fl.BoolVar(&f.repair, "repair", false, "start even if the journal has a corrupt record in its middle, dropping what cannot be read")
	for _, l := range known {
		if fl.Lookup(l.Name) != nil {
			continue // a listener may not shadow a flag of its own
		}
		v := new(string)
		f.aliases[l.Name] = v
		fl.StringVar(v, l.Name, "", "same as --listen "+l.Name+"=`ADDR` ("+listenerDefault(l)+")")
	}
	return cmd, f
}

func listenerDefault(l server.ListenerPlan) string {
	if l.TLS {
		return "default " + l.Default + " once tls: is configured, else off"
	}
	return "default " + l.Default
}

func listenerHelp(known []server.ListenerPlan) string {
	var subprotocols []string
	for _, r := range server.Adapters {
		subprotocols = append(subprotocols, r.WebSocket.Subprotocols...)
	}
	var b strings.Builder
	for _, l := range known {
		fmt.Fprintf(&b, "  %-10s %s\n", l.Name+":", listenerDefault(l))
	}
	fmt.Fprintf(&b, "ws and wss serve every protocol by WebSocket subprotocol (%s).\n", strings.Join(subprotocols, ", "))
	return b.String()
}

// listenFlags merges --NAME ADDR and --listen NAME=ADDR into the
// configuration's listeners. Names are checked by the server, which knows
// the adapters.
func listenFlags(cfg *config.Config, f serveFlags) error {
	set := map[string]string{}
	for name, v := range f.aliases {
		if *v != "" {
			set[name] = *v
		}
	}
	for _, kv := range f.listen {
		name, addr, ok := strings.Cut(kv, "=")
		if !ok || name == "" || addr == "" {
			return fmt.Errorf("--listen %q: want NAME=ADDR, e.g. stomp=127.0.0.1:61613 or mqtt=off", kv)
		}
		if prev, dup := set[name]; dup && prev != addr {
			return fmt.Errorf("listener %s is given twice on the command line: %q and %q", name, prev, addr)
		}
		set[name] = addr
	}
	for name, addr := range set {
		cfg.Listeners.Set(name, addr)
	}
	return nil
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
	if err := listenFlags(cfg, f); err != nil {
		return nil, err
	}
	over(&cfg.Store.Type, f.store)
	over(&cfg.Store.Sync, f.sync)
	over(&cfg.Log.Level, f.logLevel)
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// Listener names, TLS needs and "everything off" are checked here too,
	// so that the error comes before any logging set-up.
	if _, err := server.PlanListeners(cfg, server.Adapters); err != nil {
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
	if f.pprof != "" {
		stopProfiles, err := serveProfiles(f.pprof, log)
		if err != nil {
			return err
		}
		defer stopProfiles()
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// The collector works harder as the heap nears the limit rather
		// than let it double past the budget (GOGC), and returns memory.
		if lim := server.MemoryLimit(int64(cfg.GlobalMaxSize), memlimit.Total()); lim > 0 {
			debug.SetMemoryLimit(lim)
		}
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A small live heap is collected every few MiB, at a fixed cost per
	// cycle: let it grow by at least a floor first (see internal/gcfloor).
	_, gogcSet := os.LookupEnv("GOGC")
	var serving atomic.Pointer[server.Server]
	gcfloor.Start(gcfloor.Default, gogcSet, func() uint64 {
		if s := serving.Load(); s != nil {
			return s.Core.Stats().Sent
		}
		return 0
	})
	if os.Getenv("JUNCTION_NO_TRIM") == "" {
		// Idle devices should cost what they hold, not the garbage their
		// connecting left behind (see internal/memtrim).
		go memtrim.Run(ctx, memtrim.Default, nil)
	}
	// SIGHUP re-reads the users file at once (it is also polled every 2 s).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		s, err := server.Start(ctx, cfg, log, server.Options{Repair: f.repair})
		if s != nil {
			serving.Store(s)
		}
		if err != nil {
			if ctx.Err() != nil {
				// Stopped while waiting as a backup.
				log.Info("stopped before taking the store")
				return nil
			}
			return err
		}
		fenced := false
		for wait := true; wait; {
			select {
			case <-ctx.Done():
				wait = false
			case <-s.Fenced():
				fenced, wait = true, false
			case <-hup:
				if err := s.Security.Reload(); err != nil {
					log.Error("SIGHUP: reloading the users file failed, keeping the previous users", "err", err)
				}
			}
		}
		if fenced {
			log.Error("ha role change: another broker took the store over; this one stops serving", "from", "live", "to", "stopped")
		} else {
			log.Info("shutting down")
		}
		err = s.Shutdown()
		if !fenced {
			if errors.Is(err, ctx.Err()) {
				err = nil
			}
			return err
		}
		if cfg.HA.Role == "" {
			return errors.New("fenced: another broker took the store over")
		}
		// A fenced live broker becomes a backup again.
		log.Info("ha role change", "from", "stopped", "to", "backup")
	}
}
