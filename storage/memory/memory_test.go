package memory

import (
	"testing"

	"github.com/junctionmq/junction/storage"
	"github.com/junctionmq/junction/storage/storetest"
)

// Harness opens memory stores kept by folder name, so that the contract
// suite's reopen finds the state a Close left.
func Harness() storetest.Harness {
	stores := map[string]*Store{}
	return storetest.Harness{
		Open: func(t *testing.T, dir string) storage.Store {
			if s, ok := stores[dir]; ok {
				s.Reopen()
				return s
			}
			s := New()
			stores[dir] = s
			return s
		},
	}
}

func TestContract(t *testing.T) { storetest.Run(t, Harness()) }
