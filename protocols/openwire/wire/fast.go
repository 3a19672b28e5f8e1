package wire

// The fast path: hand-written marshalling of the commands every message
// crosses (messages, MessageDispatch, MessageAck, ProducerAck, Response,
// KeepAliveInfo) in versions 10-12, whose field lists are the same. The
// table-driven codec in codec.go reaches each field through reflection, which
// costs microseconds per message; these functions read and write the same
// fields in the same order with the same primitives (flag, long, string,
// the cache), so their output is byte for byte the table's.
//
// The fast path only ever handles the common shape of a command. Anything
// else (an array, a nested advisory, an XA transaction, an exception, a
// string near its length limit, a malformed field) makes it give up before
// it has any effect: the decoder undoes the cache slots it wrote and the
// table path decodes the frame from the start, so every error, and every
// rare shape, comes from the one reference implementation. fast_test.go and
// FuzzFastDecode check the two paths agree.

// fastMinVersion is the first version whose hot commands have all the
// fields the fast path reads (MessageID.TextView and
// Message.JMSXGroupFirstForConsumer arrived in 10).
const fastMinVersion = 10

// fastTypes lists the top-level types with a fast path.
var fastTypes = [256]bool{
	TypeMessage: true, TypeBytesMessage: true, TypeMapMessage: true, TypeObjectMessage: true,
	TypeStreamMessage: true, TypeTextMessage: true, TypeMessageDispatch: true, TypeMessageAck: true,
	TypeProducerAck: true, TypeResponse: true, TypeKeepAliveInfo: true,
}

// isFastMessage: the message types whose fields are exactly the base
// Message's (BlobMessage has three more and is left to the table).
func isFastMessage(t byte) bool { return t >= TypeMessage && t <= TypeTextMessage }

// ---- decoding ----

// fastDec decodes with decodeState's primitives and records every cache
// slot it overwrites, so that giving up leaves the cache as it found it.
type fastDec struct {
	decodeState
	undo  [16]undoSlot
	nundo int
}

type undoSlot struct {
	idx int
	old cacheSlot
}

// decodeFast decodes frame if it has the common shape of a hot command; ok
// false means the table path must decode it (the cache is untouched).
func (d *Decoder) decodeFast(frame []byte) (c Command, ok bool) {
	s := fastDec{decodeState: decodeState{f: d.f, cache: d.cache, r: reader{b: frame, off: 1}, tight: d.f.Tight}}
	if s.tight && s.readBits() != nil {
		return nil, false
	}
	switch t := frame[0]; {
	case t == TypeMessageDispatch:
		c, ok = s.dispatch()
	case isFastMessage(t):
		var m *Message
		m, ok = s.message(t, nil)
		c = m
	case t == TypeMessageAck:
		c, ok = s.ack()
	case t == TypeProducerAck:
		c, ok = s.producerAck()
	case t == TypeResponse:
		r := &Response{}
		ok = s.base(&r.BaseCommand) && s.i32(&r.CorrelationID)
		c = r
	case t == TypeKeepAliveInfo:
		k := &KeepAliveInfo{}
		ok = s.base(&k.BaseCommand)
		c = k
	}
	if !ok || s.r.left() != 0 {
		s.rollback()
		return nil, false
	}
	return c, true
}

func (s *fastDec) rollback() {
	for i := s.nundo - 1; i >= 0; i-- {
		s.cache[s.undo[i].idx] = s.undo[i].old
	}
	s.nundo = 0
}

func (s *fastDec) base(b *BaseCommand) bool {
	return s.i32(&b.CommandID) && s.bool(&b.ResponseRequired)
}

func (s *fastDec) i32(p *int32) bool {
	v, err := s.r.i32()
	*p = v
	return err == nil
}

func (s *fastDec) i8(p *int8) bool {
	v, err := s.r.u8()
	*p = int8(v)
	return err == nil
}

func (s *fastDec) bool(p *bool) bool {
	v, err := s.flag()
	*p = v
	return err == nil
}

func (s *fastDec) i64(p *int64) bool {
	v, err := s.long()
	*p = v
	return err == nil
}

func (s *fastDec) str(p *string) bool {
	v, err := s.string()
	*p = v
	return err == nil
}

// absent reads the presence flag of a field the fast path does not handle
// (an array, a nested advisory, an exception): true when it is null.
func (s *fastDec) absent() bool {
	present, err := s.flag()
	return err == nil && !present
}

