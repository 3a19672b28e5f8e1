package management

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/junctionmq/junction/core"
)

// Queue is a queue as the API shows it.
type Queue struct {
	Name         string `json:"name"`
	Address      string `json:"address"`
	RoutingType  string `json:"routing_type"`
	Durable      bool   `json:"durable"`
	Temporary    bool   `json:"temporary"`
	AutoCreated  bool   `json:"auto_created"`
	Filter       string `json:"filter"`
	ClientID     string `json:"client_id"`
	Subscription string `json:"subscription"`
	Shared       bool   `json:"shared"`
	Depth        int    `json:"depth"`
	Ready        int    `json:"ready"`
	Scheduled    int    `json:"scheduled"`
	InFlight     int    `json:"in_flight"`
	Consumers    int    `json:"consumers"`
	Enqueued     uint64 `json:"enqueued"`
	Delivered    uint64 `json:"delivered"`
	Acknowledged uint64 `json:"acknowledged"`
	Expired      uint64 `json:"expired"`
	DeadLettered uint64 `json:"dead_lettered"`
	Dropped      uint64 `json:"dropped"`
	OldestAgeMs  int64  `json:"oldest_age_ms"`
	// Paged (counted in Depth) are kept in the store only, under
	// address-full-policy PAGE; PagedBytes is their stored size.
	Paged       int64   `json:"paged"`
	PagedBytes  int64   `json:"paged_bytes"`
	Paging      bool    `json:"paging"`
	EnqueueRate float64 `json:"enqueue_rate"`
	AckRate     float64 `json:"ack_rate"`

	ConsumerList []Consumer `json:"consumer_list,omitempty"`
}

// Consumer is an open consumer.
type Consumer struct {
	ID        uint64 `json:"id"`
	SessionID uint64 `json:"session_id"`
	ClientID  string `json:"client_id"`
	User      string `json:"user"`
	Queue     string `json:"queue"`
	Selector  string `json:"selector"`
	Credit    int    `json:"credit"`
	InFlight  int    `json:"in_flight"`
}

var queueSorts = []string{"name", "address", "depth", "consumers", "enqueued", "delivered", "acknowledged",
	"expired", "dead_lettered", "in_flight", "oldest_age", "enqueue_rate", "ack_rate"}

func (a *API) queueView(q *core.Queue, now time.Time) Queue {
	info, st := q.Info(), q.Stats()
	r := a.rates.queue(info.Name)
	v := Queue{
		Name: info.Name, Address: info.Address, RoutingType: strings.ToLower(info.RoutingType.String()), Durable: info.Durable,
		Temporary: info.Temporary, AutoCreated: info.AutoCreated, Filter: info.Filter, ClientID: info.ClientID,
		Subscription: info.SubscriptionName, Shared: info.Shared,
		Depth: st.Messages, Ready: st.Ready, Scheduled: st.Scheduled, InFlight: st.InFlight, Consumers: st.Consumers,
		Enqueued: st.Enqueued, Delivered: st.Delivered, Acknowledged: st.Acked, Expired: st.Expired,
		DeadLettered: st.DeadLettered, Dropped: st.Dropped, EnqueueRate: r.in, AckRate: r.out,
		Paged: st.Paged, PagedBytes: st.PagedBytes, Paging: st.Paging,
	}
	if st.Oldest > 0 {
		v.OldestAgeMs = max(0, now.UnixMilli()-st.Oldest)
	}
	return v
}

func queueKey(sort string) func(*Queue) any {
	return func(q *Queue) any {
		switch sort {
		case "address":
			return q.Address
		case "depth":
			return q.Depth
		case "consumers":
			return q.Consumers
		case "enqueued":
			return q.Enqueued
		case "delivered":
			return q.Delivered
		case "acknowledged":
			return q.Acknowledged
		case "expired":
			return q.Expired
		case "dead_lettered":
			return q.DeadLettered
		case "in_flight":
			return q.InFlight
		case "oldest_age":
			return q.OldestAgeMs
		case "enqueue_rate":
			return q.EnqueueRate
		case "ack_rate":
			return q.AckRate
		}
		return q.Name
	}
}

