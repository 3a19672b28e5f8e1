package wire

// Data structure type ids (activemq-client CommandTypes). Every id the
// ActiveMQ 5.x marshallers know is listed; the decoder recognises all of them
// (TypeName) and decodes every one that has a marshaller, so the server can
// answer any command rather than drop the connection on an unknown id.
const (
	TypeNull                        byte = 0
	TypeWireFormatInfo              byte = 1
	TypeBrokerInfo                  byte = 2
	TypeConnectionInfo              byte = 3
	TypeSessionInfo                 byte = 4
	TypeConsumerInfo                byte = 5
	TypeProducerInfo                byte = 6
	TypeTransactionInfo             byte = 7
	TypeDestinationInfo             byte = 8
	TypeRemoveSubscriptionInfo      byte = 9
	TypeKeepAliveInfo               byte = 10
	TypeShutdownInfo                byte = 11
	TypeRemoveInfo                  byte = 12
	TypeControlCommand              byte = 14
	TypeFlushCommand                byte = 15
	TypeConnectionError             byte = 16
	TypeConsumerControl             byte = 17
	TypeConnectionControl           byte = 18
	TypeProducerAck                 byte = 19
	TypeMessagePull                 byte = 20
	TypeMessageDispatch             byte = 21
	TypeMessageAck                  byte = 22
	TypeMessage                     byte = 23 // ActiveMQMessage: a JMS Message without a body
	TypeBytesMessage                byte = 24
	TypeMapMessage                  byte = 25
	TypeObjectMessage               byte = 26
	TypeStreamMessage               byte = 27
	TypeTextMessage                 byte = 28
	TypeBlobMessage                 byte = 29
	TypeResponse                    byte = 30
	TypeExceptionResponse           byte = 31
	TypeDataResponse                byte = 32
	TypeDataArrayResponse           byte = 33
	TypeIntegerResponse             byte = 34
	TypeDiscoveryEvent              byte = 40
	TypeJournalTopicAck             byte = 50 // JOURNAL_ACK
	TypeJournalQueueAck             byte = 52 // JOURNAL_REMOVE
	TypeJournalTrace                byte = 53
	TypeJournalTransaction          byte = 54
	TypeSubscriptionInfo            byte = 55 // DURABLE_SUBSCRIPTION_INFO
	TypePartialCommand              byte = 60
	TypeLastPartialCommand          byte = 61
	TypeReplayCommand               byte = 65
	TypeMessageDispatchNotification byte = 90
	TypeNetworkBridgeFilter         byte = 91
	TypeBrokerSubscriptionInfo      byte = 92
	TypeQueue                       byte = 100
	TypeTopic                       byte = 101
	TypeTempQueue                   byte = 102
	TypeTempTopic                   byte = 103
	TypeMessageID                   byte = 110
	TypeLocalTransactionID          byte = 111
	TypeXATransactionID             byte = 112
	TypeConnectionID                byte = 120
	TypeSessionID                   byte = 121
	TypeConsumerID                  byte = 122
	TypeProducerID                  byte = 123
	TypeBrokerID                    byte = 124
)

// DataStructure is anything that travels as a typed OpenWire object: commands,
// ids, destinations, transaction ids.
type DataStructure interface {
	DataType() byte
}

// Command is a DataStructure sent as a top-level frame. Every Command except
// WireFormatInfo (which has no command id on the wire) carries a BaseCommand.
type Command interface {
	DataStructure
	// Base returns the command id and response-required flag; WireFormatInfo
	// returns a zero BaseCommand that is never marshalled.
	Base() *BaseCommand
}

// BaseCommand holds the fields every command shares. A command with
// ResponseRequired set expects a Response (or ExceptionResponse) whose
// CorrelationID is CommandID.
type BaseCommand struct {
	CommandID        int32
	ResponseRequired bool
}

// Base implements Command.
func (b *BaseCommand) Base() *BaseCommand { return b }

// Strings: OpenWire distinguishes a null string from an empty one; this
// package maps both to "" when decoding and encodes "" as null. JMS clients
// treat the fields concerned (ids, selectors, correlation ids, user names) the
// same either way, and it keeps every struct free of *string.

// ---- identifiers ----

// ConnectionID names a connection ("ID:host-port-time-n:k").
type ConnectionID struct{ Value string }

// SessionID names a session within a connection.
type SessionID struct {
	ConnectionID string
	Value        int64
}

// ProducerID names a producer within a session.
type ProducerID struct {
	ConnectionID string
	Value        int64
	SessionID    int64
}

// ConsumerID names a consumer within a session.
type ConsumerID struct {
	ConnectionID string
	SessionID    int64
	Value        int64
}