// bytesField reads a byte array without copying it: the caller copies.
func (s *fastDec) bytesField() (b []byte, present, ok bool) {
	present, err := s.flag()
	if err != nil {
		return nil, false, false
	}
	if !present {
		return nil, false, true
	}
	n, err := s.r.i32()
	if err != nil || n < 0 || int(n) > s.r.left() {
		return nil, false, false
	}
	b = s.r.b[s.r.off : s.r.off+int(n)]
	s.r.off += int(n)
	return b, true, true
}

// The classes of object a cached or nested id field may hold.
const (
	idConnection = iota
	idProducer
	idConsumer
	idDestination
	idTransaction
)

// holds reports whether a field of class id may hold an object of type t
// (what assign allows), restricted to the types the fast path decodes.
func holds(id int, t byte) bool {
	switch id {
	case idConnection:
		return t == TypeConnectionID
	case idProducer:
		return t == TypeProducerID
	case idConsumer:
		return t == TypeConsumerID
	case idDestination:
		return t >= TypeQueue && t <= TypeTempTopic
	case idTransaction:
		return t == TypeLocalTransactionID
	}
	return false
}

// cached reads a cached field of class id.
func (s *fastDec) cached(id int) (DataStructure, bool) {
	if s.cache == nil {
		return s.nestedID(id)
	}
	isNew, err := s.flag()
	if err != nil {
		return nil, false
	}
	u, err := s.r.u16()
	if err != nil {
		return nil, false
	}
	idx := int(int16(u))
	if isNew {
		o, ok := s.nestedID(id)
		if !ok {
			return nil, false
		}
		if idx != -1 {
			if idx < 0 || idx >= len(s.cache) || s.nundo == len(s.undo) {
				return nil, false
			}
			s.undo[s.nundo] = undoSlot{idx, s.cache[idx]}
			s.nundo++
			s.cache[idx] = cacheSlot{v: o, set: true}
		}
		return o, true
	}
	if idx < 0 || idx >= len(s.cache) || !s.cache[idx].set {
		return nil, false
	}
	o := s.cache[idx].v
	if o != nil && !holds(id, o.DataType()) {
		return nil, false
	}
	return o, true
}

// nestedID reads an inline id, destination or local transaction id.
func (s *fastDec) nestedID(id int) (DataStructure, bool) {
	present, err := s.flag()
	if err != nil {
		return nil, false
	}
	if !present {
		return nil, true
	}
	t, err := s.r.u8()
	if err != nil || !holds(id, t) {
		return nil, false
	}
	switch t {
	case TypeConnectionID:
		o := &ConnectionID{}
		return o, s.str(&o.Value)
	case TypeProducerID:
		o := &ProducerID{}
		return o, s.str(&o.ConnectionID) && s.i64(&o.Value) && s.i64(&o.SessionID)
	case TypeConsumerID:
		o := &ConsumerID{}
		return o, s.str(&o.ConnectionID) && s.i64(&o.SessionID) && s.i64(&o.Value)
	case TypeLocalTransactionID:
		o := &LocalTransactionID{}
		if !s.i64(&o.Value) {
			return nil, false
		}
		c, ok := s.cached(idConnection)
		if c != nil {
			o.ConnectionID = c.(*ConnectionID)
		}
		return o, ok
	default: // a destination
		o := &Destination{Type: t}
		return o, s.str(&o.PhysicalName)
	}
}

func (s *fastDec) producerID(cached bool, p **ProducerID) bool {
	var o DataStructure
	var ok bool
	if cached {
		o, ok = s.cached(idProducer)
	} else {
		o, ok = s.nestedID(idProducer)
	}
	if o != nil {
		*p = o.(*ProducerID)
	}
	return ok
}

func (s *fastDec) consumerID(p **ConsumerID) bool {
	o, ok := s.cached(idConsumer)
	if o != nil {
		*p = o.(*ConsumerID)
	}
	return ok
}

func (s *fastDec) destination(cached bool, p **Destination) bool {
	var o DataStructure
	var ok bool
	if cached {
		o, ok = s.cached(idDestination)
	} else {
		o, ok = s.nestedID(idDestination)
	}
	if o != nil {
		*p = o.(*Destination)
	}
	return ok
}

func (s *fastDec) transactionID(p *TransactionID) bool {
	o, ok := s.cached(idTransaction)
	if o != nil {
		*p = o.(TransactionID)
	}
	return ok
}

// messageID reads a nested MessageID into *into (allocated by the caller
// alongside its message).
func (s *fastDec) messageID(p **MessageID, into *MessageID) bool {
	present, err := s.flag()
	if err != nil {
		return false
	}
	if !present {
		return true
	}
	if t, err := s.r.u8(); err != nil || t != TypeMessageID {
		return false
	}
	if into == nil {
		into = &MessageID{}
	}
	*p = into
	return s.str(&into.TextView) && s.producerID(true, &into.ProducerID) &&
		s.i64(&into.ProducerSequenceID) && s.i64(&into.BrokerSequenceID)
}