func queueName(q *Queue) string { return q.Name }

// queues lists the queues matching p's filter, subscriptions alone when
// subsOnly.
func (a *API) queues(w http.ResponseWriter, r *http.Request, subsOnly bool) {
	p, err := parseList(r, queueSorts)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	now := time.Now()
	all := a.b.Queues()
	items := make([]Queue, 0, len(all))
	for _, q := range all {
		info := q.Info()
		if subsOnly && !isDurableSubscription(info) {
			continue
		}
		if !containsFold(info.Name, p.filter) && !containsFold(info.Address, p.filter) {
			continue
		}
		items = append(items, a.queueView(q, now))
	}
	writeJSON(w, http.StatusOK, page(items, p, queueName, queueKey(p.sort)))
}

func isDurableSubscription(info core.QueueInfo) bool {
	return info.RoutingType == core.Multicast && info.Durable && !info.Temporary
}

func (a *API) listQueues(w http.ResponseWriter, r *http.Request) { a.queues(w, r, false) }

func (a *API) listSubscriptions(w http.ResponseWriter, r *http.Request) { a.queues(w, r, true) }

func (a *API) getQueue(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	q, ok := a.b.Queue(name)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Errorf("%w: %q", core.ErrNoSuchQueue, name))
		return
	}
	v := a.queueView(q, time.Now())
	v.ConsumerList = []Consumer{}
	for _, c := range a.b.Consumers() {
		if c.Queue == name {
			v.ConsumerList = append(v.ConsumerList, consumerView(c))
		}
	}
	writeJSON(w, http.StatusOK, v)
}

func consumerView(c core.ConsumerInfo) Consumer {
	return Consumer{ID: c.ID, SessionID: c.SessionID, ClientID: c.ClientID, User: c.User, Queue: c.Queue,
		Selector: c.Selector, Credit: c.Credit, InFlight: c.InFlight}
}

func (a *API) listConsumers(w http.ResponseWriter, r *http.Request) {
	p, err := parseList(r, []string{"id", "queue", "client_id", "in_flight"})
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	var items []Consumer
	for _, c := range a.b.Consumers() {
		if containsFold(c.Queue, p.filter) || containsFold(c.ClientID, p.filter) {
			items = append(items, consumerView(c))
		}
	}
	writeJSON(w, http.StatusOK, page(items, p, func(c *Consumer) string { return c.Queue }, func(c *Consumer) any {
		switch p.sort {
		case "queue":
			return c.Queue
		case "client_id":
			return c.ClientID
		case "in_flight":
			return c.InFlight
		}
		return c.ID
	}))
}

// CreateQueueRequest is the body of POST /api/v1/queues.
type CreateQueueRequest struct {
	Name        string `json:"name"`
	Address     string `json:"address"`
	RoutingType string `json:"routing_type"`
	Durable     *bool  `json:"durable"`
	Filter      string `json:"filter"`
}

func (a *API) createQueue(w http.ResponseWriter, r *http.Request) {
	var req CreateQueueRequest
	err := readBody(r, &req)
	var q *core.Queue
	if err == nil {
		info := core.QueueInfo{Name: req.Name, Address: req.Address, RoutingType: core.Anycast, Durable: true, Filter: req.Filter}
		if info.Address == "" {
			info.Address = info.Name
		}
		if req.Durable != nil {
			info.Durable = *req.Durable
		}
		switch req.RoutingType {
		case "", "anycast":
		case "multicast":
			info.RoutingType = core.Multicast
			// A subscription made here has a name of its own, so it can be
			// listed with the durable subscriptions and deleted there.
			info.SubscriptionName = info.Name
		default:
			err = badRequest("routing_type %q: want anycast or multicast", req.RoutingType)
		}
		if err == nil {
			q, err = a.b.CreateQueue(info)
		}
	}
	a.act(r, "queue.create", req.Name, map[string]any{"address": req.Address, "routing_type": req.RoutingType, "filter": req.Filter}, err)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusCreated, a.queueView(q, time.Now()))
}

