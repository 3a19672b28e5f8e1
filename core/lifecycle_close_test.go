package core

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// closeWatcher records the reasons passed to OnClose.
type closeWatcher struct{ ch chan error }

// qmsg is a message for the anycast queue of the same name, created on
// the first send.
func qmsg(queue, body string, props ...any) *Message {
	m := msg(queue, body, props...)
	m.RoutingType = Anycast
	return m
}

func newCloseWatcher() *closeWatcher { return &closeWatcher{ch: make(chan error, 4)} }

func (w *closeWatcher) onClose(err error) { w.ch <- err }

func (w *closeWatcher) wait(t *testing.T, want error) {
	t.Helper()
	select {
	case err := <-w.ch:
		if !errors.Is(err, want) {
			t.Fatalf("OnClose(%v), want %v", err, want)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("OnClose not called (want %v)", want)
	}
	select {
	case err := <-w.ch:
		t.Fatalf("OnClose called again with %v", err)
	default:
	}
}

func TestDeleteQueueClosesConsumersWithReason(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	w := newCloseWatcher()
	c, col := consume(t, s, "q", ConsumerOptions{Window: true, Credit: 10, OnClose: w.onClose})
	send(t, s, qmsg("q", "a"))
	col.next(t, waitTimeout) // in flight when the queue goes
	if err := b.DeleteQueue("q"); err != nil {
		t.Fatal(err)
	}
	w.wait(t, ErrQueueDeleted)
	if _, ok := b.Queue("q"); ok {
		t.Fatal("queue still there")
	}
	if n := len(s.consumerList()); n != 0 {
		t.Fatalf("session still lists %d consumers", n)
	}
	// The adapter's own Close afterwards is harmless and tells nobody.
	c.Close()
	if err := b.DeleteQueue("q"); !errors.Is(err, ErrNoSuchQueue) {
		t.Fatalf("second DeleteQueue: %v", err)
	}
}

func TestCloseConsumerByOperator(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{ClientID: "app", User: "alice"})
	w := newCloseWatcher()
	c, col := consume(t, s, "q", ConsumerOptions{Window: true, Credit: 10, OnClose: w.onClose, Selector: "x = 1"})
	send(t, s, qmsg("q", "a", "x", 1))
	col.next(t, waitTimeout)
	list := b.Consumers()
	if len(list) != 1 || list[0].ID != c.ID() || list[0].Queue != "q" || list[0].User != "alice" ||
		list[0].ClientID != "app" || list[0].Selector != "x = 1" || list[0].InFlight != 1 || list[0].Credit != 9 {
		t.Fatalf("Consumers() = %+v", list)
	}
	if err := b.CloseConsumer(c.ID(), nil); err != nil {
		t.Fatal(err)
	}
	w.wait(t, ErrAdminClosed)
	if st := queueStats(t, b, "q"); st.Ready != 1 || st.Consumers != 0 {
		t.Fatalf("after close: %+v (the in-flight message must be back)", st)
	}
	if err := b.CloseConsumer(c.ID(), nil); err == nil {
		t.Fatal("closing a closed consumer succeeded")
	}
	if got := b.Consumers(); len(got) != 0 {
		t.Fatalf("Consumers() after close = %+v", got)
	}
}

func TestCloseSessionTellsSessionOnly(t *testing.T) {
	b := newTestBroker(t, Config{})
	sw := newCloseWatcher()
	s := newSession(t, b, SessionOptions{OnClose: sw.onClose})
	cw := newCloseWatcher()
	_, _ = consume(t, s, "q", ConsumerOptions{Credit: 1, OnClose: cw.onClose})
	if err := b.CloseSession(s.ID(), ErrTakenOver); err != nil {
		t.Fatal(err)
	}
	sw.wait(t, ErrTakenOver)
	select {
	case err := <-cw.ch:
		t.Fatalf("consumer OnClose(%v) on a session close", err)
	default:
	}
	if got := b.Consumers(); len(got) != 0 {
		t.Fatalf("consumer survived its session: %+v", got)
	}
	if err := b.CloseSession(s.ID(), nil); err == nil {
		t.Fatal("closing a closed session succeeded")
	}
	// Closed sessions leave the registry, whoever closed them.
	other := b.NewSession(SessionOptions{})
	other.Close()
	if n := len(b.openSessions()); n != 0 {
		t.Fatalf("%d sessions still registered", n)
	}
}

