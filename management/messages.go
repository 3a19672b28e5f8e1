package management

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/core/prop"
)

// previewBytes is how much of a body a browse shows.
const previewBytes = 256

// Message is a message as a browse shows it.
type Message struct {
	// ID is the broker's id, as a string: ids are above 2^53 (time in
	// the high bits), where a JSON number loses digits in JavaScript.
	ID            uint64         `json:"id,string"`
	MessageID     string         `json:"message_id"`
	Address       string         `json:"address"`
	Priority      uint8          `json:"priority"`
	Durable       bool           `json:"durable"`
	Timestamp     *time.Time     `json:"timestamp"`
	Expiration    *time.Time     `json:"expiration"`
	UserID        string         `json:"user_id"`
	GroupID       string         `json:"group_id"`
	CorrelationID string         `json:"correlation_id"`
	ReplyTo       string         `json:"reply_to"`
	Type          string         `json:"type"`
	ContentType   string         `json:"content_type"`
	Properties    map[string]any `json:"properties"`
	BodySize      int            `json:"body_size"`
	BodyPreview   string         `json:"body_preview"`
	BodyEncoding  string         `json:"body_encoding"`
	Truncated     bool           `json:"truncated"`
}

// BrowseResult is the answer of GET /api/v1/queues/{name}/messages.
type BrowseResult struct {
	Offset int       `json:"offset"`
	Limit  int       `json:"limit"`
	More   bool      `json:"more"`
	Items  []Message `json:"items"`
}

func msTime(ms int64) *time.Time {
	if ms <= 0 {
		return nil
	}
	t := time.UnixMilli(ms).UTC()
	return &t
}

func messageView(m *core.Message) Message {
	v := Message{ID: m.ID, MessageID: m.MessageID(), Address: m.Address, Priority: m.Priority, Durable: m.Durable,
		Timestamp: msTime(m.Timestamp), Expiration: msTime(m.Expiration), UserID: m.UserID, GroupID: m.GroupID,
		CorrelationID: m.CorrelationID.Text(), ReplyTo: m.ReplyTo, Type: m.Type, ContentType: m.ContentType,
		Properties: make(map[string]any, len(m.Properties)), BodySize: len(m.Body)}
	for _, p := range m.Properties {
		v.Properties[p.Name] = jsonValue(p.Value)
	}
	body := m.Body
	if len(body) > previewBytes {
		body, v.Truncated = body[:previewBytes], true
		// Do not cut a character in two.
		for len(body) > 0 && !utf8.Valid(body) && len(body) > previewBytes-utf8.UTFMax {
			body = body[:len(body)-1]
		}
	}
	if utf8.Valid(body) {
		v.BodyPreview, v.BodyEncoding = string(body), "text"
	} else {
		v.BodyPreview, v.BodyEncoding = base64.StdEncoding.EncodeToString(body), "base64"
	}
	return v
}

// jsonValue renders a property as the closest JSON value.
func jsonValue(v prop.Value) any {
	switch v.Kind {
	case prop.Null:
		return nil
	case prop.Bool:
		return v.Bool()
	case prop.Int8, prop.Int16, prop.Int32, prop.Int64:
		return v.I
	case prop.Float32, prop.Float64:
		return v.Float()
	case prop.Bytes:
		return base64.StdEncoding.EncodeToString(v.Bytes())
	}
	return v.Text()
}