func (a *API) deleteQueue(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	err := a.b.DeleteQueue(name)
	a.act(r, "queue.delete", name, nil, err)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": name})
}

func (a *API) deleteSubscription(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	q, ok := a.b.Queue(name)
	var err error
	switch {
	case !ok:
		err = fmt.Errorf("%w: %q", core.ErrNoSuchQueue, name)
	case !isDurableSubscription(q.Info()):
		err = badRequest("%q is not a durable subscription", name)
	default:
		err = a.b.DeleteQueue(name)
	}
	a.act(r, "subscription.delete", name, nil, err)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": name})
}

// Address is an address as the API shows it.
type Address struct {
	Name         string   `json:"name"`
	RoutingTypes []string `json:"routing_types"`
	AutoCreated  bool     `json:"auto_created"`
	SizeBytes    int64    `json:"size_bytes"`
	Queues       int      `json:"queues"`
}

func addressView(ai core.AddressInfo, queues int) Address {
	v := Address{Name: ai.Name, RoutingTypes: []string{}, AutoCreated: ai.AutoCreated, SizeBytes: ai.Size, Queues: queues}
	if ai.Anycast {
		v.RoutingTypes = append(v.RoutingTypes, "anycast")
	}
	if ai.Multicast {
		v.RoutingTypes = append(v.RoutingTypes, "multicast")
	}
	return v
}

// queueCounts counts the queues whose address is each name.
func (a *API) queueCounts() map[string]int {
	n := map[string]int{}
	for _, q := range a.b.Queues() {
		n[q.Info().Address]++
	}
	return n
}

func (a *API) listAddresses(w http.ResponseWriter, r *http.Request) {
	p, err := parseList(r, []string{"name", "queues", "size"})
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	counts := a.queueCounts()
	var items []Address
	for _, ai := range a.b.Addresses() {
		if containsFold(ai.Name, p.filter) {
			items = append(items, addressView(ai, counts[ai.Name]))
		}
	}
	writeJSON(w, http.StatusOK, page(items, p, func(x *Address) string { return x.Name }, func(x *Address) any {
		switch p.sort {
		case "queues":
			return x.Queues
		case "size":
			return x.SizeBytes
		}
		return x.Name
	}))
}

func (a *API) getAddress(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ai, ok := a.b.Address(name)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Errorf("%w: %q", core.ErrNoSuchAddress, name))
		return
	}
	writeJSON(w, http.StatusOK, addressView(ai, a.queueCounts()[name]))
}

// CreateAddressRequest is the body of POST /api/v1/addresses.
type CreateAddressRequest struct {
	Name        string `json:"name"`
	RoutingType string `json:"routing_type"`
}

func (a *API) createAddress(w http.ResponseWriter, r *http.Request) {
	var req CreateAddressRequest
	err := readBody(r, &req)
	if err == nil {
		rt, ok := core.ParseRoutingType(req.RoutingType)
		switch {
		case req.RoutingType == "":
			err = badRequest("routing_type is required: anycast or multicast")
		case !ok || !slices.Contains([]core.RoutingType{core.Anycast, core.Multicast}, rt):
			err = badRequest("routing_type %q: want anycast or multicast", req.RoutingType)
		default:
			err = a.b.CreateAddress(req.Name, rt)
		}
	}
	a.act(r, "address.create", req.Name, map[string]any{"routing_type": req.RoutingType}, err)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	ai, _ := a.b.Address(req.Name)
	writeJSON(w, http.StatusCreated, addressView(ai, a.queueCounts()[req.Name]))
}

func (a *API) deleteAddress(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	force := r.URL.Query().Get("force") == "true"
	err := a.b.DeleteAddress(name, force)
	a.act(r, "address.delete", name, map[string]any{"force": force}, err)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": name})
}
