package faulty

import (
	"testing"

	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/memory"
	"github.com/junctionmq/junction/storage/storetest"
)

// A wrapped store is a store like any other, and Break is a failure the
// suite can observe.
func TestContract(t *testing.T) {
	stores := map[string]*memory.Store{}
	storetest.Run(t, storetest.Harness{
		Open: func(t *testing.T, dir string) storage.Store {
			m, ok := stores[dir]
			if ok {
				m.Reopen()
			} else {
				m = memory.New()
				stores[dir] = m
			}
			return Wrap(m)
		},
		Break: func(t *testing.T, s storage.Store) { s.(*Store).Break(nil) },
	})
}