func (a *API) browse(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	p, err := parseList(r, []string{"position"})
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	res := BrowseResult{Offset: p.offset, Limit: p.limit, Items: []Message{}}
	i := 0
	err = a.sess.Browse(name, r.URL.Query().Get("selector"), func(m *core.Message) bool {
		switch {
		case i < p.offset:
		case len(res.Items) < p.limit:
			res.Items = append(res.Items, messageView(m))
		default:
			res.More = true
			return false
		}
		i++
		return true
	})
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// SendRequest is the body of POST /api/v1/addresses/{name}/messages.
type SendRequest struct {
	Body        string            `json:"body"`
	BodyBase64  string            `json:"body_base64"`
	Properties  map[string]string `json:"properties"`
	Durable     *bool             `json:"durable"`
	Priority    *int              `json:"priority"`
	RoutingType string            `json:"routing_type"`
	ContentType string            `json:"content_type"`
	TTLMs       int64             `json:"ttl_ms"`
}

// sendTimeout bounds the wait for a send's confirmation (the store's sync,
// or room on a full address).
const sendTimeout = 10 * time.Second

func (a *API) send(w http.ResponseWriter, r *http.Request) {
	addr := r.PathValue("name")
	var req SendRequest
	var m *core.Message
	err := readBody(r, &req)
	if err == nil {
		m, err = buildMessage(addr, req)
	}
	if err == nil {
		if _, exists := a.b.Address(addr); !exists && m.RoutingType == core.RoutingAny {
			// A send to a new address makes a queue of it, as a STOMP
			// /queue/ send does; a message for a topic nobody subscribes
			// to would be dropped.
			m.RoutingType = core.Anycast
		}
		err = a.sendWait(r.Context(), m)
	}
	a.act(r, "message.send", addr, map[string]any{"size": len(req.Body) + len(req.BodyBase64)}, err)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	// A message that reached no queue (a topic without subscribers) is
	// accepted and dropped, as a client's is; the broker counts it in
	// counters.dropped.
	id := m.ID
	res := map[string]any{"id": strconv.FormatUint(id, 10), "message_id": "ID:" + strconv.FormatUint(id, 10)}
	writeJSON(w, http.StatusCreated, res)
}

func buildMessage(addr string, req SendRequest) (*core.Message, error) {
	body := []byte(req.Body)
	kind := core.BodyText
	if req.BodyBase64 != "" {
		if req.Body != "" {
			return nil, badRequest("give body or body_base64, not both")
		}
		b, err := base64.StdEncoding.DecodeString(req.BodyBase64)
		if err != nil {
			return nil, badRequest("body_base64: %v", err)
		}
		body, kind = b, core.BodyBytes
	}
	m := core.NewMessage(addr, body)
	m.BodyKind = kind
	m.Durable = req.Durable == nil || *req.Durable
	m.ContentType = req.ContentType
	if req.Priority != nil {
		if *req.Priority < 0 || *req.Priority > 9 {
			return nil, badRequest("priority %d: want 0 to 9", *req.Priority)
		}
		m.Priority = uint8(*req.Priority)
	}
	switch req.RoutingType {
	case "":
	case "anycast":
		m.RoutingType = core.Anycast
	case "multicast":
		m.RoutingType = core.Multicast
	default:
		return nil, badRequest("routing_type %q: want anycast, multicast or nothing", req.RoutingType)
	}
	if req.TTLMs < 0 {
		return nil, badRequest("ttl_ms %d: want 0 (never expires) or more", req.TTLMs)
	}
	if req.TTLMs > 0 {
		m.Expiration = time.Now().UnixMilli() + req.TTLMs
	}
	for k, v := range req.Properties {
		if k == "" {
			return nil, badRequest("a property needs a name")
		}
		m.SetProperty(k, prop.StringValue(v))
	}
	return m, nil
}

// sendWait sends m through the API's session and waits for the core's
// confirmation (durable in the store, in its queues).
func (a *API) sendWait(ctx context.Context, m *core.Message) error {
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	done := make(chan error, 1)
	if err := a.sess.Send(ctx, m, func(err error) { done <- err }); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("send to %q not confirmed: %w", m.Address, ctx.Err())
	}
}

func (a *API) purge(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	q, ok := a.b.Queue(name)
	n := 0
	var err error
	if ok {
		n = q.Purge()
	} else {
		err = fmt.Errorf("%w: %q", core.ErrNoSuchQueue, name)
	}
	a.act(r, "queue.purge", name, map[string]any{"removed": n}, err)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"removed": n})
}

// TransferRequest is the body of move and redrive.
type TransferRequest struct {
	To       string `json:"to,omitempty"`
	Limit    int    `json:"limit"`
	Selector string `json:"selector"`
}

func (a *API) move(w http.ResponseWriter, r *http.Request) {
	src := r.PathValue("name")
	var req TransferRequest
	n := 0
	err := readBody(r, &req)
	if err == nil {
		err = a.checkTransfer(src, req)
	}
	var target core.QueueInfo
	if err == nil {
		dq, ok := a.b.Queue(req.To)
		switch {
		case req.To == "":
			err = badRequest("move needs \"to\": the target queue")
		case !ok:
			err = fmt.Errorf("%w: %q", core.ErrNoSuchQueue, req.To)
		case req.To == src:
			err = badRequest("a queue cannot be moved to itself")
		case dq.Info().RoutingType != core.Anycast:
			err = badRequest("%q is a subscription: move to an anycast queue", req.To)
		default:
			target = dq.Info()
		}
	}
	if err == nil {
		n, err = a.transfer(r.Context(), src, req.Selector, req.Limit, func(m *core.Message) *core.Message {
			c := m.Clone()
			if c.Property(core.PropOrigAddress).IsNull() {
				c.SetProperty(core.PropOrigAddress, prop.StringValue(m.Address))
				c.SetProperty(core.PropOrigQueue, prop.StringValue(src))
			}
			c.Address, c.RoutingType = target.Address, core.Anycast
			return c
		})
	}
	a.act(r, "queue.move", src, map[string]any{"to": req.To, "limit": req.Limit, "selector": req.Selector, "moved": n}, err)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"moved": n})
}

