package wire

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// The marshalling plans: for each data structure type, the ordered fields the
// ActiveMQ marshallers read and write, each with its kind and the versions
// that have it. The generated Java marshallers v1..v12 differ only in fields
// added (or, twice, replaced) in a version, so one table covers them all.
// Sources: activemq-client org.apache.activemq.openwire.v9..v12 and
// activemq-openwire-legacy v1..v8, *Marshaller.looseUnmarshal.

type kind uint8

const (
	kBool      kind = iota
	kByte           // int8
	kInt            // int32
	kLong           // int64: 8 bytes loose, 0/2/4/8 bytes tight
	kString         // "" = null
	kBytes          // []byte: byte array or byte sequence, same wire form
	kMagic          // [8]byte, no length
	kNested         // a DataStructure, inline
	kCached         // a DataStructure through the marshalling cache
	kThrowable      // *Throwable
	kArray          // a slice of DataStructures, inline
)

var kindNames = map[string]kind{
	"bool": kBool, "byte": kByte, "int": kInt, "long": kLong, "string": kString,
	"bytes": kBytes, "magic": kMagic, "nested": kNested, "cached": kCached,
	"throwable": kThrowable, "array": kArray,
}

type field struct {
	name         string
	kind         kind
	since, until int // versions that have the field, inclusive; until 0 = still there
	idx          []int
	typ          reflect.Type
	// baseEnd marks ResponseRequired, the last BaseCommand field (the one
	// before it is CommandID): from there a failed decode can name the
	// command it could not decode.
	baseEnd bool
}

func (f *field) in(version int) bool {
	return version >= f.since && (f.until == 0 || version <= f.until)
}

type plan struct {
	typ   byte
	name  string
	since int // first version with a marshaller for this type
	// command: a Command whose top-level frame the server may receive.
	command bool
	// marshalAware: Message and WireFormatInfo; nested in tight encoding
	// they carry an extra flag (the Java "cached marshalled form", always
	// false on the wire from a Java writer).
	marshalAware bool
	goType       reflect.Type
	fields       []field
	init         func(v reflect.Value, typ byte) // sets the Type/Last discriminator
}

var plans [256]*plan

// typeNames names every id in CommandTypes, including the few without a
// marshaller (the primitive type markers 70-79), so errors can say what the
// peer sent.
var typeNames = map[byte]string{
	0:  "NULL",
	70: "BYTE_TYPE", 71: "CHAR_TYPE", 72: "SHORT_TYPE", 73: "INTEGER_TYPE", 74: "LONG_TYPE",
	75: "DOUBLE_TYPE", 76: "FLOAT_TYPE", 77: "STRING_TYPE", 78: "BOOLEAN_TYPE", 79: "BYTE_ARRAY_TYPE",
}

// TypeName names a data structure type id ("ConsumerInfo", "type 200").
func TypeName(t byte) string {
	if p := plans[t]; p != nil {
		return p.name
	}
	if n, ok := typeNames[t]; ok {
		return n
	}
	return "type " + strconv.Itoa(int(t))
}

const base = "CommandID:int ResponseRequired:bool "
const response = base + "CorrelationID:int "