// BrokerID names a broker.
type BrokerID struct{ Value string }

// MessageID names a message: its producer and the producer's sequence number.
// TextView (v10+) carries a client-chosen JMSMessageID string, set when the
// message id was assigned from text rather than from the producer id.
type MessageID struct {
	TextView           string
	ProducerID         *ProducerID
	ProducerSequenceID int64
	BrokerSequenceID   int64
}

// TransactionID is a *LocalTransactionID or an *XATransactionID.
type TransactionID interface {
	DataStructure
	isTransactionID()
}

// LocalTransactionID names a JMS session transaction.
type LocalTransactionID struct {
	Value        int64
	ConnectionID *ConnectionID
}

// XATransactionID is an XA Xid. The server decodes it only to refuse XA.
type XATransactionID struct {
	FormatID            int32
	GlobalTransactionID []byte
	BranchQualifier     []byte
}

func (*LocalTransactionID) isTransactionID() {}
func (*XATransactionID) isTransactionID()    {}

// Destination is an ActiveMQDestination. Type is TypeQueue, TypeTopic,
// TypeTempQueue or TypeTempTopic; PhysicalName may be a composite
// ("a,b,topic://c") or carry "?options", exactly as the client sent it.
type Destination struct {
	Type         byte
	PhysicalName string
}

// IsTopic reports whether the destination is a topic or a temporary topic.
func (d *Destination) IsTopic() bool { return d.Type == TypeTopic || d.Type == TypeTempTopic }

// IsTemporary reports whether the destination is a temporary queue or topic.
func (d *Destination) IsTemporary() bool { return d.Type == TypeTempQueue || d.Type == TypeTempTopic }

// ---- handshake ----

// WireFormatInfo opens every connection in both directions. Magic must be
// "ActiveMQ"; Properties is the marshalled primitive map of options
// (WireFormatInfo.Options decodes it).
type WireFormatInfo struct {
	Magic      [8]byte
	Version    int32
	Properties []byte // marshalled primitive map
}

// BrokerInfo tells the client who the broker is; a server sends one after the
// handshake.
type BrokerInfo struct {
	BaseCommand
	BrokerID                   *BrokerID
	BrokerURL                  string
	PeerBrokerInfos            []*BrokerInfo
	BrokerName                 string
	SlaveBroker                bool
	MasterBroker               bool
	FaultTolerantConfiguration bool
	DuplexConnection           bool   // v2+
	NetworkConnection          bool   // v2+
	ConnectionID               int64  // v2+
	BrokerUploadURL            string // v3+
	NetworkProperties          string // v3+
}

// ---- connection, session, producer, consumer lifecycle ----

// ConnectionInfo opens a JMS connection (user name and password included).
type ConnectionInfo struct {
	BaseCommand
	ConnectionID          *ConnectionID
	ClientID              string
	Password              string
	UserName              string
	BrokerPath            []*BrokerID
	BrokerMasterConnector bool
	Manageable            bool
	ClientMaster          bool   // v2+
	FaultTolerant         bool   // v6+
	FailoverReconnect     bool   // v6+
	ClientIP              string // v8+
}

// SessionInfo opens a session.
type SessionInfo struct {
	BaseCommand
	SessionID *SessionID
}

// ProducerInfo opens a producer; Destination is nil for an anonymous producer.
type ProducerInfo struct {
	BaseCommand
	ProducerID    *ProducerID
	Destination   *Destination
	BrokerPath    []*BrokerID
	DispatchAsync bool  // v2+
	WindowSize    int32 // v3+: producer flow control window in bytes (ProducerAck)
}

// ConsumerInfo opens a consumer, a durable subscriber (SubscriptionName) or a
// queue browser (Browser).
type ConsumerInfo struct {
	BaseCommand
	ConsumerID                 *ConsumerID
	Browser                    bool
	Destination                *Destination
	PrefetchSize               int32
	MaximumPendingMessageLimit int32
	DispatchAsync              bool
	Selector                   string
	ClientID                   string // v10+
	SubscriptionName           string
	NoLocal                    bool
	Exclusive                  bool
	Retroactive                bool
	Priority                   int8
	BrokerPath                 []*BrokerID
	AdditionalPredicate        DataStructure // network bridges only
	NetworkSubscription        bool
	OptimizedAcknowledge       bool
	NoRangeAcks                bool
	NetworkConsumerPath        []*ConsumerID // v4+
}

// RemoveInfo closes the connection, session, producer or consumer named by
// ObjectID (*ConnectionID, *SessionID, *ProducerID or *ConsumerID).
type RemoveInfo struct {
	BaseCommand
	ObjectID                DataStructure
	LastDeliveredSequenceID int64 // v5+
}

