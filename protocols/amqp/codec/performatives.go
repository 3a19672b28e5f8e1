package codec

// Roles of a link end (attach, disposition).
const (
	RoleSender   = false
	RoleReceiver = true
)

// Sender settle modes.
const (
	SndUnsettled uint8 = 0
	SndSettled   uint8 = 1
	SndMixed     uint8 = 2
)

// Receiver settle modes.
const (
	RcvFirst  uint8 = 0
	RcvSecond uint8 = 1
)

// Decoded performatives hold the spec's defaults for null fields (noted
// per field). Encoding writes a field holding its default as null when
// that default is the Go zero value or noted so, and elides trailing
// nulls. []byte fields alias the decoded frame body: copy what outlives it.

// Open (0x10).
type Open struct {
	ContainerID         string // mandatory
	Hostname            string
	MaxFrameSize        uint32 // default 4294967295; 0 is written as null (the default)
	ChannelMax          uint16 // default 65535
	IdleTimeOut         uint32 // milliseconds; 0 = none
	OutgoingLocales     []Symbol
	IncomingLocales     []Symbol
	OfferedCapabilities []Symbol
	DesiredCapabilities []Symbol
	Properties          Map
}

func (*Open) Descriptor() uint64 { return DescOpen }

func (o *Open) AppendTo(dst []byte) []byte {
	dst = AppendDescriptor(dst, DescOpen)
	dst, l := BeginList(dst)
	dst = AppendString(dst, o.ContainerID)
	l.Field(dst)
	dst = appendOptString(dst, o.Hostname)
	l.Field(dst)
	if o.MaxFrameSize == 0 || o.MaxFrameSize == 0xffffffff {
		dst = AppendNull(dst)
	} else {
		dst = AppendUint(dst, o.MaxFrameSize)
	}
	l.Field(dst)
	if o.ChannelMax == 0xffff {
		dst = AppendNull(dst)
	} else {
		dst = AppendUshort(dst, o.ChannelMax)
	}
	l.Field(dst)
	dst = appendOptUint(dst, o.IdleTimeOut)
	l.Field(dst)
	dst = AppendSymbols(dst, o.OutgoingLocales)
	l.Field(dst)
	dst = AppendSymbols(dst, o.IncomingLocales)
	l.Field(dst)
	dst = AppendSymbols(dst, o.OfferedCapabilities)
	l.Field(dst)
	dst = AppendSymbols(dst, o.DesiredCapabilities)
	l.Field(dst)
	dst = AppendMap(dst, o.Properties)
	l.Field(dst)
	return l.End(dst)
}

func decodeOpen(f *FieldReader) *Open {
	o := &Open{}
	f.Require("container-id")
	o.ContainerID = f.Str()
	o.Hostname = f.Str()
	o.MaxFrameSize = f.Uint(0xffffffff)
	o.ChannelMax = f.Ushort(0xffff)
	o.IdleTimeOut = f.Uint(0)
	o.OutgoingLocales = f.Symbols()
	o.IncomingLocales = f.Symbols()
	o.OfferedCapabilities = f.Symbols()
	o.DesiredCapabilities = f.Symbols()
	o.Properties = f.Map()
	return o
}

// Begin (0x11).
type Begin struct {
	RemoteChannel       uint16 // valid when HasRemoteChannel
	HasRemoteChannel    bool   // null when the session is begun by this end
	NextOutgoingID      uint32 // mandatory
	IncomingWindow      uint32 // mandatory
	OutgoingWindow      uint32 // mandatory
	HandleMax           uint32 // default 4294967295; 0 is written as null
	OfferedCapabilities []Symbol
	DesiredCapabilities []Symbol
	Properties          Map
}

func (*Begin) Descriptor() uint64 { return DescBegin }

func (b *Begin) AppendTo(dst []byte) []byte {
	dst = AppendDescriptor(dst, DescBegin)
	dst, l := BeginList(dst)
	if b.HasRemoteChannel {
		dst = AppendUshort(dst, b.RemoteChannel)
	} else {
		dst = AppendNull(dst)
	}
	l.Field(dst)
	dst = AppendUint(dst, b.NextOutgoingID)
	l.Field(dst)
	dst = AppendUint(dst, b.IncomingWindow)
	l.Field(dst)
	dst = AppendUint(dst, b.OutgoingWindow)
	l.Field(dst)
	if b.HandleMax == 0 || b.HandleMax == 0xffffffff {
		dst = AppendNull(dst)
	} else {
		dst = AppendUint(dst, b.HandleMax)
	}
	l.Field(dst)
	dst = AppendSymbols(dst, b.OfferedCapabilities)
	l.Field(dst)
	dst = AppendSymbols(dst, b.DesiredCapabilities)
	l.Field(dst)
	dst = AppendMap(dst, b.Properties)
	l.Field(dst)
	return l.End(dst)
}