// msgBlock holds a message and its id in one allocation.
type msgBlock struct {
	m  Message
	id MessageID
}

// message reads a message's fields (after its type byte). blk, when not
// nil, is where to put it.
func (s *fastDec) message(t byte, blk *msgBlock) (*Message, bool) {
	if blk == nil {
		blk = &msgBlock{}
	}
	m := &blk.m
	m.Type = t
	ok := s.base(&m.BaseCommand) &&
		s.producerID(true, &m.ProducerID) &&
		s.destination(true, &m.Destination) &&
		s.transactionID(&m.TransactionID) &&
		s.destination(true, &m.OriginalDestination) &&
		s.messageID(&m.MessageID, &blk.id) &&
		s.transactionID(&m.OriginalTransactionID) &&
		s.str(&m.GroupID) &&
		s.i32(&m.GroupSequence) &&
		s.str(&m.CorrelationID) &&
		s.bool(&m.Persistent) &&
		s.i64(&m.Expiration) &&
		s.i8(&m.Priority) &&
		s.destination(false, &m.ReplyTo) &&
		s.i64(&m.Timestamp) &&
		s.str(&m.JMSType)
	if !ok {
		return nil, false
	}
	content, hasContent, ok1 := s.bytesField()
	props, hasProps, ok2 := s.bytesField()
	if !ok1 || !ok2 {
		return nil, false
	}
	if hasContent || hasProps {
		// One allocation for both: they live and die with the message.
		buf := make([]byte, len(content)+len(props))
		n := copy(buf, content)
		copy(buf[n:], props)
		if hasContent {
			m.Content = buf[:n:n]
		}
		if hasProps {
			m.MarshalledProperties = buf[n:]
		}
	}
	ok = s.absent() && // DataStructure
		s.consumerID(&m.TargetConsumerID) &&
		s.bool(&m.Compressed) &&
		s.i32(&m.RedeliveryCounter) &&
		s.absent() && // BrokerPath
		s.i64(&m.Arrival) &&
		s.str(&m.UserID) &&
		s.bool(&m.ReceivedByDFBridge) &&
		s.bool(&m.Droppable) &&
		s.absent() && // Cluster
		s.i64(&m.BrokerInTime) &&
		s.i64(&m.BrokerOutTime) &&
		s.bool(&m.JMSXGroupFirstForConsumer)
	return m, ok
}

// dispatchBlock holds a dispatch, its message and the message's id in one
// allocation.
type dispatchBlock struct {
	d   MessageDispatch
	msg msgBlock
}

func (s *fastDec) dispatch() (*MessageDispatch, bool) {
	blk := &dispatchBlock{}
	d := &blk.d
	if !s.base(&d.BaseCommand) || !s.consumerID(&d.ConsumerID) || !s.destination(true, &d.Destination) {
		return nil, false
	}
	present, err := s.flag()
	if err != nil {
		return nil, false
	}
	if present {
		t, err := s.r.u8()
		if err != nil || !isFastMessage(t) {
			return nil, false
		}
		if s.tight {
			// The marshalled-form flag (see decodeState.nested).
			if cachedForm, err := s.flag(); err != nil || cachedForm {
				return nil, false
			}
		}
		m, ok := s.message(t, &blk.msg)
		if !ok {
			return nil, false
		}
		d.Message = m
	}
	return d, s.i32(&d.RedeliveryCounter)
}

// ackBlock holds an ack and its two message ids in one allocation.
type ackBlock struct {
	a           MessageAck
	first, last MessageID
}

func (s *fastDec) ack() (*MessageAck, bool) {
	blk := &ackBlock{}
	a := &blk.a
	ok := s.base(&a.BaseCommand) &&
		s.destination(true, &a.Destination) &&
		s.transactionID(&a.TransactionID) &&
		s.consumerID(&a.ConsumerID) &&
		s.i8(&a.AckType) &&
		s.messageID(&a.FirstMessageID, &blk.first) &&
		s.messageID(&a.LastMessageID, &blk.last) &&
		s.i32(&a.MessageCount) &&
		s.absent() // PoisonCause
	return a, ok
}

func (s *fastDec) producerAck() (*ProducerAck, bool) {
	a := &ProducerAck{}
	ok := s.base(&a.BaseCommand) && s.producerID(false, &a.ProducerID) && s.i32(&a.Size)
	return a, ok
}

// ---- encoding ----

