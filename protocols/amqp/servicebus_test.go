package amqp_test

// The Azure Service Bus SDK for Go (azservicebus), used as its
// documentation says with a connection string in emulator mode (plain
// AMQP, SASL ANONYMOUS, a SAS token put to $cbs per entity), against
// Junction's $cbs and $management nodes.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/Azure/go-amqp"
	stompc "github.com/go-stomp/stomp/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/junctionmq/junction/config"
	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/access"
	amqpserver "github.com/junctionmq/junction/protocols/amqp"
	"github.com/junctionmq/junction/security"
	"github.com/junctionmq/junction/server"
)

const (
	sbKey      = "c2VjcmV0LWtleS1mb3ItYWxpY2UtMDEyMzQ1Njc4OQ=="
	sbPassword = "alice-password"
)

// withSAS configures a users file: alice (password sbPassword, sas-key
// sbKey, role "users"), and bob (sas-key, role "outsiders"), with the
// given permissions (nil: authorization off).
func withSAS(t *testing.T, perms map[string]map[string][]string) func(*config.Config) {
	t.Helper()
	dir := t.TempDir()
	h, err := bcrypt.GenerateFromPassword([]byte(sbPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	f := security.UsersFile{Users: []security.User{
		{Name: "alice", Password: string(h), Roles: []string{"users"}, SASKey: sbKey},
		{Name: "bob", Password: string(h), Roles: []string{"outsiders"}, SASKey: "bob-key-0123456789abcdef"},
	}}
	if err := f.Save(filepath.Join(dir, "users.yaml")); err != nil {
		t.Fatalf("writing users file: %v", err)
	}
	anonymous := false
	return func(c *config.Config) {
		c.Dir = dir
		c.Security.UsersFile = "users.yaml"
		c.Security.Anonymous = &anonymous
		c.Security.Permissions = perms
	}
}

// sbConnString is the connection string the SDK documents for an
// emulator: the broker's AMQP port, a key name and key.
func sbConnString(s *server.Server, keyName, key string) string {
	return fmt.Sprintf("Endpoint=sb://%s;SharedAccessKeyName=%s;SharedAccessKey=%s;UseDevelopmentEmulator=true", s.Addr("amqp"), keyName, key)
}

// noRetries makes refusals come back at once.
var noRetries = &azservicebus.ClientOptions{RetryOptions: azservicebus.RetryOptions{MaxRetries: -1}}

func sbClient(t *testing.T, connStr string, opts *azservicebus.ClientOptions) *azservicebus.Client {
	t.Helper()
	c, err := azservicebus.NewClientFromConnectionString(connStr, opts)
	if err != nil {
		t.Fatalf("azservicebus client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func sbSender(t *testing.T, c *azservicebus.Client, queue string) *azservicebus.Sender {
	t.Helper()
	snd, err := c.NewSender(queue, nil)
	if err != nil {
		t.Fatalf("new sender: %v", err)
	}
	t.Cleanup(func() { _ = snd.Close(context.Background()) })
	return snd
}

func sbReceiver(t *testing.T, c *azservicebus.Client, queue string, opts *azservicebus.ReceiverOptions) *azservicebus.Receiver {
	t.Helper()
	r, err := c.NewReceiverForQueue(queue, opts)
	if err != nil {
		t.Fatalf("new receiver: %v", err)
	}
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

// sbReceive receives until n messages came (bounded by waitFor).
func sbReceive(t *testing.T, r *azservicebus.Receiver, n int) []*azservicebus.ReceivedMessage {
	t.Helper()
	ctx := ctxFor(t)
	var got []*azservicebus.ReceivedMessage
	for len(got) < n {
		ms, err := r.ReceiveMessages(ctx, n-len(got), nil)
		if err != nil {
			t.Fatalf("ReceiveMessages after %d of %d: %v", len(got), n, err)
		}
		got = append(got, ms...)
	}
	return got
}

func sbCode(err error) azservicebus.Code {
	var e *azservicebus.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// A batch and a single message sent, received in PeekLock mode with their
// bodies, application properties and lock tokens, completed: the queue is
// empty after.
func TestServiceBusSendReceiveComplete(t *testing.T) {
	s := startBroker(t, withSAS(t, nil))
	c := sbClient(t, sbConnString(s, "alice", sbKey), nil)
	snd := sbSender(t, c, "orders")
	batch, err := snd.NewMessageBatch(ctxFor(t), nil)
	if err != nil {
		t.Fatalf("NewMessageBatch: %v", err)
	}
	for i := range 4 {
		m := &azservicebus.Message{Body: []byte(fmt.Sprintf("order-%d", i)), ApplicationProperties: map[string]any{"n": int64(i), "kind": "batch"}}
		if err := batch.AddMessage(m, nil); err != nil {
			t.Fatalf("AddMessage: %v", err)
		}
	}
	if err := snd.SendMessageBatch(ctxFor(t), batch, nil); err != nil {
		t.Fatalf("SendMessageBatch: %v", err)
	}
	subject := "single"
	if err := snd.SendMessage(ctxFor(t), &azservicebus.Message{Body: []byte("order-4"), Subject: &subject, ApplicationProperties: map[string]any{"n": int64(4), "kind": "single"}}, nil); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	r := sbReceiver(t, c, "orders", nil)
	got := sbReceive(t, r, 5)
	seen := map[string]bool{}
	for _, m := range got {
		n, _ := m.ApplicationProperties["n"].(int64)
		if want := fmt.Sprintf("order-%d", n); string(m.Body) != want {
			t.Errorf("body %q with n=%d", m.Body, n)
		}
		if m.DeliveryCount != 1 {
			t.Errorf("%s: DeliveryCount %d, want 1", m.Body, m.DeliveryCount)
		}
		if m.LockToken == [16]byte{} {
			t.Errorf("%s: no lock token", m.Body)
		}
		if m.SequenceNumber == nil || m.EnqueuedTime == nil || m.LockedUntil == nil || !m.LockedUntil.After(*m.EnqueuedTime) {
			t.Errorf("%s: system properties seq %v enqueued %v locked-until %v", m.Body, m.SequenceNumber, m.EnqueuedTime, m.LockedUntil)
		}
		seen[string(m.Body)] = true
		if n == 4 && (m.Subject == nil || *m.Subject != "single" || m.ApplicationProperties["kind"] != "single") {
			t.Errorf("single message: subject %v, props %v", m.Subject, m.ApplicationProperties)
		}
		if err := r.CompleteMessage(ctxFor(t), m, nil); err != nil {
			t.Fatalf("CompleteMessage: %v", err)
		}
	}
	if len(seen) != 5 {
		t.Fatalf("received %v", seen)
	}
	waitUntil(t, "the queue empty", func() bool {
		st := queueStats(t, s, "orders")
		return st.Messages == 0 && st.InFlight == 0
	})
}

// Abandon gives the message back with its DeliveryCount raised (Service
// Bus counts an abandon); dead-letter moves it to Junction's dead-letter
// queue with the reason, where a receiver of the $DeadLetterQueue
// sub-queue finds it.
func TestServiceBusAbandonDeadLetter(t *testing.T) {
	s := startBroker(t, withSAS(t, nil))
	c := sbClient(t, sbConnString(s, "alice", sbKey), nil)
	if err := sbSender(t, c, "work").SendMessage(ctxFor(t), &azservicebus.Message{Body: []byte("job")}, nil); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	r := sbReceiver(t, c, "work", nil)
	m := sbReceive(t, r, 1)[0]
	if err := r.AbandonMessage(ctxFor(t), m, nil); err != nil {
		t.Fatalf("AbandonMessage: %v", err)
	}
	m = sbReceive(t, r, 1)[0]
	if m.DeliveryCount != 2 || string(m.Body) != "job" {
		t.Fatalf("after abandon: %q DeliveryCount %d, want 2", m.Body, m.DeliveryCount)
	}
	reason, desc := "poison", "cannot parse"
	if err := r.DeadLetterMessage(ctxFor(t), m, &azservicebus.DeadLetterOptions{Reason: &reason, ErrorDescription: &desc}); err != nil {
		t.Fatalf("DeadLetterMessage: %v", err)
	}
	waitUntil(t, "the message in the DLQ", func() bool {
		q, ok := s.Core.Queue("DLQ")
		return ok && q.Stats().Messages == 1
	})
	dlq := sbReceiver(t, c, "work", &azservicebus.ReceiverOptions{SubQueue: azservicebus.SubQueueDeadLetter})
	d := sbReceive(t, dlq, 1)[0]
	if string(d.Body) != "job" {
		t.Fatalf("dead-lettered body %q", d.Body)
	}
	if got, _ := d.ApplicationProperties["_AMQ_DLQ_REASON"].(string); got != "poison: cannot parse" {
		t.Fatalf("dead-letter reason %q (properties %v)", got, d.ApplicationProperties)
	}
	if d.DeadLetterReason == nil || *d.DeadLetterReason != "poison" || d.DeadLetterErrorDescription == nil || *d.DeadLetterErrorDescription != "cannot parse" {
		t.Fatalf("DeadLetterReason %v, DeadLetterErrorDescription %v", d.DeadLetterReason, d.DeadLetterErrorDescription)
	}
	if err := dlq.CompleteMessage(ctxFor(t), d, nil); err != nil {
		t.Fatalf("CompleteMessage on the DLQ: %v", err)
	}
	if st := queueStats(t, s, "work"); st.Messages != 0 {
		t.Fatalf("work still holds %d", st.Messages)
	}
}

// ReceiveAndDelete: the messages are gone once received; settling them is
// refused by the SDK itself.
func TestServiceBusReceiveAndDelete(t *testing.T) {
	s := startBroker(t, withSAS(t, nil))
	c := sbClient(t, sbConnString(s, "alice", sbKey), nil)
	snd := sbSender(t, c, "rad")
	for i := range 3 {
		if err := snd.SendMessage(ctxFor(t), &azservicebus.Message{Body: []byte{byte('a' + i)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	r := sbReceiver(t, c, "rad", &azservicebus.ReceiverOptions{ReceiveMode: azservicebus.ReceiveModeReceiveAndDelete})
	got := sbReceive(t, r, 3)
	var bodies []string
	for _, m := range got {
		bodies = append(bodies, string(m.Body))
	}
	slices.Sort(bodies)
	if !slices.Equal(bodies, []string{"a", "b", "c"}) {
		t.Fatalf("received %v", bodies)
	}
	waitUntil(t, "the queue empty", func() bool {
		st := queueStats(t, s, "rad")
		return st.Messages == 0 && st.InFlight == 0
	})
}

// Peek shows messages with sequence numbers without taking them; renew-lock
// answers for a held message and says lock lost once it is settled;
// schedule delivers later; cancel is refused clearly.
func TestServiceBusManagement(t *testing.T) {
	s := startBroker(t, withSAS(t, nil))
	c := sbClient(t, sbConnString(s, "alice", sbKey), noRetries)
	snd := sbSender(t, c, "mgmt")
	for i := range 3 {
		if err := snd.SendMessage(ctxFor(t), &azservicebus.Message{Body: []byte(fmt.Sprint(i))}, nil); err != nil {
			t.Fatal(err)
		}
	}
	r := sbReceiver(t, c, "mgmt", nil)
	peeked, err := r.PeekMessages(ctxFor(t), 10, nil)
	if err != nil {
		t.Fatalf("PeekMessages: %v", err)
	}
	if len(peeked) != 3 {
		t.Fatalf("peeked %d messages, want 3", len(peeked))
	}
	for i, m := range peeked {
		if string(m.Body) != fmt.Sprint(i) || m.SequenceNumber == nil || m.EnqueuedTime == nil {
			t.Fatalf("peeked #%d: %q seq %v enqueued %v", i, m.Body, m.SequenceNumber, m.EnqueuedTime)
		}
		if i > 0 && *m.SequenceNumber <= *peeked[i-1].SequenceNumber {
			t.Fatalf("sequence numbers not increasing: %d then %d", *peeked[i-1].SequenceNumber, *m.SequenceNumber)
		}
	}
	// From a sequence number on: the last one only.
	last, err := r.PeekMessages(ctxFor(t), 10, &azservicebus.PeekMessagesOptions{FromSequenceNumber: peeked[2].SequenceNumber})
	if err != nil || len(last) != 1 || string(last[0].Body) != "2" {
		t.Fatalf("peek from %d: %v %v", *peeked[2].SequenceNumber, last, err)
	}
	if st := queueStats(t, s, "mgmt"); st.Messages != 3 {
		t.Fatalf("peek took messages: %d left", st.Messages)
	}

	got := sbReceive(t, r, 1)[0]
	before := time.Now()
	if err := r.RenewMessageLock(ctxFor(t), got, nil); err != nil {
		t.Fatalf("RenewMessageLock: %v", err)
	}
	if got.LockedUntil == nil || got.LockedUntil.Before(before) {
		t.Fatalf("LockedUntil after renew: %v", got.LockedUntil)
	}
	if err := r.CompleteMessage(ctxFor(t), got, nil); err != nil {
		t.Fatal(err)
	}
	err = r.RenewMessageLock(ctxFor(t), got, nil)
	if sbCode(err) != azservicebus.CodeLockLost {
		t.Fatalf("renewing a settled message's lock: %v, want lock lost", err)
	}

	seqs, err := snd.ScheduleMessages(ctxFor(t), []*azservicebus.Message{{Body: []byte("later")}}, time.Now().Add(300*time.Millisecond), nil)
	if err != nil || len(seqs) != 1 || seqs[0] <= 0 {
		t.Fatalf("ScheduleMessages: %v %v", seqs, err)
	}
	err = snd.CancelScheduledMessages(ctxFor(t), seqs, nil)
	if err == nil || !strings.Contains(err.Error(), "501") || !strings.Contains(err.Error(), "not supported") {
		t.Fatalf("CancelScheduledMessages: %v, want a 501 saying it is not supported", err)
	}
	var bodies []string
	for len(bodies) < 3 {
		ms, err := r.ReceiveMessages(ctxFor(t), 3, nil)
		if err != nil {
			t.Fatalf("ReceiveMessages: %v", err)
		}
		for _, m := range ms {
			bodies = append(bodies, string(m.Body))
			if err := r.CompleteMessage(ctxFor(t), m, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !slices.Contains(bodies, "later") {
		t.Fatalf("the scheduled message did not come: %v", bodies)
	}
}

// A Service Bus client and a STOMP client share a queue: each sees what
// the other sent, application properties as headers.
func TestServiceBusInteropSTOMP(t *testing.T) {
	s := startBroker(t, withSAS(t, nil))
	c := sbClient(t, sbConnString(s, "alice", sbKey), nil)
	if err := sbSender(t, c, "shared").SendMessage(ctxFor(t), &azservicebus.Message{Body: []byte("from azure"), ApplicationProperties: map[string]any{"region": "west"}}, nil); err != nil {
		t.Fatal(err)
	}
	sc, err := stompc.Dial("tcp", s.Addr("stomp"), stompc.ConnOpt.Login("alice", sbPassword), stompc.ConnOpt.MsgSendTimeout(waitFor))
	if err != nil {
		t.Fatalf("STOMP connect: %v", err)
	}
	t.Cleanup(func() { _ = sc.MustDisconnect() })
	sub := stompSub(t, sc, "/queue/shared")
	m := stompRecv(t, sub)
	if string(m.Body) != "from azure" || m.Header.Get("region") != "west" {
		t.Fatalf("STOMP got %q region=%q", m.Body, m.Header.Get("region"))
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	// No content type: bytes, which reach the SDK as its Body (a text
	// content type would make an amqp-value string: RawAMQPMessage).
	if err := sc.Send("/queue/shared", "", []byte("from stomp"), stompc.SendOpt.Header("region", "east"), stompc.SendOpt.Receipt); err != nil {
		t.Fatal(err)
	}
	r := sbReceiver(t, c, "shared", nil)
	got := sbReceive(t, r, 1)[0]
	if string(got.Body) != "from stomp" || got.ApplicationProperties["region"] != "east" {
		t.Fatalf("Service Bus got %q %v", got.Body, got.ApplicationProperties)
	}
	if err := r.CompleteMessage(ctxFor(t), got, nil); err != nil {
		t.Fatal(err)
	}
}

// A wrong key, an unknown key name and an expired token are refused with
// 401 (the SDK's unauthorized code) and audited; nothing is sent.
func TestServiceBusBadTokens(t *testing.T) {
	s := startBroker(t, withSAS(t, nil))
	for name, cs := range map[string]string{
		"wrong key":    sbConnString(s, "alice", "not-the-key-0123456789"),
		"unknown name": sbConnString(s, "mallory", sbKey),
		"no sas-key":   sbConnString(s, "nobody", sbKey),
		"expired": fmt.Sprintf("Endpoint=sb://%s;SharedAccessSignature=%s;UseDevelopmentEmulator=true", s.Addr("amqp"),
			security.SignSAS("amqp://"+s.Addr("amqp")+"/", "alice", sbKey, time.Now().Add(-time.Minute))),
	} {
		t.Run(name, func(t *testing.T) {
			c := sbClient(t, cs, noRetries)
			err := sbSender(t, c, "guarded").SendMessage(ctxFor(t), &azservicebus.Message{Body: []byte("x")}, nil)
			if sbCode(err) != azservicebus.CodeUnauthorizedAccess || !strings.Contains(err.Error(), "401") {
				t.Fatalf("send with a bad token: %v, want unauthorized (401)", err)
			}
			if name == "expired" && !strings.Contains(err.Error(), "expired") {
				t.Fatalf("an expired token's error does not say so: %v", err)
			}
		})
	}
	if _, ok := s.Core.Queue("guarded"); ok {
		t.Fatal("a refused client made the queue")
	}
	// A token signed with the right key for the whole namespace works.
	good := fmt.Sprintf("Endpoint=sb://%s;SharedAccessSignature=%s;UseDevelopmentEmulator=true", s.Addr("amqp"),
		security.SignSAS("amqp://"+s.Addr("amqp")+"/", "alice", sbKey, time.Now().Add(time.Hour)))
	if err := sbSender(t, sbClient(t, good, noRetries), "guarded").SendMessage(ctxFor(t), &azservicebus.Message{Body: []byte("x")}, nil); err != nil {
		t.Fatalf("send with a good precomputed token: %v", err)
	}
}

// Authorization after a token uses the token's user and the ACLs: bob may
// not send to alice's queue; alice may.
func TestServiceBusDeniedAddress(t *testing.T) {
	perms := map[string]map[string][]string{
		"orders.#": {"send": {"users"}, "consume": {"users"}, "browse": {"users"}, "createAddress": {"users"}, "createDurableQueue": {"users"}},
	}
	s := startBroker(t, withSAS(t, perms))
	bob := sbClient(t, sbConnString(s, "bob", "bob-key-0123456789abcdef"), noRetries)
	err := sbSender(t, bob, "orders.eu").SendMessage(ctxFor(t), &azservicebus.Message{Body: []byte("x")}, nil)
	if sbCode(err) != azservicebus.CodeUnauthorizedAccess {
		t.Fatalf("bob sending to orders.eu: %v, want unauthorized", err)
	}
	alice := sbClient(t, sbConnString(s, "alice", sbKey), noRetries)
	if err := sbSender(t, alice, "orders.eu").SendMessage(ctxFor(t), &azservicebus.Message{Body: []byte("x")}, nil); err != nil {
		t.Fatalf("alice sending to orders.eu: %v", err)
	}
	// The core stamped the token's user as the validated sender.
	sess := s.Core.NewSession(core.SessionOptions{})
	defer sess.Close()
	var users []string
	if err := sess.Browse("orders.eu", "", func(m *core.Message) bool { users = append(users, m.UserID); return true }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(users, []string{"alice"}) {
		t.Fatalf("validated users on the queue: %q", users)
	}
}

// SASL ANONYMOUS without a token: where anonymous access is off, only $cbs
// may be attached; other links are refused as unauthorized.
func TestServiceBusNoTokenRefused(t *testing.T) {
	s := startBroker(t, withSAS(t, nil))
	_, ss := session(t, s, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
	_, err := ss.NewSender(ctxFor(t), "orders", nil)
	if err == nil {
		t.Fatal("a link without a token was attached")
	}
	if e := amqpError(t, err); e.Condition != amqp.ErrCondUnauthorizedAccess || !strings.Contains(e.Description, "$cbs") {
		t.Fatalf("refusal: %v", e)
	}
}

var cbsReplies atomic.Int64

// cbsPut puts a token to $cbs over a raw go-amqp connection, as the SDKs
// do, and returns the response's status code and description.
func cbsPut(t *testing.T, ss *amqp.Session, token, audience string) (int32, string) {
	t.Helper()
	replyTo := fmt.Sprintf("cbs-reply-%d", cbsReplies.Add(1))
	snd := newSender(t, ss, "$cbs", nil)
	rcv := newReceiver(t, ss, "$cbs", &amqp.ReceiverOptions{TargetAddress: replyTo, Credit: 10,
		SettlementMode: amqp.ReceiverSettleModeFirst.Ptr(), RequestedSenderSettleMode: amqp.SenderSettleModeSettled.Ptr()})
	req := &amqp.Message{
		Properties:            &amqp.MessageProperties{MessageID: "req-1", ReplyTo: &replyTo},
		ApplicationProperties: map[string]any{"operation": "put-token", "type": "servicebus.windows.net:sastoken", "name": audience},
		Value:                 token,
	}
	send(t, snd, req)
	resp := receive(t, rcv)
	if resp.Properties == nil || resp.Properties.CorrelationID != "req-1" {
		t.Fatalf("response not correlated: %+v", resp.Properties)
	}
	code, _ := resp.ApplicationProperties["status-code"].(int32)
	desc, _ := resp.ApplicationProperties["status-description"].(string)
	return code, desc
}

// A connection whose token expires without a newer one is closed with
// unauthorized-access.
func TestServiceBusTokenExpiryClosesConnection(t *testing.T) {
	s := startBroker(t, withSAS(t, nil))
	conn, ss := session(t, s, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
	aud := "amqp://" + s.Addr("amqp") + "/q"
	if code, desc := cbsPut(t, ss, security.SignSAS(aud, "alice", sbKey, time.Now().Add(1500*time.Millisecond)), aud); code/100 != 2 {
		t.Fatalf("put-token: %d %s", code, desc)
	}
	send(t, newSender(t, ss, "q", nil), amqp.NewMessage([]byte("in time")))
	select {
	case <-conn.Done():
	case <-time.After(waitFor):
		t.Fatal("the connection outlived its token")
	}
	if e := amqpError(t, conn.Err()); e.Condition != amqp.ErrCondUnauthorizedAccess || !strings.Contains(e.Description, "expired") {
		t.Fatalf("close: %v", e)
	}
}

// On a connection logged in with SASL PLAIN, a token must name the same
// user; JWT tokens and other operations get clear refusals.
func TestServiceBusCBSOnPlainConnection(t *testing.T) {
	s := startBroker(t, withSAS(t, nil))
	_, ss := session(t, s, &amqp.ConnOptions{SASLType: amqp.SASLTypePlain("alice", sbPassword)})
	aud := "amqp://" + s.Addr("amqp") + "/q"
	if code, desc := cbsPut(t, ss, security.SignSAS(aud, "bob", "bob-key-0123456789abcdef", time.Now().Add(time.Hour)), aud); code != 403 || !strings.Contains(desc, "alice") {
		t.Fatalf("bob's token on alice's connection: %d %s", code, desc)
	}
	if code, desc := cbsPut(t, ss, security.SignSAS(aud, "alice", sbKey, time.Now().Add(time.Hour)), aud); code/100 != 2 {
		t.Fatalf("alice's token on alice's connection: %d %s", code, desc)
	}
}

// Topics and subscriptions: each subscription ("T/Subscriptions/S") gets a
// copy of what is sent to the topic, its receivers compete for it, and
// peek works on it.
func TestServiceBusTopicSubscriptions(t *testing.T) {
	s := startBroker(t, withSAS(t, nil))
	c := sbClient(t, sbConnString(s, "alice", sbKey), nil)
	// The receivers first: a subscription exists from its first receiver.
	var rs []*azservicebus.Receiver
	for _, sub := range []string{"audit", "billing"} {
		r, err := c.NewReceiverForSubscription("events", sub, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close(context.Background()) })
		// Attach the link now (a receiver links lazily): peek does.
		if _, err := r.PeekMessages(ctxFor(t), 1, nil); err != nil {
			t.Fatalf("peek %s: %v", sub, err)
		}
		rs = append(rs, r)
	}
	if err := sbSender(t, c, "events").SendMessage(ctxFor(t), &azservicebus.Message{Body: []byte("e1")}, nil); err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		m := sbReceive(t, r, 1)[0]
		if string(m.Body) != "e1" {
			t.Fatalf("subscription %d got %q", i, m.Body)
		}
		if err := r.CompleteMessage(ctxFor(t), m, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := s.Core.Queue("events/Subscriptions/audit"); !ok {
		t.Fatal("no subscription queue named by the entity path")
	}
}

// Service Bus sessions are not supported: a session receiver is refused
// with a clear error, not left waiting.
func TestServiceBusSessionsRefused(t *testing.T) {
	s := startBroker(t, withSAS(t, nil))
	c := sbClient(t, sbConnString(s, "alice", sbKey), noRetries)
	_, err := c.AcceptSessionForQueue(ctxFor(t), "sessions", "s1", nil)
	if err == nil || !strings.Contains(err.Error(), "sessions are not supported") {
		t.Fatalf("AcceptSessionForQueue: %v", err)
	}
}

// Where anonymous access is on, an ANONYMOUS client that puts no token is
// an ordinary anonymous AMQP client: 8-byte delivery tags, no Service Bus
// annotations.
func TestServiceBusAnonymousWithoutTokenUnchanged(t *testing.T) {
	cfg := withSAS(t, nil)
	s := startBroker(t, func(c *config.Config) {
		cfg(c)
		on := true
		c.Security.Anonymous = &on
	})
	_, ss := session(t, s, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
	send(t, newSender(t, ss, "plain", nil), amqp.NewMessage([]byte("x")))
	m := receive(t, newReceiver(t, ss, "plain", nil))
	if len(m.DeliveryTag) != 8 || m.Annotations["x-opt-sequence-number"] != nil {
		t.Fatalf("tag % x, annotations %v", m.DeliveryTag, m.Annotations)
	}
}

// A message sent with ScheduledEnqueueTime is delivered at that time, not
// before.
func TestServiceBusScheduledEnqueueTime(t *testing.T) {
	s := startBroker(t, withSAS(t, nil))
	c := sbClient(t, sbConnString(s, "alice", sbKey), nil)
	at := time.Now().Add(400 * time.Millisecond)
	if err := sbSender(t, c, "sched").SendMessage(ctxFor(t), &azservicebus.Message{Body: []byte("later"), ScheduledEnqueueTime: &at}, nil); err != nil {
		t.Fatal(err)
	}
	r := sbReceiver(t, c, "sched", nil)
	m := sbReceive(t, r, 1)[0]
	if now := time.Now(); now.Before(at) {
		t.Fatalf("delivered %v before its scheduled time", at.Sub(now))
	}
	if err := r.CompleteMessage(ctxFor(t), m, nil); err != nil {
		t.Fatal(err)
	}
}

// A broker without a users file authenticates nobody: the SDK connects
// with any key name and key, as an anonymous client.
func TestServiceBusNoUsersFile(t *testing.T) {
	s := startBroker(t, nil)
	c := sbClient(t, sbConnString(s, "anyone", "any-key"), noRetries)
	if err := sbSender(t, c, "open").SendMessage(ctxFor(t), &azservicebus.Message{Body: []byte("hi")}, nil); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	r := sbReceiver(t, c, "open", nil)
	m := sbReceive(t, r, 1)[0]
	if string(m.Body) != "hi" || m.SequenceNumber == nil {
		t.Fatalf("got %q seq %v", m.Body, m.SequenceNumber)
	}
	if err := r.CompleteMessage(ctxFor(t), m, nil); err != nil {
		t.Fatal(err)
	}
}

// Bad management requests get clear answers: an unknown operation 501, a
// renew-lock without lock tokens 400, a request whose reply-to names no
// link is rejected, one without a message-id is rejected; the connection
// stays usable.
func TestServiceBusBadManagementRequests(t *testing.T) {
	s := startBroker(t, withSAS(t, nil))
	_, ss := session(t, s, &amqp.ConnOptions{SASLType: amqp.SASLTypePlain("alice", sbPassword)})
	replyTo := "mgmt-reply"
	snd := newSender(t, ss, "q/$management", nil)
	rcv := newReceiver(t, ss, "q/$management", &amqp.ReceiverOptions{TargetAddress: replyTo, Credit: 10})
	call := func(id string, op string, body any) (int32, string) {
		t.Helper()
		send(t, snd, &amqp.Message{Properties: &amqp.MessageProperties{MessageID: id, ReplyTo: &replyTo},
			ApplicationProperties: map[string]any{"operation": op}, Value: body})
		resp := receive(t, rcv)
		if err := rcv.AcceptMessage(ctxFor(t), resp); err != nil {
			t.Fatal(err)
		}
		if resp.Properties == nil || resp.Properties.CorrelationID != id {
			t.Fatalf("response to %s not correlated: %+v", id, resp.Properties)
		}
		code, _ := resp.ApplicationProperties["status-code"].(int32)
		desc, _ := resp.ApplicationProperties["status-description"].(string)
		return code, desc
	}
	if code, desc := call("1", "com.microsoft:receive-by-sequence-number", map[string]any{}); code != 501 || !strings.Contains(desc, "not implemented") {
		t.Fatalf("unknown operation: %d %s", code, desc)
	}
	if code, desc := call("2", "com.microsoft:renew-lock", map[string]any{"lock-tokens": "nope"}); code != 400 {
		t.Fatalf("renew-lock without tokens: %d %s", code, desc)
	}
	if code, _ := call("3", "com.microsoft:renew-lock", map[string]any{"lock-tokens": []amqp.UUID{{1, 2, 3}}}); code != 410 {
		t.Fatalf("renew-lock of an unknown token: %d", code)
	}
	nowhere := "nowhere"
	err := snd.Send(ctxFor(t), &amqp.Message{Properties: &amqp.MessageProperties{MessageID: "4", ReplyTo: &nowhere},
		ApplicationProperties: map[string]any{"operation": "com.microsoft:peek-message"}, Value: map[string]any{}}, nil)
	if e := amqpError(t, err); e.Condition != amqp.ErrCondPreconditionFailed {
		t.Fatalf("reply-to nowhere: %v", e)
	}
	err = snd.Send(ctxFor(t), &amqp.Message{ApplicationProperties: map[string]any{"operation": "com.microsoft:peek-message"}, Value: map[string]any{}}, nil)
	if e := amqpError(t, err); e.Condition != amqp.ErrCondDecodeError {
		t.Fatalf("no message-id: %v", e)
	}
	if code, _ := call("5", "com.microsoft:peek-message", map[string]any{"from-sequence-number": int64(0), "message-count": int32(1)}); code != 204 {
		t.Fatalf("peek of an empty queue: %d", code)
	}
}

// rcv-settle-mode second: the broker settles a rejected delivery with a
// plain rejected state. Echoing the client's error back made go-amqp take
// it for a refusal of the disposition (RejectMessage failed, and the
// Service Bus SDK's dead-letter retried after seconds of back-off).
func TestRejectInSecondModeSettlesCleanly(t *testing.T) {
	s := startBroker(t, nil)
	_, ss := session(t, s, nil)
	send(t, newSender(t, ss, "second", nil), amqp.NewMessage([]byte("bad")))
	r := newReceiver(t, ss, "second", &amqp.ReceiverOptions{Credit: 1, SettlementMode: amqp.ReceiverSettleModeSecond.Ptr()})
	m := receive(t, r)
	if err := r.RejectMessage(ctxFor(t), m, &amqp.Error{Condition: "com.microsoft:dead-letter", Info: map[string]any{"DeadLetterReason": "bad"}}); err != nil {
		t.Fatalf("RejectMessage: %v", err)
	}
	waitUntil(t, "the message in the DLQ", func() bool {
		q, ok := s.Core.Queue("DLQ")
		return ok && q.Stats().Messages == 1
	})
}

// A connection logged in with ANONYMOUS only to put a token (anonymous
// access off) that puts none within the connect time-out is closed.
func TestServiceBusNoTokenInTimeClosed(t *testing.T) {
	cfg := &config.Config{}
	withSAS(t, nil)(cfg)
	mgr, err := security.New(cfg.Security, cfg.Dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	s := startBroker(t, nil)
	srv := amqpserver.NewServer(amqpserver.Options{Broker: s.Core, Gate: &access.Gate{Manager: mgr, Protocol: "amqp"},
		Logger: slog.New(slog.DiscardHandler), ConnectTimeout: 300 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		srv.ServeConn(context.Background(), nc)
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-served
	})
	conn, err := amqp.Dial(ctxFor(t), "amqp://"+ln.Addr().String(), &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	select {
	case <-conn.Done():
	case <-time.After(waitFor):
		t.Fatal("a connection without a token stayed open")
	}
	if e := amqpError(t, conn.Err()); e.Condition != amqp.ErrCondUnauthorizedAccess || !strings.Contains(e.Description, "no SAS token") {
		t.Fatalf("close: %v", e)
	}
}