// RemoveSubscriptionInfo deletes a durable subscription.
type RemoveSubscriptionInfo struct {
	BaseCommand
	ConnectionID     *ConnectionID
	SubscriptionName string
	ClientID         string
}

// Destination operation types for DestinationInfo.OperationType.
const (
	DestinationAdd    int8 = 0
	DestinationRemove int8 = 1
)

// DestinationInfo creates or deletes a destination (temporary ones mostly).
type DestinationInfo struct {
	BaseCommand
	ConnectionID  *ConnectionID
	Destination   *Destination
	OperationType int8
	Timeout       int64
	BrokerPath    []*BrokerID
}

// Transaction operation types for TransactionInfo.Type.
const (
	TxBegin          int8 = 0
	TxPrepare        int8 = 1
	TxCommitOnePhase int8 = 2
	TxCommitTwoPhase int8 = 3
	TxRollback       int8 = 4
	TxRecover        int8 = 5
	TxForget         int8 = 6
	TxEnd            int8 = 7
)

// TransactionInfo begins, commits, rolls back (or, for XA, prepares, ends,
// recovers, forgets) a transaction.
type TransactionInfo struct {
	BaseCommand
	ConnectionID  *ConnectionID
	TransactionID TransactionID
	Type          int8
}

// ---- simple commands ----

// KeepAliveInfo keeps an idle connection alive (inactivity monitor). A peer
// that receives one with ResponseRequired answers with a KeepAliveInfo.
type KeepAliveInfo struct{ BaseCommand }

// ShutdownInfo announces an orderly close.
type ShutdownInfo struct{ BaseCommand }

// FlushCommand asks for pending work to be flushed.
type FlushCommand struct{ BaseCommand }

// ControlCommand carries an advisory control string.
type ControlCommand struct {
	BaseCommand
	Command string
}

// ConnectionError tells the client the connection failed and why.
type ConnectionError struct {
	BaseCommand
	Exception    *Throwable
	ConnectionID *ConnectionID
}

// ConsumerControl changes a consumer (prefetch, start/stop, close) from the
// broker side.
type ConsumerControl struct {
	BaseCommand
	Destination *Destination // v6+
	Close       bool
	ConsumerID  *ConsumerID
	Prefetch    int32
	Flush       bool // v2+
	Start       bool // v2+
	Stop        bool // v2+
}

// ConnectionControl tells the client to suspend, resume, close or rebalance.
type ConnectionControl struct {
	BaseCommand
	Close               bool
	Exit                bool
	FaultTolerant       bool
	Resume              bool
	Suspend             bool
	ConnectedBrokers    string // v6+
	ReconnectTo         string // v6+
	RebalanceConnection bool   // v6+
	Token               []byte // v8+
}

// ProducerAck returns Size bytes of producer window to a producer that sent
// with a WindowSize.
type ProducerAck struct {
	BaseCommand
	ProducerID *ProducerID
	Size       int32
}

// MessagePull asks for one message for a zero-prefetch consumer, waiting up
// to Timeout ms (0 = wait forever, -1 = no wait).
type MessagePull struct {
	BaseCommand
	ConsumerID    *ConsumerID
	Destination   *Destination
	Timeout       int64
	CorrelationID string     // v3+
	MessageID     *MessageID // v3+
}

// MessageDispatch delivers Message to ConsumerID. A dispatch with a nil
// Message tells a pulling consumer that nothing arrived before its timeout.
type MessageDispatch struct {
	BaseCommand
	ConsumerID        *ConsumerID
	Destination       *Destination
	Message           *Message
	RedeliveryCounter int32
}

// Acknowledgement types for MessageAck.AckType.
const (
	AckDelivered   int8 = 0 // delivered but not consumed (prefetch extension)
	AckStandard    int8 = 2 // consumed
	AckPoison      int8 = 1 // redelivery limit exceeded: dead-letter it
	AckRedelivered int8 = 3 // will be redelivered to the client (rollback)
	AckIndividual  int8 = 4 // one message (INDIVIDUAL_ACKNOWLEDGE)
	AckUnmatched   int8 = 5 // did not match a selector (network bridges)
	AckExpired     int8 = 6 // expired on the client
)

// MessageAck acknowledges the messages from FirstMessageID to LastMessageID
// (MessageCount of them) delivered to ConsumerID.
type MessageAck struct {
	BaseCommand
	Destination    *Destination
	TransactionID  TransactionID
	ConsumerID     *ConsumerID
	AckType        int8
	FirstMessageID *MessageID
	LastMessageID  *MessageID
	MessageCount   int32
	PoisonCause    *Throwable // v7+
}