// maxFastString bounds the strings the fast encoder takes: their modified
// UTF-8 (at most 3 bytes per byte of Go string) always fits a tight string,
// so encoding cannot fail.
const maxFastString = 0x7ffe / 3

func fastString(s string) bool { return len(s) <= maxFastString }

// fastEncodable reports whether c has the common shape the fast encoder
// handles; the check has no side effects, so the table path can take
// anything else from a clean start.
func fastEncodable(c DataStructure) bool {
	switch x := c.(type) {
	case *Message:
		return fastMessageOK(x)
	case *MessageDispatch:
		return fastConsumerOK(x.ConsumerID) && fastDestOK(x.Destination) && (x.Message == nil || fastMessageOK(x.Message))
	case *MessageAck:
		return fastDestOK(x.Destination) && fastTxOK(x.TransactionID) && fastConsumerOK(x.ConsumerID) &&
			fastMsgIDOK(x.FirstMessageID) && fastMsgIDOK(x.LastMessageID) && x.PoisonCause == nil
	case *ProducerAck:
		return fastProducerOK(x.ProducerID)
	case *Response, *KeepAliveInfo:
		return true
	}
	return false
}

func fastMessageOK(m *Message) bool {
	return isFastMessage(m.Type) && fastProducerOK(m.ProducerID) && fastDestOK(m.Destination) &&
		fastTxOK(m.TransactionID) && fastDestOK(m.OriginalDestination) && fastMsgIDOK(m.MessageID) &&
		fastTxOK(m.OriginalTransactionID) && fastString(m.GroupID) && fastString(m.CorrelationID) &&
		fastDestOK(m.ReplyTo) && fastString(m.JMSType) && m.DataStructure == nil &&
		fastConsumerOK(m.TargetConsumerID) && m.BrokerPath == nil && fastString(m.UserID) && m.Cluster == nil
}

func fastProducerOK(p *ProducerID) bool { return p == nil || fastString(p.ConnectionID) }
func fastConsumerOK(p *ConsumerID) bool { return p == nil || fastString(p.ConnectionID) }
func fastDestOK(d *Destination) bool {
	return d == nil || d.Type >= TypeQueue && d.Type <= TypeTempTopic && fastString(d.PhysicalName)
}
func fastMsgIDOK(id *MessageID) bool {
	return id == nil || fastString(id.TextView) && fastProducerOK(id.ProducerID)
}

// fastTxOK: null or a local transaction id (a typed nil counts as null, as
// asDS has it).
func fastTxOK(t TransactionID) bool {
	switch x := t.(type) {
	case nil:
		return true
	case *LocalTransactionID:
		return x == nil || x.ConnectionID == nil || fastString(x.ConnectionID.Value)
	}
	return false
}

// Typed pointers to DataStructure, nil for nil.

func dsProducer(p *ProducerID) DataStructure {
	if p == nil {
		return nil
	}
	return p
}

func dsConsumer(p *ConsumerID) DataStructure {
	if p == nil {
		return nil
	}
	return p
}

func dsDest(p *Destination) DataStructure {
	if p == nil {
		return nil
	}
	return p
}

func dsTx(t TransactionID) DataStructure {
	if x, ok := t.(*LocalTransactionID); ok && x != nil {
		return x
	}
	return nil
}

