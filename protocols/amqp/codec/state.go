package codec

// DeliveryState is the state of a delivery: the outcomes *Accepted,
// *Rejected, *Released, *Modified, *Declared, and the non-terminal
// *Received and *TransactionalState.
type DeliveryState interface {
	Descriptor() uint64
	AppendTo(dst []byte) []byte
}

// Outcome symbols for Source.Outcomes.
const (
	OutcomeAccepted Symbol = "amqp:accepted:list"
	OutcomeRejected Symbol = "amqp:rejected:list"
	OutcomeReleased Symbol = "amqp:released:list"
	OutcomeModified Symbol = "amqp:modified:list"
)

// Received (0x23).
type Received struct {
	SectionNumber uint32 // mandatory
	SectionOffset uint64 // mandatory
}

// Accepted (0x24).
type Accepted struct{}

// Rejected (0x25).
type Rejected struct {
	Error *Error
}

// Released (0x26).
type Released struct{}

// Modified (0x27).
type Modified struct {
	DeliveryFailed     bool
	UndeliverableHere  bool
	MessageAnnotations Map
}

// Declared (0x33): the outcome of a declare, with the new transaction id.
type Declared struct {
	TxnID []byte // mandatory
}

// TransactionalState (0x34): a delivery's state inside a transaction.
type TransactionalState struct {
	TxnID   []byte        // mandatory
	Outcome DeliveryState // nil, or an outcome
}

func (*Received) Descriptor() uint64           { return DescReceived }
func (*Accepted) Descriptor() uint64           { return DescAccepted }
func (*Rejected) Descriptor() uint64           { return DescRejected }
func (*Released) Descriptor() uint64           { return DescReleased }
func (*Modified) Descriptor() uint64           { return DescModified }
func (*Declared) Descriptor() uint64           { return DescDeclared }
func (*TransactionalState) Descriptor() uint64 { return DescTransactionalState }

func (r *Received) AppendTo(dst []byte) []byte {
	dst = AppendDescriptor(dst, DescReceived)
	dst, l := BeginList(dst)
	dst = AppendUint(dst, r.SectionNumber)
	l.Field(dst)
	dst = AppendUlong(dst, r.SectionOffset)
	l.Field(dst)
	return l.End(dst)
}

func (*Accepted) AppendTo(dst []byte) []byte {
	return append(AppendDescriptor(dst, DescAccepted), codeList0)
}

func (r *Rejected) AppendTo(dst []byte) []byte { return appendErrorOnly(dst, DescRejected, r.Error) }

func (*Released) AppendTo(dst []byte) []byte {
	return append(AppendDescriptor(dst, DescReleased), codeList0)
}

func (m *Modified) AppendTo(dst []byte) []byte {
	dst = AppendDescriptor(dst, DescModified)
	dst, l := BeginList(dst)
	dst = appendOptBool(dst, m.DeliveryFailed)
	l.Field(dst)
	dst = appendOptBool(dst, m.UndeliverableHere)
	l.Field(dst)
	dst = AppendMap(dst, m.MessageAnnotations)
	l.Field(dst)
	return l.End(dst)
}

func (de *Declared) AppendTo(dst []byte) []byte {
	dst = AppendDescriptor(dst, DescDeclared)
	dst, l := BeginList(dst)
	dst = AppendBinary(dst, nonNil(de.TxnID))
	l.Field(dst)
	return l.End(dst)
}