// redrive sends each message of a dead-letter (or expiry) queue back to the
// address it was sent to, which the dead-letter move recorded in
// _AMQ_ORIG_ADDRESS, without the dead-letter bookkeeping properties (but
// with _AMQ_ORIG_MESSAGE_ID naming the dead letter it copies): the
// SQS "redrive", beanstalkd's "kick". A message without that property is
// left where it is and counted as skipped.
func (a *API) redrive(w http.ResponseWriter, r *http.Request) {
	src := r.PathValue("name")
	var req TransferRequest
	n, skipped := 0, 0
	err := readBody(r, &req)
	if err == nil && req.To != "" {
		err = badRequest("redrive sends each message to its original address: no \"to\"")
	}
	if err == nil {
		err = a.checkTransfer(src, req)
	}
	if err == nil {
		sel := core.PropOrigAddress + " IS NOT NULL"
		if req.Selector != "" {
			sel += " AND (" + req.Selector + ")"
		}
		n, err = a.transfer(r.Context(), src, sel, req.Limit, func(m *core.Message) *core.Message {
			c := m.Clone()
			c.Address = m.Property(core.PropOrigAddress).Text()
			c.RoutingType = core.RoutingAny
			for _, p := range []string{core.PropOrigAddress, core.PropOrigQueue, core.PropOrigMessageID,
				core.PropOrigRoutingType, core.PropDLQReason, core.PropDLQCondition, core.PropExpiredAt} {
				c.DeleteProperty(p)
			}
			// The copy names the dead letter it was made from, as a
			// dead-letter copy names its original: a trace can follow it.
			c.SetProperty(core.PropOrigMessageID, prop.StringValue(m.MessageID()))
			return c
		})
		if err == nil {
			// What stays behind for want of an original address.
			_ = a.sess.Browse(src, core.PropOrigAddress+" IS NULL", func(*core.Message) bool { skipped++; return skipped < 100000 })
		}
	}
	a.act(r, "queue.redrive", src, map[string]any{"limit": req.Limit, "selector": req.Selector, "redriven": n}, err)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"redriven": n, "skipped": skipped})
}

func (a *API) checkTransfer(src string, req TransferRequest) error {
	if req.Limit < 0 {
		return badRequest("limit %d: want 0 (every ready message) or more", req.Limit)
	}
	if _, ok := a.b.Queue(src); !ok {
		return fmt.Errorf("%w: %q", core.ErrNoSuchQueue, src)
	}
	return nil
}

// transferBatch is how many messages a move takes at a time.
const transferBatch = 128

// transfer takes up to limit ready messages of queue src matching sel (0:
// as many as it held when the transfer started, so a busy producer cannot
// keep it going for ever) and sends copy(m) for each; a message is acked in
// src only once its copy is confirmed, so a failure or a crash leaves it in
// src (a crash between the two may leave it in both: at least once, never
// lost). Messages in flight to consumers are not taken.
func (a *API) transfer(ctx context.Context, src, sel string, limit int, copyOf func(*core.Message) *core.Message) (int, error) {
	q, ok := a.b.Queue(src)
	if !ok {
		return 0, fmt.Errorf("%w: %q", core.ErrNoSuchQueue, src)
	}
	if st := q.Stats(); limit == 0 || limit > st.Ready {
		limit = st.Ready
	}
	var (
		mu  sync.Mutex
		got []core.Delivery
	)
	c, err := a.sess.Consume(src, core.ConsumerOptions{Selector: sel, KeepQueue: true, Handler: func(d core.Delivery) {
		mu.Lock()
		got = append(got, d)
		mu.Unlock()
	}})
	if err != nil {
		return 0, err
	}
	// Closing returns whatever was taken and not acked to the queue.
	defer c.Close()
	moved := 0
	for moved < limit {
		c.AddCredit(min(transferBatch, limit-moved))
		c.Drain()
		mu.Lock()
		batch := got
		got = nil
		mu.Unlock()
		if len(batch) == 0 {
			break
		}
		errs := make([]error, len(batch))
		var wg sync.WaitGroup
		for i, d := range batch {
			wg.Add(1)
			i := i
			sctx, cancel := context.WithTimeout(ctx, sendTimeout)
			if err := a.sess.Send(sctx, copyOf(d.Message), func(err error) { errs[i] = err; cancel(); wg.Done() }); err != nil {
				errs[i] = err
				cancel()
				wg.Done()
			}
		}
		wg.Wait()
		var first error
		for i, d := range batch {
			if errs[i] != nil {
				if first == nil {
					first = errs[i]
				}
				_ = c.Release(d.Tag)
				continue
			}
			if err := c.Ack(d.Tag); err != nil && !errors.Is(err, core.ErrConsumerClosed) {
				first = errors.Join(first, err)
				continue
			}
			moved++
		}
		if first != nil {
			return moved, fmt.Errorf("after %s message(s): %w", strconv.Itoa(moved), first)
		}
	}
	return moved, nil
}
