package amqp_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/Azure/go-amqp"
)

// A producer's batch delivering to more consumer connections than its end
// writes itself (maxInlineFlush): every connection gets every message, in
// order, whether the reader wrote it or a writer goroutine did.
func TestFanOutBeyondInlineFlush(t *testing.T) {
	s := startBroker(t, nil)
	const consumers, n = 24, 200
	receivers := make([]*amqp.Receiver, consumers)
	for i := range receivers {
		_, ss := session(t, s, nil)
		receivers[i] = newReceiver(t, ss, "topic://fanout.flush", &amqp.ReceiverOptions{Credit: 500})
	}
	_, ss := session(t, s, nil)
	snd := newSender(t, ss, "topic://fanout.flush", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Pipelined, so the broker reads the transfers in batches.
	receipts := make([]amqp.SendReceipt, 0, n)
	for i := range n {
		rc, err := snd.SendWithReceipt(ctx, amqp.NewMessage(fmt.Appendf(nil, "m%d", i)), nil)
		if err != nil {
			t.Fatal(err)
		}
		receipts = append(receipts, rc)
	}
	for _, rc := range receipts {
		if _, err := rc.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, consumers)
	for c, r := range receivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				m, err := r.Receive(ctx, nil)
				if err != nil {
					errs <- fmt.Errorf("consumer %d, message %d: %w", c, i, err)
					return
				}
				if got, want := string(m.GetData()), fmt.Sprintf("m%d", i); got != want {
					errs <- fmt.Errorf("consumer %d got %q, want %q", c, got, want)
					return
				}
				if err := r.AcceptMessage(ctx, m); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