// TestRevalidate: after a (simulated) users-file change a session whose
// login is gone is closed, and a consumer whose permission is gone is closed
// while the same session's other consumers and sends go on.
func TestRevalidate(t *testing.T) {
	b := newTestBroker(t, Config{})
	var mu sync.Mutex
	denied := map[string]bool{}
	removed := false
	authorize := func(p Permission, addr string) error {
		mu.Lock()
		defer mu.Unlock()
		if p == PermConsume && denied[addr] {
			return errors.New("not allowed")
		}
		return nil
	}
	login := func() error {
		mu.Lock()
		defer mu.Unlock()
		if removed {
			return errors.New("user removed")
		}
		return nil
	}
	sw := newCloseWatcher()
	s := newSession(t, b, SessionOptions{Authorize: authorize, LoginValid: login, OnClose: sw.onClose})
	gone, stays := newCloseWatcher(), newCloseWatcher()
	_, _ = consume(t, s, "secret", ConsumerOptions{Credit: 1, OnClose: gone.onClose})
	_, _ = subscribe(t, s, SubscribeOptions{Address: "news.#"}, ConsumerOptions{Credit: 1, OnClose: stays.onClose})

	b.Revalidate() // nothing changed: nobody is closed
	mu.Lock()
	denied["secret"] = true
	mu.Unlock()
	b.Revalidate()
	gone.wait(t, ErrPermissionRevoked)
	select {
	case err := <-stays.ch:
		t.Fatalf("the permitted subscription was closed: %v", err)
	case err := <-sw.ch:
		t.Fatalf("the session was closed: %v", err)
	default:
	}
	mu.Lock()
	removed = true
	mu.Unlock()
	b.Revalidate()
	sw.wait(t, ErrPermissionRevoked)
	if got := b.Consumers(); len(got) != 0 {
		t.Fatalf("consumers left after the login went: %+v", got)
	}
}

func TestDrainReportsUnusedCredit(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	for i := range 3 {
		send(t, s, qmsg("q", fmt.Sprint(i)))
	}
	c, col := consume(t, s, "q", ConsumerOptions{Credit: -1}) // credit 0: nothing yet
	c.SetCredit(0)
	col.none(t)
	c.AddCredit(10)
	if got := len(col.take(t, 3)); got != 3 {
		t.Fatalf("%d deliveries", got)
	}
	if unused := c.Drain(); unused != 7 {
		t.Fatalf("Drain() = %d, want 7", unused)
	}
	if c.Credit() != 0 {
		t.Fatalf("credit after drain %d", c.Credit())
	}
	send(t, s, qmsg("q", "late"))
	col.none(t) // no credit after the drain
	c.AddCredit(5)
	if d := col.next(t, waitTimeout); string(d.Message.Body) != "late" {
		t.Fatalf("got %q", d.Message.Body)
	}
	// A closed consumer has nothing to drain.
	c.Close()
	if unused := c.Drain(); unused != 0 {
		t.Fatalf("Drain on a closed consumer = %d", unused)
	}
}

func TestPull(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "q", ConsumerOptions{Credit: -1})
	c.SetCredit(0)

	// A message ready: delivered at once, no timer left behind.
	send(t, s, qmsg("q", "ready"))
	expired := make(chan struct{}, 4)
	onExpire := func() { expired <- struct{}{} }
	c.Pull(time.Minute, onExpire)
	if d := col.next(t, waitTimeout); string(d.Message.Body) != "ready" {
		t.Fatalf("got %q", d.Message.Body)
	}
	if c.PullPending() || c.Credit() != 0 {
		t.Fatalf("pull still pending after delivery (credit %d)", c.Credit())
	}

	// Nothing ready, timeout 0: "nothing" at once.
	c.Pull(0, onExpire)
	select {
	case <-expired:
	default:
		t.Fatal("Pull(0) on an empty queue did not answer nothing")
	}

	// Nothing ready: the message that arrives within the timeout is delivered.
	c.Pull(time.Minute, onExpire)
	if !c.PullPending() {
		t.Fatal("no pull pending")
	}
	send(t, s, qmsg("q", "arrived"))
	if d := col.next(t, waitTimeout); string(d.Message.Body) != "arrived" {
		t.Fatalf("got %q", d.Message.Body)
	}
	if c.PullPending() {
		t.Fatal("pull pending after its message")
	}

	// Nothing arrives: nothing after the timeout, and the credit is gone.
	c.Pull(20*time.Millisecond, onExpire)
	select {
	case <-expired:
	case <-time.After(waitTimeout):
		t.Fatal("Pull did not time out")
	}
	send(t, s, qmsg("q", "after"))
	col.none(t)
	if c.Credit() != 0 || c.PullPending() {
		t.Fatalf("credit %d after a timed-out pull", c.Credit())
	}

	// Closing the consumer stops a waiting pull's timer: no callback.
	c2, _ := consume(t, s, "empty", ConsumerOptions{Credit: -1})
	c2.SetCredit(0)
	c2.Pull(30*time.Millisecond, onExpire)
	c2.Close()
	time.Sleep(60 * time.Millisecond) // longer than the timeout: proving a callback does NOT come
	select {
	case <-expired:
		t.Fatal("expired called for a closed consumer")
	default:
	}
}