func decodeBegin(f *FieldReader) *Begin {
	b := &Begin{}
	if !f.IsNull() {
		b.RemoteChannel, b.HasRemoteChannel = f.Ushort(0), true
	} else {
		f.Skip()
	}
	f.Require("next-outgoing-id")
	b.NextOutgoingID = f.Uint(0)
	f.Require("incoming-window")
	b.IncomingWindow = f.Uint(0)
	f.Require("outgoing-window")
	b.OutgoingWindow = f.Uint(0)
	b.HandleMax = f.Uint(0xffffffff)
	b.OfferedCapabilities = f.Symbols()
	b.DesiredCapabilities = f.Symbols()
	b.Properties = f.Map()
	return b
}

// Attach (0x12). Exactly one of Target and Coordinator is set when the
// attach has a target: a transaction controller's link targets a
// coordinator.
type Attach struct {
	Name                    string // mandatory
	Handle                  uint32 // mandatory
	Role                    bool   // mandatory: RoleSender or RoleReceiver
	SndSettleMode           uint8  // default SndMixed (written as null when SndMixed)
	RcvSettleMode           uint8  // default RcvFirst
	Source                  *Source
	Target                  *Target
	Coordinator             *Coordinator
	Unsettled               Map // delivery-tag (binary) → delivery-state
	IncompleteUnsettled     bool
	InitialDeliveryCount    uint32 // valid when HasInitialDeliveryCount (a sender's attach)
	HasInitialDeliveryCount bool
	MaxMessageSize          uint64 // 0 = no limit
	OfferedCapabilities     []Symbol
	DesiredCapabilities     []Symbol
	Properties              Map
}

func (*Attach) Descriptor() uint64 { return DescAttach }

func (a *Attach) AppendTo(dst []byte) []byte {
	dst = AppendDescriptor(dst, DescAttach)
	dst, l := BeginList(dst)
	dst = AppendString(dst, a.Name)
	l.Field(dst)
	dst = AppendUint(dst, a.Handle)
	l.Field(dst)
	dst = AppendBool(dst, a.Role)
	l.Field(dst)
	if a.SndSettleMode == SndMixed {
		dst = AppendNull(dst)
	} else {
		dst = AppendUbyte(dst, a.SndSettleMode)
	}
	l.Field(dst)
	if a.RcvSettleMode == RcvFirst {
		dst = AppendNull(dst)
	} else {
		dst = AppendUbyte(dst, a.RcvSettleMode)
	}
	l.Field(dst)
	if a.Source != nil {
		dst = a.Source.AppendTo(dst)
	} else {
		dst = AppendNull(dst)
	}
	l.Field(dst)
	switch {
	case a.Coordinator != nil:
		dst = a.Coordinator.AppendTo(dst)
	case a.Target != nil:
		dst = a.Target.AppendTo(dst)
	default:
		dst = AppendNull(dst)
	}
	l.Field(dst)
	dst = AppendMap(dst, a.Unsettled)
	l.Field(dst)
	dst = appendOptBool(dst, a.IncompleteUnsettled)
	l.Field(dst)
	if a.HasInitialDeliveryCount {
		dst = AppendUint(dst, a.InitialDeliveryCount)
	} else {
		dst = AppendNull(dst)
	}
	l.Field(dst)
	if a.MaxMessageSize == 0 {
		dst = AppendNull(dst)
	} else {
		dst = AppendUlong(dst, a.MaxMessageSize)
	}
	l.Field(dst)
	dst = AppendSymbols(dst, a.OfferedCapabilities)
	l.Field(dst)
	dst = AppendSymbols(dst, a.DesiredCapabilities)
	l.Field(dst)
	dst = AppendMap(dst, a.Properties)
	l.Field(dst)
	return l.End(dst)
}