// ---- responses ----

// Response answers a command with ResponseRequired; CorrelationID is the
// command's CommandID.
type Response struct {
	BaseCommand
	CorrelationID int32
}

// ExceptionResponse answers a command that failed.
type ExceptionResponse struct {
	Response
	Exception *Throwable
}

// DataResponse answers with one data structure.
type DataResponse struct {
	Response
	Data DataStructure
}

// DataArrayResponse answers with several data structures.
type DataArrayResponse struct {
	Response
	Data []DataStructure
}

// IntegerResponse answers with an integer (XA prepare votes).
type IntegerResponse struct {
	Response
	Result int32
}

// Throwable is a Java exception as the wire carries it: a class name, a
// message, optionally a stack trace and a cause. It is plain data: no class
// name read from the wire ever selects code (CVE-2023-46604 was exactly the
// Java marshaller instantiating the named class).
type Throwable struct {
	Class   string
	Message string
	Stack   []StackFrame // only on the wire when StackTraceEnabled
	Cause   *Throwable   // likewise
}

// StackFrame is one StackTraceElement.
type StackFrame struct {
	Class, Method, File string
	Line                int32
}

// ---- messages ----

// Message is every JMS message type: DataType is the Type field (TypeMessage,
// TypeTextMessage, ...). Content and MarshalledProperties stay in their wire
// form; body.go and primitive.go decode them.
type Message struct {
	BaseCommand
	Type                      byte
	ProducerID                *ProducerID
	Destination               *Destination
	TransactionID             TransactionID
	OriginalDestination       *Destination
	MessageID                 *MessageID
	OriginalTransactionID     TransactionID
	GroupID                   string
	GroupSequence             int32
	CorrelationID             string
	Persistent                bool
	Expiration                int64
	Priority                  int8
	ReplyTo                   *Destination
	Timestamp                 int64
	JMSType                   string
	Content                   []byte // nil: no body
	MarshalledProperties      []byte // nil: no properties
	DataStructure             DataStructure
	TargetConsumerID          *ConsumerID
	Compressed                bool
	RedeliveryCounter         int32
	BrokerPath                []*BrokerID
	Arrival                   int64
	UserID                    string
	ReceivedByDFBridge        bool
	Droppable                 bool        // v2+
	Cluster                   []*BrokerID // v3+
	BrokerInTime              int64       // v3+
	BrokerOutTime             int64       // v3+
	JMSXGroupFirstForConsumer bool        // v10+

	// Blob messages only (TypeBlobMessage, v3+).
	RemoteBlobURL   string
	MimeType        string
	DeletedByBroker bool
}

// ---- broker-to-broker, journal and other rarely seen structures ----
// A client never sends these; they are decoded so the server can refuse them
// by type with a precise error.

// DiscoveryEvent announces a discovered service.
type DiscoveryEvent struct {
	ServiceName string
	BrokerName  string
}

// JournalTopicAck is a journal record (store-internal).
type JournalTopicAck struct {
	Destination       *Destination
	MessageID         *MessageID
	MessageSequenceID int64
	SubscriptionName  string
	ClientID          string
	TransactionID     TransactionID
}

// JournalQueueAck is a journal record (store-internal).
type JournalQueueAck struct {
	Destination *Destination
	MessageAck  *MessageAck
}

// JournalTrace is a journal record (store-internal).
type JournalTrace struct{ Message string }

// JournalTransaction is a journal record (store-internal).
type JournalTransaction struct {
	TransactionID TransactionID
	Type          int8
	WasPrepared   bool
}

// SubscriptionInfo describes a durable subscription (store-internal and
// network bridges).
type SubscriptionInfo struct {
	ClientID              string
	Destination           *Destination
	Selector              string
	SubscriptionName      string
	SubscribedDestination *Destination // v3+
	NoLocal               bool         // v11+
}

// PartialCommand is a fragment of a command (UDP transport). Last is set for
// TypeLastPartialCommand.
type PartialCommand struct {
	Last      bool
	CommandID int32
	Data      []byte
}

// ReplayCommand asks for a replay of fragments (UDP transport).
type ReplayCommand struct {
	BaseCommand
	FirstNakNumber int32
	LastNakNumber  int32
}

// MessageDispatchNotification tells a slave broker about a dispatch.
type MessageDispatchNotification struct {
	BaseCommand
	ConsumerID         *ConsumerID
	Destination        *Destination
	DeliverySequenceID int64
	MessageID          *MessageID
}

