package crash

import (
	"fmt"
	"testing"
	"time"

	"github.com/junctionmq/junction/internal/pgtest"
)

// TestKillUnderLoadPostgres is TestKillUnderLoad on the PostgreSQL store:
// the broker is SIGKILLed at random moments under persistent load (and now
// and then while it starts, migrating or taking the store lock), the
// database outliving it; no confirmed message may be lost, acks proven
// durable stay acked, delivery counts never go backwards, order holds.
func TestKillUnderLoadPostgres(t *testing.T) {
	url := pgtest.DB(t)
	sc := scenario{
		config: fmt.Sprintf(`
store:
  type: postgres
  url: %q
`, url),
		producers:      4,
		window:         16,
		maxFiller:      400,
		prefetch:       100,
		barrierEvery:   32,
		minLoad:        300 * time.Millisecond,
		maxLoad:        800 * time.Millisecond,
		earlyKillOneIn: 5,
		nackOneIn:      8,
	}
	l, sum := runScenario(t, sc)
	report(t, l, sum)
	if l.nConfirmed == 0 {
		t.Error("no message was confirmed: the test tested nothing")
	}
	if l.nacks == 0 {
		t.Error("no message was NACKed: the delivery-count checks tested nothing")
	}
}
