package core

import "testing"

// TestDiscardOnQueueThatNeverHeldAMessage: a queue whose priority levels
// were never made (nothing ever reached it) answers Discard with false. The
// MQTT adapter calls Discard on the other subscriptions of a session, whose
// queues may never have received the message; it panicked on the nil levels
// when they were made lazily.
func TestDiscardOnQueueThatNeverHeldAMessage(t *testing.T) {
	b := newTestBroker(t, Config{})
	s := newSession(t, b, SessionOptions{})
	c, _ := consume(t, s, "never", ConsumerOptions{})
	if c.Discard(12345) {
		t.Fatal("Discard found a message in an empty queue")
	}
}
