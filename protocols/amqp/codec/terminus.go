package codec

// Terminus durability.
const (
	DurableNone           uint32 = 0
	DurableConfiguration  uint32 = 1
	DurableUnsettledState uint32 = 2
)

// Terminus expiry policies.
const (
	ExpiryLinkDetach      Symbol = "link-detach"
	ExpirySessionEnd      Symbol = "session-end" // the default
	ExpiryConnectionClose Symbol = "connection-close"
	ExpiryNever           Symbol = "never"
)

// Distribution modes of a source.
const (
	DistributionMove Symbol = "move"
	DistributionCopy Symbol = "copy"
)

// Filter names and descriptors of the filters JMS clients send.
const (
	SelectorFilterName Symbol = "apache.org:selector-filter:string"
	NoLocalFilterName  Symbol = "apache.org:no-local-filter:list"
)

// Source (0x28). ExpiryPolicy reads ExpirySessionEnd when null, and is
// written as null when it is ExpirySessionEnd or "".
type Source struct {
	Address               string
	Durable               uint32
	ExpiryPolicy          Symbol
	Timeout               uint32
	Dynamic               bool
	DynamicNodeProperties Map
	DistributionMode      Symbol
	Filter                Map // filter-set: symbol keys, described values (see Selector, NoLocal)
	DefaultOutcome        DeliveryState
	Outcomes              []Symbol
	Capabilities          []Symbol
}

func (*Source) Descriptor() uint64 { return DescSource }

func (s *Source) AppendTo(dst []byte) []byte {
	dst = AppendDescriptor(dst, DescSource)
	dst, l := BeginList(dst)
	dst = appendOptString(dst, s.Address)
	l.Field(dst)
	dst = appendOptUint(dst, s.Durable)
	l.Field(dst)
	dst = appendExpiry(dst, s.ExpiryPolicy)
	l.Field(dst)
	dst = appendOptUint(dst, s.Timeout)
	l.Field(dst)
	dst = appendOptBool(dst, s.Dynamic)
	l.Field(dst)
	dst = AppendMap(dst, s.DynamicNodeProperties)
	l.Field(dst)
	dst = appendOptSymbol(dst, s.DistributionMode)
	l.Field(dst)
	dst = AppendMap(dst, s.Filter)
	l.Field(dst)
	dst = appendState(dst, s.DefaultOutcome)
	l.Field(dst)
	dst = AppendSymbols(dst, s.Outcomes)
	l.Field(dst)
	dst = AppendSymbols(dst, s.Capabilities)
	l.Field(dst)
	return l.End(dst)
}

func appendExpiry(dst []byte, p Symbol) []byte {
	if p == ExpirySessionEnd {
		return AppendNull(dst)
	}
	return appendOptSymbol(dst, p)
}

func decodeSource(d *Decoder, parent *FieldReader) *Source {
	f, err := d.ReadList()
	if err != nil {
		parent.fail(err.(*Error))
		return nil
	}
	s := &Source{}
	s.Address = f.Str()
	s.Durable = f.Uint(DurableNone)
	s.ExpiryPolicy = f.Symbol()
	if s.ExpiryPolicy == "" {
		s.ExpiryPolicy = ExpirySessionEnd
	}
	s.Timeout = f.Uint(0)
	s.Dynamic = f.Bool(false)
	s.DynamicNodeProperties = f.Map()
	s.DistributionMode = f.Symbol()
	s.Filter = f.Map()
	s.DefaultOutcome = decodeStateField(&f)
	s.Outcomes = f.Symbols()
	s.Capabilities = f.Symbols()
	if f.Err() != nil {
		parent.fail(prefixErr("source", f.Err()))
		return nil
	}
	return s
}

// Selector returns the JMS selector of the source's filter-set: the
// filter described by apache.org:selector-filter:string (by name or
// code), whatever its key.
func (s *Source) Selector() (string, bool) {
	for _, e := range s.Filter {
		d, ok := e.Value.(Described)
		if !ok {
			continue
		}
		if code, ok := DescriptorCode(d.Descriptor); ok && code == DescSelectorFilter {
			sel, ok := d.Value.(string)
			return sel, ok
		}
	}
	return "", false
}