// fastObject writes o's fields; o passed fastEncodable (or is an id inside
// such a command).
func (s *encodeState) fastObject(o DataStructure) error {
	switch x := o.(type) {
	case *ConnectionID:
		return s.string(x.Value)
	case *ProducerID:
		if err := s.string(x.ConnectionID); err != nil {
			return err
		}
		s.long(x.Value)
		s.long(x.SessionID)
	case *ConsumerID:
		if err := s.string(x.ConnectionID); err != nil {
			return err
		}
		s.long(x.SessionID)
		s.long(x.Value)
	case *Destination:
		return s.string(x.PhysicalName)
	case *LocalTransactionID:
		s.long(x.Value)
		var c DataStructure
		if x.ConnectionID != nil {
			c = x.ConnectionID
		}
		return s.fastCached(c)
	case *MessageID:
		if err := s.string(x.TextView); err != nil {
			return err
		}
		if err := s.fastCached(dsProducer(x.ProducerID)); err != nil {
			return err
		}
		s.long(x.ProducerSequenceID)
		s.long(x.BrokerSequenceID)
	case *Message:
		return s.fastMessage(x)
	case *MessageDispatch:
		s.fastBase(&x.BaseCommand)
		if err := s.fastCached(dsConsumer(x.ConsumerID)); err != nil {
			return err
		}
		if err := s.fastCached(dsDest(x.Destination)); err != nil {
			return err
		}
		if x.Message == nil {
			s.flag(false)
		} else if err := s.fastNested(x.Message); err != nil {
			return err
		}
		s.data = putI32(s.data, x.RedeliveryCounter)
	case *MessageAck:
		s.fastBase(&x.BaseCommand)
		for _, c := range [...]DataStructure{dsDest(x.Destination), dsTx(x.TransactionID), dsConsumer(x.ConsumerID)} {
			if err := s.fastCached(c); err != nil {
				return err
			}
		}
		s.data = append(s.data, byte(x.AckType))
		if err := s.fastMessageID(x.FirstMessageID); err != nil {
			return err
		}
		if err := s.fastMessageID(x.LastMessageID); err != nil {
			return err
		}
		s.data = putI32(s.data, x.MessageCount)
		s.flag(false) // PoisonCause
	case *ProducerAck:
		s.fastBase(&x.BaseCommand)
		if err := s.fastNested(dsProducer(x.ProducerID)); err != nil {
			return err
		}
		s.data = putI32(s.data, x.Size)
	case *Response:
		s.fastBase(&x.BaseCommand)
		s.data = putI32(s.data, x.CorrelationID)
	case *KeepAliveInfo:
		s.fastBase(&x.BaseCommand)
	default:
		return errf(ErrEncode, "%s has no fast marshaller", TypeName(o.DataType()))
	}
	return nil
}

func (s *encodeState) fastBase(b *BaseCommand) {
	s.data = putI32(s.data, b.CommandID)
	s.flag(b.ResponseRequired)
}

func (s *encodeState) fastMessageID(id *MessageID) error {
	if id == nil {
		s.flag(false)
		return nil
	}
	return s.fastNested(id)
}

func (s *encodeState) fastMessage(m *Message) error {
	s.fastBase(&m.BaseCommand)
	for _, c := range [...]DataStructure{dsProducer(m.ProducerID), dsDest(m.Destination), dsTx(m.TransactionID),
		dsDest(m.OriginalDestination)} {
		if err := s.fastCached(c); err != nil {
			return err
		}
	}
	if err := s.fastMessageID(m.MessageID); err != nil {
		return err
	}
	if err := s.fastCached(dsTx(m.OriginalTransactionID)); err != nil {
		return err
	}
	if err := s.string(m.GroupID); err != nil {
		return err
	}
	s.data = putI32(s.data, m.GroupSequence)
	if err := s.string(m.CorrelationID); err != nil {
		return err
	}
	s.flag(m.Persistent)
	s.long(m.Expiration)
	s.data = append(s.data, byte(m.Priority))
	if err := s.fastNested(dsDest(m.ReplyTo)); err != nil {
		return err
	}
	s.long(m.Timestamp)
	if err := s.string(m.JMSType); err != nil {
		return err
	}
	s.bytes(m.Content)
	s.bytes(m.MarshalledProperties)
	s.flag(false) // DataStructure
	if err := s.fastCached(dsConsumer(m.TargetConsumerID)); err != nil {
		return err
	}
	s.flag(m.Compressed)
	s.data = putI32(s.data, m.RedeliveryCounter)
	s.flag(false) // BrokerPath
	s.long(m.Arrival)
	if err := s.string(m.UserID); err != nil {
		return err
	}
	s.flag(m.ReceivedByDFBridge)
	s.flag(m.Droppable)
	s.flag(false) // Cluster
	s.long(m.BrokerInTime)
	s.long(m.BrokerOutTime)
	s.flag(m.JMSXGroupFirstForConsumer)
	return nil
}

func (s *encodeState) bytes(b []byte) {
	s.flag(b != nil)
	if b != nil {
		s.data = putI32(s.data, int32(len(b)))
		s.data = append(s.data, b...)
	}
}

// fastNested is encodeState.nested for the types fastObject writes.
func (s *encodeState) fastNested(o DataStructure) error {
	s.flag(o != nil)
	if o == nil {
		return nil
	}
	t := o.DataType()
	s.data = append(s.data, t)
	if s.tight && plans[t].marshalAware {
		s.flag(false)
	}
	return s.fastObject(o)
}

// fastCached is encodeState.cached with the cache key written by
// fastObject.
func (s *encodeState) fastCached(o DataStructure) error {
	e := s.e
	if e.index == nil {
		return s.fastNested(o)
	}
	kb, err := e.cacheKey(o, (*encodeState).fastObject)
	if err != nil {
		return err
	}
	if e.cacheSlot(s, kb) {
		return nil
	}
	return s.fastNested(o)
}
