package management

import (
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/junctionmq/junction/protocols/adapter"
)

// Connection is a client connection (a core session an adapter opened).
type Connection struct {
	ID            uint64    `json:"id"`
	Protocol      string    `json:"protocol"`
	ClientID      string    `json:"client_id"`
	User          string    `json:"user"`
	RemoteAddress string    `json:"remote_address"`
	Since         time.Time `json:"since"`
	Consumers     int       `json:"consumers"`
	MessagesIn    uint64    `json:"messages_in"`
	MessagesOut   uint64    `json:"messages_out"`
	InRate        float64   `json:"in_rate"`
	OutRate       float64   `json:"out_rate"`
}

func (a *API) connections() []Connection {
	var out []Connection
	for _, s := range a.b.Sessions() {
		if s.Protocol == "" {
			continue // the broker's and the adapters' own sessions
		}
		r := a.rates.session(s.ID)
		out = append(out, Connection{ID: s.ID, Protocol: s.Protocol, ClientID: s.ClientID, User: s.User,
			RemoteAddress: s.RemoteAddr, Since: s.Since.UTC(), Consumers: s.Consumers,
			MessagesIn: s.MessagesIn, MessagesOut: s.MessagesOut, InRate: r.in, OutRate: r.out})
	}
	return out
}

func (a *API) listConnections(w http.ResponseWriter, r *http.Request) {
	p, err := parseList(r, []string{"id", "protocol", "client_id", "user", "remote_address", "since", "in_rate", "out_rate"})
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	var items []Connection
	for _, c := range a.connections() {
		if containsFold(c.ClientID, p.filter) || containsFold(c.User, p.filter) || containsFold(c.RemoteAddress, p.filter) ||
			containsFold(c.Protocol, p.filter) {
			items = append(items, c)
		}
	}
	writeJSON(w, http.StatusOK, page(items, p, func(c *Connection) string { return strconv.FormatUint(c.ID+1e15, 10) }, func(c *Connection) any {
		switch p.sort {
		case "protocol":
			return c.Protocol
		case "client_id":
			return c.ClientID
		case "user":
			return c.User
		case "remote_address":
			return c.RemoteAddress
		case "since":
			return c.Since.UnixNano()
		case "in_rate":
			return c.InRate
		case "out_rate":
			return c.OutRate
		}
		return c.ID
	}))
}

func (a *API) closeConnection(w http.ResponseWriter, r *http.Request) {
	idText := r.PathValue("id")
	id, err := strconv.ParseUint(idText, 10, 64)
	status := http.StatusBadRequest
	if err != nil {
		err = fmt.Errorf("connection id %q: want a number", idText)
	} else {
		status, err = http.StatusNotFound, fmt.Errorf("no open connection %d", id)
		for _, c := range a.connections() {
			if c.ID == id {
				status, err = http.StatusNotFound, a.b.CloseSession(id, nil)
				break
			}
		}
	}
	a.act(r, "connection.close", idText, nil, err)
	if err != nil {
		writeError(w, status, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]uint64{"closed": id})
}

// MQTTSession is an MQTT session, connected or waiting offline.
type MQTTSession struct {
	ClientID      string             `json:"client_id"`
	Connected     bool               `json:"connected"`
	Persistent    bool               `json:"persistent"`
	ExpirySeconds uint32             `json:"expiry_seconds"`
	Subscriptions []MQTTSubscription `json:"subscriptions"`
	InFlight      int                `json:"in_flight"`
}

// MQTTSubscription is one subscription of an MQTT session.
type MQTTSubscription struct {
	Filter string `json:"filter"`
	QoS    byte   `json:"qos"`
	Queue  string `json:"queue"`
	Shared bool   `json:"shared"`
}

func (a *API) listMQTTSessions(w http.ResponseWriter, r *http.Request) {
	p, err := parseList(r, []string{"client_id", "connected", "subscriptions", "in_flight"})
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	var items []MQTTSession
	if l := a.o.SessionListers["mqtt"]; l != nil {
		for _, s := range l.Sessions() {
			if !containsFold(s.ClientID, p.filter) {
				continue
			}
			v := MQTTSession{ClientID: s.ClientID, Connected: s.Connected, Persistent: s.Persistent,
				ExpirySeconds: s.ExpirySeconds, InFlight: s.InFlight, Subscriptions: []MQTTSubscription{}}
			for _, sub := range s.Subscriptions {
				v.Subscriptions = append(v.Subscriptions, MQTTSubscription(sub))
			}
			items = append(items, v)
		}
	}
	writeJSON(w, http.StatusOK, page(items, p, func(s *MQTTSession) string { return s.ClientID }, func(s *MQTTSession) any {
		switch p.sort {
		case "connected":
			if s.Connected {
				return 1
			}
			return 0
		case "subscriptions":
			return len(s.Subscriptions)
		case "in_flight":
			return s.InFlight
		}
		return s.ClientID
	}))
}

