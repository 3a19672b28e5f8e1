// Package plugins is Junction's plugin API: hooks named after Artemis'
// broker plugin hooks, one small interface per hook, and a compiled-in
// registry that the `plugins:` list of the configuration selects from, the
// way Caddy modules register.
//
// A plugin is a Go value built by its Factory; it implements only the hook
// interfaces it needs (ConnectionCreated, BeforeSend, MessageAcknowledged,
// ...). Load checks each plugin against every interface once and builds a
// core.Hooks holding only the hooks some plugin has, so the broker's hot
// path pays a nil test for each missing hook and nothing else.
//
// A plugin package registers itself in an init function:
//
//	func init() { plugins.Register("mine", New) }
//
// and a binary that imports the package (for its side effect) can name
// "mine" in its configuration. docs/PLUGINS.md shows a whole one.
package plugins

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/junctionmq/junction/core"
)

// Factory builds a plugin from its configuration.
type Factory func(Env) (any, error)

// Env is what a Factory gets.
type Env struct {
	// Name is the name the plugin is registered and configured under.
	Name string
	// Options are the plugin's `options:` from the configuration.
	Options Options
	// Logger is the broker's, with plugin=<name>.
	Logger *slog.Logger
	// Dir is the configuration file's folder: relative paths in Options
	// are relative to it. DataDir is the broker's data folder.
	Dir, DataDir string
}

// Options decode a plugin's `options:` into a struct of the plugin's own
// (yaml.Node implements it: the struct takes yaml tags).
type Options interface {
	Decode(v any) error
}

// Spec selects one plugin: what one entry of `plugins:` says.
type Spec struct {
	Name string
	// Options may be nil: the plugin gets its defaults.
	Options Options
}

var (
	regMu    sync.RWMutex
	registry = map[string]Factory{}
)

// Register makes a plugin available under name. It panics when the name is
// taken or empty: registrations run in init functions, where a clash is a
// programming error best found at once.
func Register(name string, f Factory) {
	if name == "" || f == nil {
		panic("plugins: Register needs a name and a factory")
	}
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("plugins: %q registered twice", name))
	}
	registry[name] = f
}

// Registered lists the plugin names this binary knows, sorted.
func Registered() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func lookup(name string) (Factory, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	f, ok := registry[name]
	return f, ok
}

// Route is an HTTP endpoint a plugin offers to the management listener,
// which serves it behind its own authentication (the manage permission).
type Route struct {
	// Pattern is a net/http ServeMux pattern: "GET /api/v1/traces/{id}".
	Pattern string
	Handler http.Handler
}

// Set is the loaded plugins of one broker. The methods of a nil *Set do
// nothing, so a broker without plugins needs no tests for them.
type Set struct {
	names   []string
	plugins []any
	hooks   core.Hooks

	security []SecurityEventHook
	mgmt     []ManagementActionHook
	log      *slog.Logger
}

// Load builds the plugins specs select, in order, and the hooks they
// implement. A name that is not registered, a name given twice or a
// factory's error fails the whole load (the broker does not start).
func Load(specs []Spec, log *slog.Logger, dir, dataDir string) (*Set, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Set{log: log}
	for _, sp := range specs {
		f, ok := lookup(sp.Name)
		if !ok {
			s.Close()
			return nil, fmt.Errorf("plugins: unknown plugin %q (this binary has: %v)", sp.Name, Registered())
		}
		if slices.Contains(s.names, sp.Name) {
			s.Close()
			return nil, fmt.Errorf("plugins: %q is configured twice", sp.Name)
		}
		opts := sp.Options
		if opts == nil {
			opts = noOptions{}
		}
		p, err := f(Env{Name: sp.Name, Options: opts, Logger: log.With("plugin", sp.Name), Dir: dir, DataDir: dataDir})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("plugins: %s: %w", sp.Name, err)
		}
		hooks := HooksOf(p)
		if len(hooks) == 0 {
			// Not an error (a plugin may only start something of its
			// own), but most likely a method with the wrong signature.
			log.Warn("plugin implements no hook: check its methods' signatures against package plugins", "plugin", sp.Name, "type", fmt.Sprintf("%T", p))
		} else {
			log.Info("plugin", "plugin", sp.Name, "hooks", hooks)
		}
		s.names = append(s.names, sp.Name)
		s.plugins = append(s.plugins, p)
	}
	s.build()
	return s, nil
}

type noOptions struct{}

func (noOptions) Decode(any) error { return nil }

// Names lists the loaded plugins in configuration order.
func (s *Set) Names() []string {
	if s == nil {
		return nil
	}
	return slices.Clone(s.names)
}

// Plugin returns the loaded plugin configured under name, or nil.
func (s *Set) Plugin(name string) any {
	if s == nil {
		return nil
	}
	if i := slices.Index(s.names, name); i >= 0 {
		return s.plugins[i]
	}
	return nil
}

// Hooks are the core hooks of the loaded plugins, for core.Config.Hooks
// and access.Gate.Hooks. A nil Set has none.
func (s *Set) Hooks() core.Hooks {
	if s == nil {
		return core.Hooks{}
	}
	return s.hooks
}

// Routes collects the HTTP routes of the plugins that offer some.
func (s *Set) Routes() []Route {
	if s == nil {
		return nil
	}
	var out []Route
	for _, p := range s.plugins {
		if r, ok := p.(Router); ok {
			out = append(out, r.Routes()...)
		}
	}
	return out
}

// Close closes the plugins that hold resources (io.Closer), in reverse
// order, and returns their errors joined.
func (s *Set) Close() error {
	if s == nil {
		return nil
	}
	var errs []error
	for i := len(s.plugins) - 1; i >= 0; i-- {
		if c, ok := s.plugins[i].(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s.names[i], err))
			}
		}
	}
	return errors.Join(errs...)
}

// ManagementAction is an operator's action through the management API or
// console, for the plugins that audit them.
type ManagementAction struct {
	Time   time.Time
	User   string // "" when anonymous
	Remote string
	// Name is what was done: "queue.purge", "queue.redrive",
	// "connection.close", ...
	Name   string
	Target string
	Params map[string]any
	// Result is "ok" or "error" (then Error says why).
	Result string
	Error  string
}

// ManagementAction hands an operator's action to the plugins that
// implement ManagementActionHook. The management listener calls it.
func (s *Set) ManagementAction(a ManagementAction) {
	if s == nil {
		return
	}
	if a.Time.IsZero() {
		a.Time = time.Now()
	}
	for _, h := range s.mgmt {
		h.ManagementAction(a)
	}
}