// NetworkBridgeFilter is a network bridge's consumer predicate.
type NetworkBridgeFilter struct {
	NetworkTTL      int32 // v1-v9
	NetworkBrokerID *BrokerID
	MessageTTL      int32 // v10+
	ConsumerTTL     int32 // v10+
}

// BrokerSubscriptionInfo lists a broker's durable subscriptions (v12,
// network bridges).
type BrokerSubscriptionInfo struct {
	BaseCommand
	BrokerID          *BrokerID
	BrokerName        string
	SubscriptionInfos []*ConsumerInfo
}

// DataType implementations.

func (*ConnectionID) DataType() byte                { return TypeConnectionID }
func (*SessionID) DataType() byte                   { return TypeSessionID }
func (*ProducerID) DataType() byte                  { return TypeProducerID }
func (*ConsumerID) DataType() byte                  { return TypeConsumerID }
func (*BrokerID) DataType() byte                    { return TypeBrokerID }
func (*MessageID) DataType() byte                   { return TypeMessageID }
func (*LocalTransactionID) DataType() byte          { return TypeLocalTransactionID }
func (*XATransactionID) DataType() byte             { return TypeXATransactionID }
func (d *Destination) DataType() byte               { return d.Type }
func (*WireFormatInfo) DataType() byte              { return TypeWireFormatInfo }
func (*BrokerInfo) DataType() byte                  { return TypeBrokerInfo }
func (*ConnectionInfo) DataType() byte              { return TypeConnectionInfo }
func (*SessionInfo) DataType() byte                 { return TypeSessionInfo }
func (*ProducerInfo) DataType() byte                { return TypeProducerInfo }
func (*ConsumerInfo) DataType() byte                { return TypeConsumerInfo }
func (*RemoveInfo) DataType() byte                  { return TypeRemoveInfo }
func (*RemoveSubscriptionInfo) DataType() byte      { return TypeRemoveSubscriptionInfo }
func (*DestinationInfo) DataType() byte             { return TypeDestinationInfo }
func (*TransactionInfo) DataType() byte             { return TypeTransactionInfo }
func (*KeepAliveInfo) DataType() byte               { return TypeKeepAliveInfo }
func (*ShutdownInfo) DataType() byte                { return TypeShutdownInfo }
func (*FlushCommand) DataType() byte                { return TypeFlushCommand }
func (*ControlCommand) DataType() byte              { return TypeControlCommand }
func (*ConnectionError) DataType() byte             { return TypeConnectionError }
func (*ConsumerControl) DataType() byte             { return TypeConsumerControl }
func (*ConnectionControl) DataType() byte           { return TypeConnectionControl }
func (*ProducerAck) DataType() byte                 { return TypeProducerAck }
func (*MessagePull) DataType() byte                 { return TypeMessagePull }
func (*MessageDispatch) DataType() byte             { return TypeMessageDispatch }
func (*MessageAck) DataType() byte                  { return TypeMessageAck }
func (*Response) DataType() byte                    { return TypeResponse }
func (*ExceptionResponse) DataType() byte           { return TypeExceptionResponse }
func (*DataResponse) DataType() byte                { return TypeDataResponse }
func (*DataArrayResponse) DataType() byte           { return TypeDataArrayResponse }
func (*IntegerResponse) DataType() byte             { return TypeIntegerResponse }
func (m *Message) DataType() byte                   { return m.Type }
func (*DiscoveryEvent) DataType() byte              { return TypeDiscoveryEvent }
func (*JournalTopicAck) DataType() byte             { return TypeJournalTopicAck }
func (*JournalQueueAck) DataType() byte             { return TypeJournalQueueAck }
func (*JournalTrace) DataType() byte                { return TypeJournalTrace }
func (*JournalTransaction) DataType() byte          { return TypeJournalTransaction }
func (*SubscriptionInfo) DataType() byte            { return TypeSubscriptionInfo }
func (*ReplayCommand) DataType() byte               { return TypeReplayCommand }
func (*MessageDispatchNotification) DataType() byte { return TypeMessageDispatchNotification }
func (*NetworkBridgeFilter) DataType() byte         { return TypeNetworkBridgeFilter }
func (*BrokerSubscriptionInfo) DataType() byte      { return TypeBrokerSubscriptionInfo }

// DataType implements DataStructure.
func (p *PartialCommand) DataType() byte {
	if p.Last {
		return TypeLastPartialCommand
	}
	return TypePartialCommand
}

// Base implements Command with a zero BaseCommand: WireFormatInfo has no
// command id on the wire.
func (*WireFormatInfo) Base() *BaseCommand { return &BaseCommand{} }