func (a *API) endMQTTSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("client")
	err := fmt.Errorf("%w: the mqtt adapter is not running", adapter.ErrNoSession)
	if l := a.o.SessionListers["mqtt"]; l != nil {
		err = l.EndSession(id)
	}
	a.act(r, "mqtt.session.end", id, nil, err)
	switch {
	case errors.Is(err, adapter.ErrNoSession):
		writeError(w, http.StatusNotFound, err)
	case errors.Is(err, adapter.ErrSessionConnected):
		writeError(w, http.StatusConflict, fmt.Errorf("%w: close its connection first", err))
	case err != nil:
		writeError(w, http.StatusInternalServerError, err)
	default:
		writeJSON(w, http.StatusOK, map[string]string{"ended": id})
	}
}

// BrokerInfo is the answer of GET /api/v1/broker.
type BrokerInfo struct {
	Name          string                  `json:"name"`
	Version       string                  `json:"version"`
	GoVersion     string                  `json:"go_version"`
	Started       time.Time               `json:"started"`
	UptimeSeconds float64                 `json:"uptime_seconds"`
	Anonymous     bool                    `json:"anonymous"`
	Listeners     map[string]string       `json:"listeners"`
	Counters      BrokerCounters          `json:"counters"`
	Rates         map[string]float64      `json:"rates"`
	Store         StoreInfo               `json:"store"`
	Memory        map[string]int64        `json:"memory"`
	Protocols     map[string]ProtocolInfo `json:"protocols"`
}

// BrokerCounters are the broker-wide counters.
type BrokerCounters struct {
	Sent         uint64 `json:"sent"`
	Routed       uint64 `json:"routed"`
	Dropped      uint64 `json:"dropped"`
	Duplicates   uint64 `json:"duplicates"`
	Expired      uint64 `json:"expired"`
	DeadLettered uint64 `json:"dead_lettered"`
	Addresses    int    `json:"addresses"`
	Queues       int    `json:"queues"`
	Connections  int64  `json:"connections"`
}

// StoreInfo describes the message store.
type StoreInfo struct {
	Type     string `json:"type"`
	Healthy  bool   `json:"healthy"`
	Error    string `json:"error"`
	Messages int    `json:"messages"`
	Bytes    int64  `json:"bytes"`
	Pressure bool   `json:"pressure"`
}

// ProtocolInfo are one adapter's counters and rates.
type ProtocolInfo struct {
	Connections  int64            `json:"connections"`
	Accepted     uint64           `json:"accepted"`
	MessagesIn   uint64           `json:"messages_in"`
	MessagesOut  uint64           `json:"messages_out"`
	BytesIn      uint64           `json:"bytes_in"`
	BytesOut     uint64           `json:"bytes_out"`
	InPerSecond  float64          `json:"in_per_second"`
	OutPerSecond float64          `json:"out_per_second"`
	Extra        map[string]int64 `json:"extra"`
}

func (a *API) getBroker(w http.ResponseWriter, r *http.Request) {
	st := a.b.Stats()
	ss := a.b.StoreStats()
	info := BrokerInfo{
		Name: "junction", Version: a.version, GoVersion: runtime.Version(), Started: a.started.UTC(),
		UptimeSeconds: time.Since(a.started).Seconds(), Anonymous: a.o.Security == nil || a.o.Security.AnonymousAllowed(),
		Listeners: a.o.Listeners(),
		Counters: BrokerCounters{Sent: st.Sent, Routed: st.Routed, Dropped: st.Dropped, Duplicates: st.Duplicates,
			Expired: st.Expired, DeadLettered: st.DeadLettered, Addresses: st.Addresses, Queues: st.Queues},
		Rates:     map[string]float64{"sent_per_second": a.rates.broker()},
		Store:     StoreInfo{Type: a.o.StoreType, Healthy: true, Messages: ss.Messages, Bytes: ss.Bytes, Pressure: a.b.StorePressure()},
		Memory:    map[string]int64{"global_size": a.b.GlobalSize()},
		Protocols: map[string]ProtocolInfo{},
	}
	if err := a.b.StoreHealth(); err != nil {
		info.Store.Healthy, info.Store.Error = false, err.Error()
	}
	for name, as := range a.o.Adapters() {
		rp := a.rates.adapter(name)
		extra := as.Extra
		if extra == nil {
			extra = map[string]int64{}
		}
		info.Protocols[name] = ProtocolInfo{Connections: as.Connections, Accepted: as.Accepted, MessagesIn: as.MessagesIn,
			MessagesOut: as.MessagesOut, BytesIn: as.BytesIn, BytesOut: as.BytesOut, InPerSecond: rp.in, OutPerSecond: rp.out, Extra: extra}
		info.Counters.Connections += as.Connections
	}
	writeJSON(w, http.StatusOK, info)
}

func (a *API) getHealth(w http.ResponseWriter, r *http.Request) {
	checks := map[string]string{"store": "ok"}
	status, code := "ok", http.StatusOK
	if err := a.b.StoreHealth(); err != nil {
		checks["store"] = err.Error()
		status, code = "unhealthy", http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"status": status, "checks": checks})
}
