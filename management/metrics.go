package management

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/junctionmq/junction/core"
)

// DefaultMaxQueueSeries is how many queues /metrics reports one by one when
// Options.MaxQueueSeries is not set. Each costs 10 series; a broker with
// 10,000 queues would otherwise send 100,000 series on every scrape, which
// is more than most Prometheus servers want from one target. The deepest
// queues are chosen (ties by name), the rest are summed into the
// junction_queues_* totals, and junction_queue_series_omitted says how
// many were left out.
const DefaultMaxQueueSeries = 1000

type desc = *prometheus.Desc

func newDesc(name, help string, labels ...string) desc {
	return prometheus.NewDesc("junction_"+name, help, labels, nil)
}

var (
	dInfo         = newDesc("info", "Broker version (always 1).", "version")
	dUptime       = newDesc("uptime_seconds", "Seconds since the management API started with the broker.")
	dSent         = newDesc("messages_sent_total", "Messages sent to the broker by clients and the broker itself.")
	dRouted       = newDesc("messages_routed_total", "Messages routed to at least one queue.")
	dDropped      = newDesc("messages_dropped_total", "Messages that reached no queue or were dropped by a full-policy.")
	dDuplicates   = newDesc("messages_duplicate_total", "Messages dropped as duplicates (_AMQ_DUPL_ID).")
	dExpired      = newDesc("messages_expired_total", "Messages that expired.")
	dDeadLettered = newDesc("messages_dead_lettered_total", "Messages dead-lettered.")
	dAddresses    = newDesc("addresses", "Addresses.")
	dQueues       = newDesc("queues", "Queues.")
	dGlobalSize   = newDesc("memory_used_bytes", "Bytes of messages the broker holds, counted against global-max-size.")
	dGlobalMax    = newDesc("memory_budget_bytes", "global-max-size: the memory budget for messages (0: unlimited).")

	dStoreHealthy  = newDesc("store_healthy", "1 when the store can write, 0 when it is unavailable.")
	dStorePressure = newDesc("store_pressure", "1 when the store is behind and durable sends wait.")
	dStoreMessages = newDesc("store_messages", "Messages in the store.")
	dStorePaged    = newDesc("store_paged_messages", "Paged references in the store, not yet read back (address-full-policy PAGE).")
	dStoreBytes    = newDesc("store_bytes", "Bytes the store occupies.")
	dStoreSyncs    = newDesc("store_syncs_total", "Syncs (fsync, commit) the store issued.")
	dStoreErrors   = newDesc("store_errors_total", "Store writes that failed.")

	dProtoConns    = newDesc("protocol_connections", "Open connections.", "protocol")
	dProtoAccepted = newDesc("protocol_connections_accepted_total", "Connections accepted.", "protocol")
	dProtoIn       = newDesc("protocol_messages_received_total", "Messages received from clients and accepted.", "protocol")
	dProtoOut      = newDesc("protocol_messages_delivered_total", "Messages delivered to clients.", "protocol")
	dProtoBytesIn  = newDesc("protocol_bytes_received_total", "Bytes read from connections.", "protocol")
	dProtoBytesOut = newDesc("protocol_bytes_sent_total", "Bytes written to connections.", "protocol")
	dProtoExtra    = newDesc("protocol_state", "Protocol-specific gauges (MQTT: sessions, retained, in-flight).", "protocol", "name")

	dQueuesDepth    = newDesc("queues_messages", "Messages held by all queues (ready, scheduled and in flight).")
	dQueuesInFlight = newDesc("queues_messages_in_flight", "Messages delivered and not yet acknowledged, all queues.")
	dQueuesCons     = newDesc("queues_consumers", "Consumers on all queues.")
	dOmitted        = newDesc("queue_series_omitted", "Queues not reported one by one because of the series cap.")

	queueLabels   = []string{"queue", "address"}
	dQDepth       = newDesc("queue_messages", "Messages the queue holds: ready, scheduled and in flight.", queueLabels...)
	dQInFlight    = newDesc("queue_messages_in_flight", "Messages delivered and not yet acknowledged.", queueLabels...)
	dQScheduled   = newDesc("queue_messages_scheduled", "Messages waiting for their delivery time.", queueLabels...)
	dQConsumers   = newDesc("queue_consumers", "Consumers attached.", queueLabels...)
	dQEnqueued    = newDesc("queue_messages_enqueued_total", "Messages added to the queue.", queueLabels...)
	dQDelivered   = newDesc("queue_messages_delivered_total", "Deliveries, redeliveries included.", queueLabels...)
	dQAcked       = newDesc("queue_messages_acknowledged_total", "Messages acknowledged (or purged).", queueLabels...)
	dQExpired     = newDesc("queue_messages_expired_total", "Messages that expired in the queue.", queueLabels...)
	dQDeadLetter  = newDesc("queue_messages_dead_lettered_total", "Messages dead-lettered from the queue.", queueLabels...)
	dQOldestAge   = newDesc("queue_oldest_message_age_seconds", "Age of the oldest message ready or in flight (0: empty).", queueLabels...)
	dQPaged       = newDesc("queue_messages_paged", "Messages kept in the store only (address-full-policy PAGE), counted in queue_messages too.", queueLabels...)
	dQPagedBytes  = newDesc("queue_paged_bytes", "Stored size of the queue's paged messages.", queueLabels...)
	queueDescList = []desc{dQDepth, dQInFlight, dQScheduled, dQConsumers, dQEnqueued, dQDelivered, dQAcked, dQExpired, dQDeadLetter, dQOldestAge, dQPaged, dQPagedBytes}
)

