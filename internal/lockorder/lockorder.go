// Package lockorder gives the broker's main locks a rank, so that a test
// build can check that every goroutine takes them in the order written in
// docs/ARCHITECTURE.md ("Locks"). In a normal build a Mutex is a sync.Mutex
// and costs nothing more; built with -tags lockorder, taking a lock whose rank
// is not above every lock the goroutine already holds panics with both.
package lockorder

// Ranks, outermost first. A goroutine may take a lock only while every lock
// it holds has a lower rank; two locks of one rank are never held together.
const (
	StoreFlush  = 10 // core: the hand-over of queued binding records; nothing else held
	MQTTSave    = 20 // mqtt: a session's record writes
	Transaction = 30 // core: Tx
	MQTTServer  = 31 // mqtt: the sessions map
	Broker      = 40 // core: addresses, queues, bindings
	Queue       = 50 // core: one queue
	MQTTSession = 60 // mqtt: one session (deliveries take it under a queue lock)
)

// Ranker names a lock's rank with a type, so that the zero value of a
// Mutex is ready to use and carries its rank at no cost.
type Ranker interface{ Rank() int }

// The rank types.
type (
	StoreFlushRank  struct{}
	MQTTSaveRank    struct{}
	TransactionRank struct{}
	MQTTServerRank  struct{}
	BrokerRank      struct{}
	QueueRank       struct{}
	MQTTSessionRank struct{}
)

func (StoreFlushRank) Rank() int  { return StoreFlush }
func (MQTTSaveRank) Rank() int    { return MQTTSave }
func (TransactionRank) Rank() int { return Transaction }
func (MQTTServerRank) Rank() int  { return MQTTServer }
func (BrokerRank) Rank() int      { return Broker }
func (QueueRank) Rank() int       { return Queue }
func (MQTTSessionRank) Rank() int { return MQTTSession }