func decodeAttach(f *FieldReader) *Attach {
	a := &Attach{}
	f.Require("name")
	a.Name = f.Str()
	f.Require("handle")
	a.Handle = f.Uint(0)
	f.Require("role")
	a.Role = f.Bool(false)
	a.SndSettleMode = f.Ubyte(SndMixed)
	a.RcvSettleMode = f.Ubyte(RcvFirst)
	if code, _, d, ok := f.Described(); ok {
		if code != DescSource {
			f.fail(decodeErr("attach source with descriptor 0x%x", code))
		} else {
			a.Source = decodeSource(&d, f)
		}
	}
	if code, _, d, ok := f.Described(); ok {
		switch code {
		case DescTarget:
			a.Target = decodeTarget(&d, f)
		case DescCoordinator:
			a.Coordinator = decodeCoordinator(&d, f)
		default:
			f.fail(decodeErr("attach target with descriptor 0x%x", code))
		}
	}
	a.Unsettled = f.Map()
	a.IncompleteUnsettled = f.Bool(false)
	a.InitialDeliveryCount, a.HasInitialDeliveryCount = f.OptUint()
	a.MaxMessageSize = f.Ulong(0)
	a.OfferedCapabilities = f.Symbols()
	a.DesiredCapabilities = f.Symbols()
	a.Properties = f.Map()
	return a
}

// Flow (0x13). The link fields (Handle to Available, Drain) are valid when
// HasHandle; a flow without a handle is about the session only.
type Flow struct {
	NextIncomingID    uint32 // valid when HasNextIncomingID
	HasNextIncomingID bool
	IncomingWindow    uint32 // mandatory
	NextOutgoingID    uint32 // mandatory
	OutgoingWindow    uint32 // mandatory
	Handle            uint32
	HasHandle         bool
	DeliveryCount     uint32
	HasDeliveryCount  bool
	LinkCredit        uint32
	HasLinkCredit     bool
	Available         uint32
	HasAvailable      bool
	Drain             bool
	Echo              bool
	Properties        Map
}

func (*Flow) Descriptor() uint64 { return DescFlow }

func (fl *Flow) AppendTo(dst []byte) []byte {
	dst = AppendDescriptor(dst, DescFlow)
	dst, l := BeginList(dst)
	dst = appendUintIf(dst, fl.NextIncomingID, fl.HasNextIncomingID)
	l.Field(dst)
	dst = AppendUint(dst, fl.IncomingWindow)
	l.Field(dst)
	dst = AppendUint(dst, fl.NextOutgoingID)
	l.Field(dst)
	dst = AppendUint(dst, fl.OutgoingWindow)
	l.Field(dst)
	dst = appendUintIf(dst, fl.Handle, fl.HasHandle)
	l.Field(dst)
	dst = appendUintIf(dst, fl.DeliveryCount, fl.HasDeliveryCount)
	l.Field(dst)
	dst = appendUintIf(dst, fl.LinkCredit, fl.HasLinkCredit)
	l.Field(dst)
	dst = appendUintIf(dst, fl.Available, fl.HasAvailable)
	l.Field(dst)
	dst = appendOptBool(dst, fl.Drain)
	l.Field(dst)
	dst = appendOptBool(dst, fl.Echo)
	l.Field(dst)
	dst = AppendMap(dst, fl.Properties)
	l.Field(dst)
	return l.End(dst)
}

func decodeFlow(f *FieldReader) *Flow {
	return decodeFlowInto(f, &Flow{})
}

func decodeFlowInto(f *FieldReader, fl *Flow) *Flow {
	*fl = Flow{}
	fl.NextIncomingID, fl.HasNextIncomingID = f.OptUint()
	f.Require("incoming-window")
	fl.IncomingWindow = f.Uint(0)
	f.Require("next-outgoing-id")
	fl.NextOutgoingID = f.Uint(0)
	f.Require("outgoing-window")
	fl.OutgoingWindow = f.Uint(0)
	fl.Handle, fl.HasHandle = f.OptUint()
	fl.DeliveryCount, fl.HasDeliveryCount = f.OptUint()
	fl.LinkCredit, fl.HasLinkCredit = f.OptUint()
	fl.Available, fl.HasAvailable = f.OptUint()
	fl.Drain = f.Bool(false)
	fl.Echo = f.Bool(false)
	fl.Properties = f.Map()
	return fl
}