func init() {
	def(TypeWireFormatInfo, 1, false, &WireFormatInfo{}, "Magic:magic Version:int Properties:bytes")
	def(TypeBrokerInfo, 1, true, &BrokerInfo{}, base+"BrokerID:cached BrokerURL:string PeerBrokerInfos:array "+
		"BrokerName:string SlaveBroker:bool MasterBroker:bool FaultTolerantConfiguration:bool "+
		"DuplexConnection:bool@2 NetworkConnection:bool@2 ConnectionID:long@2 "+
		"BrokerUploadURL:string@3 NetworkProperties:string@3")
	def(TypeConnectionInfo, 1, true, &ConnectionInfo{}, base+"ConnectionID:cached ClientID:string Password:string "+
		"UserName:string BrokerPath:array BrokerMasterConnector:bool Manageable:bool ClientMaster:bool@2 "+
		"FaultTolerant:bool@6 FailoverReconnect:bool@6 ClientIP:string@8")
	def(TypeSessionInfo, 1, true, &SessionInfo{}, base+"SessionID:cached")
	def(TypeConsumerInfo, 1, true, &ConsumerInfo{}, base+"ConsumerID:cached Browser:bool Destination:cached "+
		"PrefetchSize:int MaximumPendingMessageLimit:int DispatchAsync:bool Selector:string ClientID:string@10 "+
		"SubscriptionName:string NoLocal:bool Exclusive:bool Retroactive:bool Priority:byte BrokerPath:array "+
		"AdditionalPredicate:nested NetworkSubscription:bool OptimizedAcknowledge:bool NoRangeAcks:bool "+
		"NetworkConsumerPath:array@4")
	def(TypeProducerInfo, 1, true, &ProducerInfo{}, base+"ProducerID:cached Destination:cached BrokerPath:array "+
		"DispatchAsync:bool@2 WindowSize:int@3")
	def(TypeTransactionInfo, 1, true, &TransactionInfo{}, base+"ConnectionID:cached TransactionID:cached Type:byte")
	def(TypeDestinationInfo, 1, true, &DestinationInfo{}, base+"ConnectionID:cached Destination:cached "+
		"OperationType:byte Timeout:long BrokerPath:array")
	def(TypeRemoveSubscriptionInfo, 1, true, &RemoveSubscriptionInfo{}, base+"ConnectionID:cached "+
		"SubscriptionName:string ClientID:string")
	def(TypeKeepAliveInfo, 1, true, &KeepAliveInfo{}, base)
	def(TypeShutdownInfo, 1, true, &ShutdownInfo{}, base)
	def(TypeRemoveInfo, 1, true, &RemoveInfo{}, base+"ObjectID:cached LastDeliveredSequenceID:long@5")
	def(TypeControlCommand, 1, true, &ControlCommand{}, base+"Command:string")
	def(TypeFlushCommand, 1, true, &FlushCommand{}, base)
	def(TypeConnectionError, 1, true, &ConnectionError{}, base+"Exception:throwable ConnectionID:nested")
	def(TypeConsumerControl, 1, true, &ConsumerControl{}, base+"Destination:nested@6 Close:bool ConsumerID:nested "+
		"Prefetch:int Flush:bool@2 Start:bool@2 Stop:bool@2")
	def(TypeConnectionControl, 1, true, &ConnectionControl{}, base+"Close:bool Exit:bool FaultTolerant:bool "+
		"Resume:bool Suspend:bool ConnectedBrokers:string@6 ReconnectTo:string@6 RebalanceConnection:bool@6 "+
		"Token:bytes@8")
	def(TypeProducerAck, 3, true, &ProducerAck{}, base+"ProducerID:nested Size:int")
	def(TypeMessagePull, 2, true, &MessagePull{}, base+"ConsumerID:cached Destination:cached Timeout:long "+
		"CorrelationID:string@3 MessageID:nested@3")
	def(TypeMessageDispatch, 1, true, &MessageDispatch{}, base+"ConsumerID:cached Destination:cached "+
		"Message:nested RedeliveryCounter:int")
	def(TypeMessageAck, 1, true, &MessageAck{}, base+"Destination:cached TransactionID:cached ConsumerID:cached "+
		"AckType:byte FirstMessageID:nested LastMessageID:nested MessageCount:int PoisonCause:throwable@7")
	msg := base + "ProducerID:cached Destination:cached TransactionID:cached OriginalDestination:cached " +
		"MessageID:nested OriginalTransactionID:cached GroupID:string GroupSequence:int CorrelationID:string " +
		"Persistent:bool Expiration:long Priority:byte ReplyTo:nested Timestamp:long JMSType:string " +
		"Content:bytes MarshalledProperties:bytes DataStructure:nested TargetConsumerID:cached Compressed:bool " +
		"RedeliveryCounter:int BrokerPath:array Arrival:long UserID:string ReceivedByDFBridge:bool " +
		"Droppable:bool@2 Cluster:array@3 BrokerInTime:long@3 BrokerOutTime:long@3 " +
		"JMSXGroupFirstForConsumer:bool@10"
	for _, t := range []byte{TypeMessage, TypeBytesMessage, TypeMapMessage, TypeObjectMessage, TypeStreamMessage, TypeTextMessage} {
		def(t, 1, true, &Message{}, msg)
	}
	def(TypeBlobMessage, 3, true, &Message{}, msg+" RemoteBlobURL:string MimeType:string DeletedByBroker:bool")
	def(TypeResponse, 1, true, &Response{}, response)
	def(TypeExceptionResponse, 1, true, &ExceptionResponse{}, response+"Exception:throwable")
	def(TypeDataResponse, 1, true, &DataResponse{}, response+"Data:nested")
	def(TypeDataArrayResponse, 1, true, &DataArrayResponse{}, response+"Data:array")
	def(TypeIntegerResponse, 1, true, &IntegerResponse{}, response+"Result:int")
	def(TypeDiscoveryEvent, 1, false, &DiscoveryEvent{}, "ServiceName:string BrokerName:string")
	def(TypeJournalTopicAck, 1, false, &JournalTopicAck{}, "Destination:nested MessageID:nested "+
		"MessageSequenceID:long SubscriptionName:string ClientID:string TransactionID:nested")
	def(TypeJournalQueueAck, 1, false, &JournalQueueAck{}, "Destination:nested MessageAck:nested")
	def(TypeJournalTrace, 1, false, &JournalTrace{}, "Message:string")
	def(TypeJournalTransaction, 1, false, &JournalTransaction{}, "TransactionID:nested Type:byte WasPrepared:bool")
	def(TypeSubscriptionInfo, 1, false, &SubscriptionInfo{}, "ClientID:string Destination:cached Selector:string "+
		"SubscriptionName:string SubscribedDestination:nested@3 NoLocal:bool@11")
	def(TypePartialCommand, 1, false, &PartialCommand{}, "CommandID:int Data:bytes")
	def(TypeLastPartialCommand, 1, false, &PartialCommand{}, "CommandID:int Data:bytes")
	def(TypeReplayCommand, 1, true, &ReplayCommand{}, base+"FirstNakNumber:int LastNakNumber:int")
	def(TypeMessageDispatchNotification, 1, true, &MessageDispatchNotification{}, base+"ConsumerID:cached "+
		"Destination:cached DeliverySequenceID:long MessageID:nested")
	def(TypeNetworkBridgeFilter, 1, false, &NetworkBridgeFilter{}, "NetworkTTL:int@1-9 NetworkBrokerID:cached "+
		"MessageTTL:int@10 ConsumerTTL:int@10")
	def(TypeBrokerSubscriptionInfo, 12, true, &BrokerSubscriptionInfo{}, base+"BrokerID:nested BrokerName:string "+
		"SubscriptionInfos:array")
	for _, t := range []byte{TypeQueue, TypeTopic, TypeTempQueue, TypeTempTopic} {
		def(t, 1, false, &Destination{}, "PhysicalName:string")
	}
	def(TypeMessageID, 1, false, &MessageID{}, "TextView:string@10 ProducerID:cached ProducerSequenceID:long "+
		"BrokerSequenceID:long")
	def(TypeLocalTransactionID, 1, false, &LocalTransactionID{}, "Value:long ConnectionID:cached")
	def(TypeXATransactionID, 1, false, &XATransactionID{}, "FormatID:int GlobalTransactionID:bytes "+
		"BranchQualifier:bytes")
	def(TypeConnectionID, 1, false, &ConnectionID{}, "Value:string")
	def(TypeSessionID, 1, false, &SessionID{}, "ConnectionID:string Value:long")
	def(TypeConsumerID, 1, false, &ConsumerID{}, "ConnectionID:string SessionID:long Value:long")
	def(TypeProducerID, 1, false, &ProducerID{}, "ConnectionID:string Value:long SessionID:long")
	def(TypeBrokerID, 1, false, &BrokerID{}, "Value:string")

	for _, t := range []byte{TypeMessage, TypeBytesMessage, TypeMapMessage, TypeObjectMessage, TypeStreamMessage, TypeTextMessage, TypeBlobMessage} {
		plans[t].marshalAware = true
		plans[t].init = func(v reflect.Value, typ byte) { v.FieldByName("Type").SetUint(uint64(typ)) }
	}
	plans[TypeWireFormatInfo].marshalAware = true
	for _, t := range []byte{TypeQueue, TypeTopic, TypeTempQueue, TypeTempTopic} {
		plans[t].init = func(v reflect.Value, typ byte) { v.FieldByName("Type").SetUint(uint64(typ)) }
	}
	plans[TypeLastPartialCommand].init = func(v reflect.Value, _ byte) { v.FieldByName("Last").SetBool(true) }
}