// NoLocal reports whether the source's filter-set holds the no-local filter.
func (s *Source) NoLocal() bool {
	for _, e := range s.Filter {
		if d, ok := e.Value.(Described); ok {
			if code, ok := DescriptorCode(d.Descriptor); ok && code == DescNoLocalFilter {
				return true
			}
		}
	}
	return false
}

// SelectorFilter returns the filter-set entry of a JMS selector, keyed as
// Qpid JMS keys it.
func SelectorFilter(selector string) MapEntry {
	return MapEntry{Key: Symbol("jms-selector"), Value: Described{Descriptor: DescSelectorFilter, Value: selector}}
}

// NoLocalFilter returns the filter-set entry of the no-local filter.
func NoLocalFilter() MapEntry {
	return MapEntry{Key: Symbol("no-local"), Value: Described{Descriptor: DescNoLocalFilter, Value: List{}}}
}

// Target (0x29).
type Target struct {
	Address               string
	Durable               uint32
	ExpiryPolicy          Symbol // as in Source
	Timeout               uint32
	Dynamic               bool
	DynamicNodeProperties Map
	Capabilities          []Symbol
}

func (*Target) Descriptor() uint64 { return DescTarget }

func (t *Target) AppendTo(dst []byte) []byte {
	dst = AppendDescriptor(dst, DescTarget)
	dst, l := BeginList(dst)
	dst = appendOptString(dst, t.Address)
	l.Field(dst)
	dst = appendOptUint(dst, t.Durable)
	l.Field(dst)
	dst = appendExpiry(dst, t.ExpiryPolicy)
	l.Field(dst)
	dst = appendOptUint(dst, t.Timeout)
	l.Field(dst)
	dst = appendOptBool(dst, t.Dynamic)
	l.Field(dst)
	dst = AppendMap(dst, t.DynamicNodeProperties)
	l.Field(dst)
	dst = AppendSymbols(dst, t.Capabilities)
	l.Field(dst)
	return l.End(dst)
}

func decodeTarget(d *Decoder, parent *FieldReader) *Target {
	f, err := d.ReadList()
	if err != nil {
		parent.fail(err.(*Error))
		return nil
	}
	t := &Target{}
	t.Address = f.Str()
	t.Durable = f.Uint(DurableNone)
	t.ExpiryPolicy = f.Symbol()
	if t.ExpiryPolicy == "" {
		t.ExpiryPolicy = ExpirySessionEnd
	}
	t.Timeout = f.Uint(0)
	t.Dynamic = f.Bool(false)
	t.DynamicNodeProperties = f.Map()
	t.Capabilities = f.Symbols()
	if f.Err() != nil {
		parent.fail(prefixErr("target", f.Err()))
		return nil
	}
	return t
}

// Coordinator (0x30): the target of a transaction controller's link.
type Coordinator struct {
	Capabilities []Symbol // txn-capabilities, e.g. amqp:local-transactions
}

// Transaction capabilities.
const (
	TxnLocal           Symbol = "amqp:local-transactions"
	TxnDistributed     Symbol = "amqp:distributed-transactions"
	TxnPromotable      Symbol = "amqp:promotable-transactions"
	TxnMultiPerSession Symbol = "amqp:multi-txns-per-ssn"
	TxnMultiSessions   Symbol = "amqp:multi-ssns-per-txn"
)

func (*Coordinator) Descriptor() uint64 { return DescCoordinator }

func (c *Coordinator) AppendTo(dst []byte) []byte {
	dst = AppendDescriptor(dst, DescCoordinator)
	dst, l := BeginList(dst)
	dst = AppendSymbols(dst, c.Capabilities)
	l.Field(dst)
	return l.End(dst)
}

func decodeCoordinator(d *Decoder, parent *FieldReader) *Coordinator {
	f, err := d.ReadList()
	if err != nil {
		parent.fail(err.(*Error))
		return nil
	}
	c := &Coordinator{Capabilities: f.Symbols()}
	if f.Err() != nil {
		parent.fail(prefixErr("coordinator", f.Err()))
		return nil
	}
	return c
}

func prefixErr(what string, err error) *Error {
	e := err.(*Error)
	return &Error{Condition: e.Condition, Description: what + ": " + e.Description}
}