// Transfer (0x14). The message bytes follow the performative in the frame
// body (DecodePerformative's payload, AppendFrame's payload).
type Transfer struct {
	Handle           uint32 // mandatory
	DeliveryID       uint32 // valid when HasDeliveryID (first transfer of a delivery)
	HasDeliveryID    bool
	DeliveryTag      []byte // first transfer of a delivery; aliases the frame
	MessageFormat    uint32 // valid when HasMessageFormat; 0 is AMQP's format
	HasMessageFormat bool
	Settled          bool // null reads false
	HasSettled       bool // the field was present (on a continuation, null means unchanged)
	More             bool
	RcvSettleMode    uint8 // valid when HasRcvSettleMode
	HasRcvSettleMode bool
	State            DeliveryState
	Resume           bool
	Aborted          bool
	Batchable        bool
}

func (*Transfer) Descriptor() uint64 { return DescTransfer }

func (t *Transfer) AppendTo(dst []byte) []byte {
	dst = AppendDescriptor(dst, DescTransfer)
	dst, l := BeginList(dst)
	dst = AppendUint(dst, t.Handle)
	l.Field(dst)
	dst = appendUintIf(dst, t.DeliveryID, t.HasDeliveryID)
	l.Field(dst)
	dst = AppendBinary(dst, t.DeliveryTag)
	l.Field(dst)
	dst = appendUintIf(dst, t.MessageFormat, t.HasMessageFormat)
	l.Field(dst)
	dst = appendOptBool(dst, t.Settled)
	l.Field(dst)
	dst = appendOptBool(dst, t.More)
	l.Field(dst)
	if t.HasRcvSettleMode {
		dst = AppendUbyte(dst, t.RcvSettleMode)
	} else {
		dst = AppendNull(dst)
	}
	l.Field(dst)
	dst = appendState(dst, t.State)
	l.Field(dst)
	dst = appendOptBool(dst, t.Resume)
	l.Field(dst)
	dst = appendOptBool(dst, t.Aborted)
	l.Field(dst)
	dst = appendOptBool(dst, t.Batchable)
	l.Field(dst)
	return l.End(dst)
}

func decodeTransfer(f *FieldReader) *Transfer {
	return decodeTransferInto(f, &Transfer{})
}

func decodeTransferInto(f *FieldReader, t *Transfer) *Transfer {
	*t = Transfer{}
	f.Require("handle")
	t.Handle = f.Uint(0)
	t.DeliveryID, t.HasDeliveryID = f.OptUint()
	t.DeliveryTag = f.Binary()
	t.MessageFormat, t.HasMessageFormat = f.OptUint()
	t.HasSettled = !f.IsNull()
	t.Settled = f.Bool(false)
	t.More = f.Bool(false)
	if !f.IsNull() {
		t.RcvSettleMode, t.HasRcvSettleMode = f.Ubyte(0), true
	} else {
		f.Skip()
	}
	t.State = decodeStateField(f)
	t.Resume = f.Bool(false)
	t.Aborted = f.Bool(false)
	t.Batchable = f.Bool(false)
	return t
}

// Disposition (0x15). A null last reads as First; Last == First is
// written as null.
type Disposition struct {
	Role      bool   // mandatory
	First     uint32 // mandatory
	Last      uint32
	Settled   bool
	State     DeliveryState
	Batchable bool
}

func (*Disposition) Descriptor() uint64 { return DescDisposition }

func (di *Disposition) AppendTo(dst []byte) []byte {
	dst = AppendDescriptor(dst, DescDisposition)
	dst, l := BeginList(dst)
	dst = AppendBool(dst, di.Role)
	l.Field(dst)
	dst = AppendUint(dst, di.First)
	l.Field(dst)
	dst = appendUintIf(dst, di.Last, di.Last != di.First)
	l.Field(dst)
	dst = appendOptBool(dst, di.Settled)
	l.Field(dst)
	dst = appendState(dst, di.State)
	l.Field(dst)
	dst = appendOptBool(dst, di.Batchable)
	l.Field(dst)
	return l.End(dst)
}

func decodeDisposition(f *FieldReader) *Disposition {
	return decodeDispositionInto(f, &Disposition{})
}