// TestPullLeavesNoTimers pulls many times with long timeouts, each answered
// by a message: the timers must all be stopped (goleak checks goroutines,
// this checks the runtime's timer count does not grow without bound).
func TestPullLeavesNoTimers(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	c, col := consume(t, s, "q", ConsumerOptions{Credit: -1})
	c.SetCredit(0)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapObjects
	for i := range 2000 {
		c.Pull(time.Hour, func() { t.Error("expired") })
		send(t, s, qmsg("q", fmt.Sprint(i)))
		d := col.next(t, waitTimeout)
		if err := c.Ack(d.Tag); err != nil {
			t.Fatal(err)
		}
		if c.PullPending() {
			t.Fatalf("pull %d still pending", i)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	// 2000 live one-hour timers with their closures would keep well over
	// 6000 objects; stopped ones are collected.
	if grew := int64(ms.HeapObjects) - int64(before); grew > 3000 {
		t.Fatalf("heap grew by %d objects over 2000 answered pulls", grew)
	}
}

func TestBrowserWithCredit(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	for i := range 10 {
		send(t, s, qmsg("q", fmt.Sprint(i), "even", i%2 == 0))
	}
	var seen []string
	ended := false
	br, err := s.NewBrowser("q", BrowserOptions{Credit: 3, Selector: "even = TRUE",
		Handler: func(m *Message) { seen = append(seen, string(m.Body)) }, OnEnd: func() { ended = true }})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seen) != "[0 2 4]" || ended {
		t.Fatalf("after credit 3: %v ended=%v", seen, ended)
	}
	br.AddCredit(10)
	if fmt.Sprint(seen) != "[0 2 4 6 8]" || !ended || !br.Ended() {
		t.Fatalf("after more credit: %v ended=%v", seen, ended)
	}
	if st := queueStats(t, b, "q"); st.Ready != 10 {
		t.Fatalf("browsing took messages: %+v", st)
	}
}

// TestBrowserWhileQueueChanges browses while messages are consumed,
// released and sent: every message shown is shown once, messages present
// throughout are all shown, in order.
func TestBrowserWhileQueueChanges(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	const stable = 500
	for i := range stable {
		send(t, s, qmsg("q", fmt.Sprintf("s%03d", i), "stable", true))
	}
	for i := range 300 {
		send(t, s, qmsg("q", fmt.Sprintf("c%03d", i)))
	}
	// A consumer that takes only the churn messages, acking some and
	// releasing others (they come back to the front), concurrently.
	c, col := consume(t, s, "q", ConsumerOptions{Credit: 50, Window: true, Selector: "stable IS NULL"})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		n := 0
		for {
			select {
			case <-stop:
				return
			case d := <-col.ch:
				n++
				if n%3 == 0 {
					_ = c.Release(d.Tag)
				} else {
					_ = c.Ack(d.Tag)
				}
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := sendErr(s, qmsg("q", fmt.Sprintf("n%05d", i))); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	count := map[string]int{}
	var stableOrder []string
	var batch []string
	br, err := s.NewBrowser("q", BrowserOptions{Handler: func(m *Message) { batch = append(batch, string(m.Body)) }})
	if err != nil {
		t.Fatal(err)
	}
	for !br.Ended() {
		batch = batch[:0]
		br.AddCredit(7)
		for _, body := range batch {
			count[body]++
			if body[0] == 's' {
				stableOrder = append(stableOrder, body)
			}
		}
		if len(count) > 100000 {
			break
		}
	}
	close(stop)
	wg.Wait()
	for body, n := range count {
		if n > 1 {
			t.Fatalf("%s shown %d times", body, n)
		}
	}
	if len(stableOrder) != stable {
		t.Fatalf("%d of %d stable messages shown", len(stableOrder), stable)
	}
	for i, body := range stableOrder {
		if want := fmt.Sprintf("s%03d", i); body != want {
			t.Fatalf("stable message %d is %s, want %s", i, body, want)
		}
	}
}

// TestBrowserSkipsReturnedMessages: messages taken by a consumer and
// released after the browser started come back to the head of the queue;
// the browser shows none of them a second time and carries on behind them.
func TestBrowserSkipsReturnedMessages(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	for i := range 200 {
		send(t, s, qmsg("q", fmt.Sprintf("%03d", i)))
	}
	var shown []string
	br, err := s.NewBrowser("q", BrowserOptions{Credit: 100, Handler: func(m *Message) { shown = append(shown, string(m.Body)) }})
	if err != nil {
		t.Fatal(err)
	}
	c, col := consume(t, s, "q", ConsumerOptions{Credit: 150})
	for i, d := range col.take(t, 150) {
		if i < 10 || i >= 140 {
			if err := c.Release(d.Tag); err != nil {
				t.Fatal(err)
			}
		} else if err := c.Ack(d.Tag); err != nil {
			t.Fatal(err)
		}
	}
	c.SetCredit(0)
	br.AddCredit(1000)
	if !br.Ended() {
		t.Fatal("browser did not reach the end")
	}
	seen := map[string]bool{}
	for _, body := range shown {
		if seen[body] {
			t.Fatalf("%s shown twice", body)
		}
		seen[body] = true
	}
	for i := range 200 {
		body := fmt.Sprintf("%03d", i)
		if want := i < 100 || i >= 150; seen[body] != want {
			t.Fatalf("%s shown %v, want %v (shown %v)", body, seen[body], want, shown)
		}
	}
	if st := queueStats(t, b, "q"); st.Ready != 70 {
		t.Fatalf("queue after browsing: %+v", st)
	}
}

// TestBrowserAcrossCompaction: a selective consumer takes three messages in
// four from the middle of the queue while a browser is half way, so the
// level is compacted and its positions renumbered; the browser finds its
// place again, whether the last message it showed is still queued or not.
func TestBrowserAcrossCompaction(t *testing.T) {
	for _, credit := range []int{49, 50} { // the last shown: 48 stays, 49 is taken
		t.Run(fmt.Sprint(credit), func(t *testing.T) {
			b := newTestBroker(t, Config{})
			s := newSession(t, b, SessionOptions{})
			for i := range 400 {
				send(t, s, qmsg("q", fmt.Sprintf("%03d", i), "take", i%4 != 0))
			}
			var shown []string
			br, err := s.NewBrowser("q", BrowserOptions{Credit: credit, Handler: func(m *Message) { shown = append(shown, string(m.Body)) }})
			if err != nil {
				t.Fatal(err)
			}
			q, _ := b.Queue("q")
			epoch := func() uint32 { q.mu.Lock(); defer q.mu.Unlock(); return q.levels[4].epoch }
			before := epoch()
			_, col := consume(t, s, "q", ConsumerOptions{Credit: 1000, AutoAck: true, Selector: "take = TRUE"})
			if got := len(col.take(t, 300)); got != 300 {
				t.Fatalf("consumer took %d", got)
			}
			if epoch() == before {
				t.Fatal("the level was not compacted: the test does not test what it says")
			}
			br.AddCredit(1000)
			seen := map[string]bool{}
			for _, body := range shown {
				if seen[body] {
					t.Fatalf("%s shown twice", body)
				}
				seen[body] = true
			}
			for i := range 400 {
				body := fmt.Sprintf("%03d", i)
				if want := i < credit || i%4 == 0; seen[body] != want {
					t.Fatalf("%s shown %v, want %v", body, seen[body], want)
				}
			}
		})
	}
}