var (
	dataStructureType = reflect.TypeFor[DataStructure]()
	throwableType     = reflect.TypeFor[*Throwable]()
)

// def registers a plan. spec lists "Name:kind", "Name:kind@since" or
// "Name:kind@since-until". It panics on a mistake in the table, so a bad
// entry fails every test at init rather than a connection at run time.
func def(typ byte, since int, command bool, proto DataStructure, spec string) {
	gt := reflect.TypeOf(proto).Elem()
	p := &plan{typ: typ, since: since, command: command, goType: gt, name: gt.Name()}
	switch typ {
	case TypeQueue:
		p.name = "ActiveMQQueue"
	case TypeTopic:
		p.name = "ActiveMQTopic"
	case TypeTempQueue:
		p.name = "ActiveMQTempQueue"
	case TypeTempTopic:
		p.name = "ActiveMQTempTopic"
	case TypeMessage:
		p.name = "ActiveMQMessage"
	case TypeBytesMessage, TypeMapMessage, TypeObjectMessage, TypeStreamMessage, TypeTextMessage, TypeBlobMessage:
		p.name = [...]string{"ActiveMQBytesMessage", "ActiveMQMapMessage", "ActiveMQObjectMessage",
			"ActiveMQStreamMessage", "ActiveMQTextMessage", "ActiveMQBlobMessage"}[typ-TypeBytesMessage]
	case TypeLastPartialCommand:
		p.name = "LastPartialCommand"
	}
	for _, tok := range strings.Fields(spec) {
		name, rest, ok := strings.Cut(tok, ":")
		if !ok {
			panic("openwire plan: bad token " + tok)
		}
		kname, vers, _ := strings.Cut(rest, "@")
		k, ok := kindNames[kname]
		if !ok {
			panic("openwire plan: bad kind " + tok)
		}
		f := field{name: name, kind: k, since: 1}
		if vers != "" {
			lo, hi, _ := strings.Cut(vers, "-")
			f.since, _ = strconv.Atoi(lo)
			if hi != "" {
				f.until, _ = strconv.Atoi(hi)
			}
		}
		sf, ok := gt.FieldByName(name)
		if !ok {
			panic(fmt.Sprintf("openwire plan: %s has no field %s", gt.Name(), name))
		}
		f.idx, f.typ = sf.Index, sf.Type
		f.baseEnd = name == "ResponseRequired" && len(p.fields) == 1 && p.fields[0].name == "CommandID"
		checkKind(gt.Name(), &f)
		p.fields = append(p.fields, f)
	}
	plans[typ] = p
}