func decodeDispositionInto(f *FieldReader, di *Disposition) *Disposition {
	*di = Disposition{}
	f.Require("role")
	di.Role = f.Bool(false)
	f.Require("first")
	di.First = f.Uint(0)
	di.Last = f.Uint(di.First)
	di.Settled = f.Bool(false)
	di.State = decodeStateField(f)
	di.Batchable = f.Bool(false)
	if f.Err() == nil && di.Last < di.First {
		// Delivery ids are serial numbers: a range may wrap.
		if di.First-di.Last < 1<<31 {
			f.fail(Errorf(CondInvalidField, "disposition last %d before first %d", di.Last, di.First))
		}
	}
	return di
}

// Detach (0x16).
type Detach struct {
	Handle uint32 // mandatory
	Closed bool
	Error  *Error
}

func (*Detach) Descriptor() uint64 { return DescDetach }

func (de *Detach) AppendTo(dst []byte) []byte {
	dst = AppendDescriptor(dst, DescDetach)
	dst, l := BeginList(dst)
	dst = AppendUint(dst, de.Handle)
	l.Field(dst)
	dst = appendOptBool(dst, de.Closed)
	l.Field(dst)
	dst = appendError(dst, de.Error)
	l.Field(dst)
	return l.End(dst)
}

func decodeDetach(f *FieldReader) *Detach {
	de := &Detach{}
	f.Require("handle")
	de.Handle = f.Uint(0)
	de.Closed = f.Bool(false)
	de.Error = decodeErrorField(f)
	return de
}

// End (0x17).
type End struct {
	Error *Error
}

func (*End) Descriptor() uint64 { return DescEnd }

func (e *End) AppendTo(dst []byte) []byte { return appendErrorOnly(dst, DescEnd, e.Error) }

// Close (0x18).
type Close struct {
	Error *Error
}

func (*Close) Descriptor() uint64 { return DescClose }

func (c *Close) AppendTo(dst []byte) []byte { return appendErrorOnly(dst, DescClose, c.Error) }

func appendErrorOnly(dst []byte, code uint64, e *Error) []byte {
	dst = AppendDescriptor(dst, code)
	dst, l := BeginList(dst)
	dst = appendError(dst, e)
	l.Field(dst)
	return l.End(dst)
}

// AppendTo appends the error as a described list (0x1d).
func (e *Error) AppendTo(dst []byte) []byte {
	dst = AppendDescriptor(dst, DescError)
	dst, l := BeginList(dst)
	dst = AppendSymbol(dst, e.Condition)
	l.Field(dst)
	dst = appendOptString(dst, e.Description)
	l.Field(dst)
	dst = AppendMap(dst, e.Info)
	l.Field(dst)
	return l.End(dst)
}

func appendError(dst []byte, e *Error) []byte {
	if e == nil {
		return AppendNull(dst)
	}
	return e.AppendTo(dst)
}

// decodeErrorField reads an error field (nil when null).
func decodeErrorField(f *FieldReader) *Error {
	code, _, d, ok := f.Described()
	if !ok {
		return nil
	}
	if code != DescError {
		f.fail(decodeErr("error with descriptor 0x%x", code))
		return nil
	}
	return decodeError(&d, f)
}

func decodeError(d *Decoder, parent *FieldReader) *Error {
	ef, err := d.ReadList()
	if err != nil {
		parent.fail(err.(*Error))
		return nil
	}
	e := &Error{}
	ef.Require("condition")
	e.Condition = ef.Symbol()
	e.Description = ef.Str()
	e.Info = ef.Map()
	if ef.Err() != nil {
		parent.fail(ef.Err().(*Error))
		return nil
	}
	return e
}

func appendOptString(dst []byte, s string) []byte {
	if s == "" {
		return AppendNull(dst)
	}
	return AppendString(dst, s)
}

func appendOptSymbol(dst []byte, s Symbol) []byte {
	if s == "" {
		return AppendNull(dst)
	}
	return AppendSymbol(dst, s)
}

func appendOptUint(dst []byte, u uint32) []byte {
	if u == 0 {
		return AppendNull(dst)
	}
	return AppendUint(dst, u)
}

func appendUintIf(dst []byte, u uint32, ok bool) []byte {
	if !ok {
		return AppendNull(dst)
	}
	return AppendUint(dst, u)
}

func appendOptBool(dst []byte, b bool) []byte {
	if !b {
		return AppendNull(dst)
	}
	return AppendBool(dst, true)
}

func requireBinary(f *FieldReader, name string) []byte {
	f.Require(name)
	return f.Binary()
}