func (t *TransactionalState) AppendTo(dst []byte) []byte {
	dst = AppendDescriptor(dst, DescTransactionalState)
	dst, l := BeginList(dst)
	dst = AppendBinary(dst, nonNil(t.TxnID))
	l.Field(dst)
	dst = appendState(dst, t.Outcome)
	l.Field(dst)
	return l.End(dst)
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func appendState(dst []byte, s DeliveryState) []byte {
	if s == nil {
		return AppendNull(dst)
	}
	return s.AppendTo(dst)
}

// decodeStateField reads a delivery-state field (nil when null).
func decodeStateField(f *FieldReader) DeliveryState {
	code, desc, d, ok := f.Described()
	if !ok {
		return nil
	}
	s, err := decodeState(code, desc, &d)
	if err != nil {
		f.fail(err)
		return nil
	}
	return s
}

// DecodeDeliveryState decodes one delivery state (a described list).
func DecodeDeliveryState(b []byte) (DeliveryState, error) {
	d := NewDecoder(b)
	code, desc, err := d.ReadDescriptor()
	if err != nil {
		return nil, err
	}
	s, e := decodeState(code, desc, &d)
	if e != nil {
		return nil, e
	}
	return s, nil
}

func decodeState(code uint64, desc any, d *Decoder) (DeliveryState, *Error) {
	f, err := d.ReadList()
	if err != nil {
		return nil, err.(*Error)
	}
	var s DeliveryState
	switch code {
	case DescReceived:
		r := &Received{}
		f.Require("section-number")
		r.SectionNumber = f.Uint(0)
		f.Require("section-offset")
		r.SectionOffset = f.Ulong(0)
		s = r
	case DescAccepted:
		s = &Accepted{}
	case DescRejected:
		s = &Rejected{Error: decodeErrorField(&f)}
	case DescReleased:
		s = &Released{}
	case DescModified:
		s = &Modified{DeliveryFailed: f.Bool(false), UndeliverableHere: f.Bool(false), MessageAnnotations: f.Map()}
	case DescDeclared:
		s = &Declared{TxnID: requireBinary(&f, "txn-id")}
	case DescTransactionalState:
		t := &TransactionalState{TxnID: requireBinary(&f, "txn-id")}
		if c, dsc, sub, ok := f.Described(); ok {
			o, err := decodeState(c, dsc, &sub)
			if err != nil {
				return nil, err
			}
			if _, nested := o.(*TransactionalState); nested {
				return nil, decodeErr("transactional-state inside a transactional-state")
			}
			t.Outcome = o
		}
		s = t
	default:
		// Well-formed but unknown: the receiver refuses it, it cannot
		// misread it.
		return nil, Errorf(CondInvalidField, "unknown delivery state with descriptor %v", desc)
	}
	if f.Err() != nil {
		return nil, f.Err().(*Error)
	}
	return s, nil
}

// Declare (0x31): the message body (amqp-value) a controller sends to the
// coordinator to start a transaction.
type Declare struct {
	GlobalID any // distributed transactions only; nil for local ones
}

// Discharge (0x32): ends a transaction, committing unless Fail.
type Discharge struct {
	TxnID []byte // mandatory
	Fail  bool
}

func (*Declare) Descriptor() uint64   { return DescDeclare }
func (*Discharge) Descriptor() uint64 { return DescDischarge }

func (de *Declare) AppendTo(dst []byte) []byte {
	dst = AppendDescriptor(dst, DescDeclare)
	dst, l := BeginList(dst)
	dst = AppendValue(dst, de.GlobalID)
	l.Field(dst)
	return l.End(dst)
}

func (di *Discharge) AppendTo(dst []byte) []byte {
	dst = AppendDescriptor(dst, DescDischarge)
	dst, l := BeginList(dst)
	dst = AppendBinary(dst, nonNil(di.TxnID))
	l.Field(dst)
	dst = appendOptBool(dst, di.Fail)
	l.Field(dst)
	return l.End(dst)
}

// DecodeTxnRequest decodes the amqp-value of a message sent to a
// coordinator: a *Declare or a *Discharge (b is the encoded value, the
// described list, e.g. message.Body of an amqp-value section).
func DecodeTxnRequest(b []byte) (any, error) {
	code, desc, f, err := describedList(b)
	if err != nil {
		return nil, err
	}
	var v any
	switch code {
	case DescDeclare:
		v = &Declare{GlobalID: f.Value()}
	case DescDischarge:
		v = &Discharge{TxnID: requireBinary(&f, "txn-id"), Fail: f.Bool(false)}
	default:
		return nil, decodeErr("coordinator message with descriptor %v", desc)
	}
	if f.Err() != nil {
		return nil, f.Err()
	}
	return v, nil
}

// describedList reads the descriptor of a described list and a reader
// over its fields.
func describedList(b []byte) (code uint64, desc any, f FieldReader, err error) {
	d := NewDecoder(b)
	if code, desc, err = d.ReadDescriptor(); err != nil {
		return 0, nil, f, err
	}
	f, err = d.ReadList()
	return code, desc, f, err
}