// collector produces the metrics at scrape time from the broker's own
// counters: nothing is counted twice, and a scrape costs one Stats call per
// queue.
type collector struct{ a *API }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []desc{dInfo, dUptime, dSent, dRouted, dDropped, dDuplicates, dExpired, dDeadLettered, dAddresses, dQueues,
		dGlobalSize, dGlobalMax, dStoreHealthy, dStorePressure, dStoreMessages, dStorePaged, dStoreBytes, dStoreSyncs, dStoreErrors,
		dProtoConns, dProtoAccepted, dProtoIn, dProtoOut, dProtoBytesIn, dProtoBytesOut, dProtoExtra,
		dQueuesDepth, dQueuesInFlight, dQueuesCons, dOmitted} {
		ch <- d
	}
	for _, d := range queueDescList {
		ch <- d
	}
}

type queueSample struct {
	name, address string
	st            core.QueueStats
}

func gauge(d desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(d desc, v uint64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	a := c.a
	b := a.b
	st := b.Stats()
	ch <- gauge(dInfo, 1, a.version)
	ch <- gauge(dUptime, time.Since(a.started).Seconds())
	ch <- counter(dSent, st.Sent)
	ch <- counter(dRouted, st.Routed)
	ch <- counter(dDropped, st.Dropped)
	ch <- counter(dDuplicates, st.Duplicates)
	ch <- counter(dExpired, st.Expired)
	ch <- counter(dDeadLettered, st.DeadLettered)
	ch <- gauge(dAddresses, float64(st.Addresses))
	ch <- gauge(dQueues, float64(st.Queues))
	ch <- gauge(dGlobalSize, float64(b.GlobalSize()))
	ch <- gauge(dGlobalMax, float64(b.GlobalMax()))

	ss := b.StoreStats()
	ch <- gauge(dStoreHealthy, boolFloat(b.StoreHealth() == nil))
	ch <- gauge(dStorePressure, boolFloat(b.StorePressure()))
	ch <- gauge(dStoreMessages, float64(ss.Messages))
	ch <- gauge(dStorePaged, float64(ss.Paged))
	ch <- gauge(dStoreBytes, float64(ss.Bytes))
	ch <- counter(dStoreSyncs, ss.Syncs)
	ch <- counter(dStoreErrors, ss.Errors)

	for name, as := range a.o.Adapters() {
		ch <- gauge(dProtoConns, float64(as.Connections), name)
		ch <- counter(dProtoAccepted, as.Accepted, name)
		ch <- counter(dProtoIn, as.MessagesIn, name)
		ch <- counter(dProtoOut, as.MessagesOut, name)
		ch <- counter(dProtoBytesIn, as.BytesIn, name)
		ch <- counter(dProtoBytesOut, as.BytesOut, name)
		for k, v := range as.Extra {
			ch <- gauge(dProtoExtra, float64(v), name, k)
		}
	}

	qs := b.Queues()
	samples := make([]queueSample, len(qs))
	var depth, inFlight, consumers int
	for i, q := range qs {
		info := q.Info()
		samples[i] = queueSample{name: info.Name, address: info.Address, st: q.Stats()}
		depth += samples[i].st.Messages
		inFlight += samples[i].st.InFlight
		consumers += samples[i].st.Consumers
	}
	ch <- gauge(dQueuesDepth, float64(depth))
	ch <- gauge(dQueuesInFlight, float64(inFlight))
	ch <- gauge(dQueuesCons, float64(consumers))
	limit := max(a.o.MaxQueueSeries, 0)
	if len(samples) > limit {
		// The deepest queues are the ones an operator looks for.
		slices.SortFunc(samples, func(x, y queueSample) int {
			if c := cmp.Compare(y.st.Messages, x.st.Messages); c != 0 {
				return c
			}
			return strings.Compare(x.name, y.name)
		})
	}
	ch <- gauge(dOmitted, float64(max(0, len(samples)-limit)))
	nowMs := time.Now().UnixMilli()
	for _, s := range samples[:min(limit, len(samples))] {
		l := []string{s.name, s.address}
		ch <- gauge(dQDepth, float64(s.st.Messages), l...)
		ch <- gauge(dQInFlight, float64(s.st.InFlight), l...)
		ch <- gauge(dQScheduled, float64(s.st.Scheduled), l...)
		ch <- gauge(dQConsumers, float64(s.st.Consumers), l...)
		ch <- counter(dQEnqueued, s.st.Enqueued, l...)
		ch <- counter(dQDelivered, s.st.Delivered, l...)
		ch <- counter(dQAcked, s.st.Acked, l...)
		ch <- counter(dQExpired, s.st.Expired, l...)
		ch <- counter(dQDeadLetter, s.st.DeadLettered, l...)
		age := 0.0
		if s.st.Oldest > 0 {
			age = float64(max(0, nowMs-s.st.Oldest)) / 1000
		}
		ch <- gauge(dQOldestAge, age, l...)
		ch <- gauge(dQPaged, float64(s.st.Paged), l...)
		ch <- gauge(dQPagedBytes, float64(s.st.PagedBytes), l...)
	}
}

// newMetricsHandler serves the collector in the Prometheus text format (or
// OpenMetrics/protobuf when the scraper asks), with the Go runtime's own
// metrics alongside.
func (a *API) newMetricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collector{a})
	reg.MustRegister(collectors.NewGoCollector())
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Timeout: 10 * time.Second})
}
