package postgres

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/junctionmq/junction/internal/pgtest"
	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestContract runs the Store contract against a real PostgreSQL. Each
// subtest's folder names a database of its own, reached through a proxy
// that Break cuts (every connection closed, new ones refused) and Heal
// restores.
func TestContract(t *testing.T) {
	srv := pgtest.Get(t)
	var mu sync.Mutex
	type place struct {
		url   string
		proxy *pgtest.Proxy
	}
	places := map[string]*place{}
	proxies := map[storage.Store]*pgtest.Proxy{}
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T, dir string) storage.Store {
			mu.Lock()
			p, ok := places[dir]
			mu.Unlock()
			if !ok {
				db := srv.NewDB(t)
				proxy := pgtest.NewProxy(t, srv.Addr())
				p = &place{url: srv.URL(proxy.Addr(), db), proxy: proxy}
				mu.Lock()
				places[dir] = p
				mu.Unlock()
			}
			s, err := Open(context.Background(), Options{URL: p.url, Logger: quiet()})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			mu.Lock()
			proxies[s] = p.proxy
			mu.Unlock()
			return s
		},
		Break: func(t *testing.T, s storage.Store) {
			mu.Lock()
			defer mu.Unlock()
			proxies[s].Cut()
		},
		Heal: func(t *testing.T, s storage.Store) {
			mu.Lock()
			defer mu.Unlock()
			proxies[s].Heal()
		},
		PressureAt: pressureRequests,
	})
}