func checkKind(owner string, f *field) {
	var ok bool
	switch f.kind {
	case kBool:
		ok = f.typ.Kind() == reflect.Bool
	case kByte:
		ok = f.typ.Kind() == reflect.Int8
	case kInt:
		ok = f.typ.Kind() == reflect.Int32
	case kLong:
		ok = f.typ.Kind() == reflect.Int64
	case kString:
		ok = f.typ.Kind() == reflect.String
	case kBytes:
		ok = f.typ == reflect.TypeFor[[]byte]()
	case kMagic:
		ok = f.typ == reflect.TypeFor[[8]byte]()
	case kNested, kCached:
		ok = f.typ.Implements(dataStructureType)
	case kThrowable:
		ok = f.typ == throwableType
	case kArray:
		ok = f.typ.Kind() == reflect.Slice && f.typ.Elem().Implements(dataStructureType)
	}
	if !ok {
		panic(fmt.Sprintf("openwire plan: %s.%s has Go type %s", owner, f.name, f.typ))
	}
}

// Known reports whether t has a marshaller in version v.
func Known(t byte, v int) bool {
	p := plans[t]
	return p != nil && v >= p.since
}

// IsCommand reports whether t is a command type (one the server may receive
// as a frame), as opposed to an id, destination or store record.
func IsCommand(t byte) bool {
	p := plans[t]
	return p != nil && p.command
}
