package codec

// SASL outcome codes.
const (
	SASLOK      uint8 = 0
	SASLAuth    uint8 = 1 // authentication failed: bad credentials
	SASLSys     uint8 = 2 // system error, permanent
	SASLSysPerm uint8 = 3
	SASLSysTemp uint8 = 4
)

// SASLMechanisms (0x40).
type SASLMechanisms struct {
	Mechanisms []Symbol // mandatory
}

// SASLInit (0x41).
type SASLInit struct {
	Mechanism       Symbol // mandatory
	InitialResponse []byte // aliases the frame; nil when absent
	Hostname        string
}

// SASLChallenge (0x42).
type SASLChallenge struct {
	Challenge []byte // mandatory
}

// SASLResponse (0x43).
type SASLResponse struct {
	Response []byte // mandatory
}

// SASLOutcome (0x44).
type SASLOutcome struct {
	Code           uint8 // mandatory
	AdditionalData []byte
}

func (*SASLMechanisms) Descriptor() uint64 { return DescSASLMechanisms }
func (*SASLInit) Descriptor() uint64       { return DescSASLInit }
func (*SASLChallenge) Descriptor() uint64  { return DescSASLChallenge }
func (*SASLResponse) Descriptor() uint64   { return DescSASLResponse }
func (*SASLOutcome) Descriptor() uint64    { return DescSASLOutcome }

func (m *SASLMechanisms) AppendTo(dst []byte) []byte {
	dst = AppendDescriptor(dst, DescSASLMechanisms)
	dst, l := BeginList(dst)
	// Mandatory: an empty list is still an (empty) array.
	dst = appendSymbolArray(dst, m.Mechanisms)
	l.Field(dst)
	return l.End(dst)
}

func decodeSASLMechanisms(f *FieldReader) *SASLMechanisms {
	f.Require("sasl-server-mechanisms")
	return &SASLMechanisms{Mechanisms: f.Symbols()}
}

func (i *SASLInit) AppendTo(dst []byte) []byte {
	dst = AppendDescriptor(dst, DescSASLInit)
	dst, l := BeginList(dst)
	dst = AppendSymbol(dst, i.Mechanism)
	l.Field(dst)
	dst = AppendBinary(dst, i.InitialResponse)
	l.Field(dst)
	dst = appendOptString(dst, i.Hostname)
	l.Field(dst)
	return l.End(dst)
}

func decodeSASLInit(f *FieldReader) *SASLInit {
	i := &SASLInit{}
	f.Require("mechanism")
	i.Mechanism = f.Symbol()
	i.InitialResponse = f.Binary()
	i.Hostname = f.Str()
	return i
}

func (c *SASLChallenge) AppendTo(dst []byte) []byte {
	return appendBinaryOnly(dst, DescSASLChallenge, c.Challenge)
}

func (r *SASLResponse) AppendTo(dst []byte) []byte {
	return appendBinaryOnly(dst, DescSASLResponse, r.Response)
}

func appendBinaryOnly(dst []byte, code uint64, b []byte) []byte {
	dst = AppendDescriptor(dst, code)
	dst, l := BeginList(dst)
	dst = AppendBinary(dst, nonNil(b))
	l.Field(dst)
	return l.End(dst)
}

func (o *SASLOutcome) AppendTo(dst []byte) []byte {
	dst = AppendDescriptor(dst, DescSASLOutcome)
	dst, l := BeginList(dst)
	dst = AppendUbyte(dst, o.Code)
	l.Field(dst)
	dst = AppendBinary(dst, o.AdditionalData)
	l.Field(dst)
	return l.End(dst)
}

func decodeSASLOutcome(f *FieldReader) *SASLOutcome {
	o := &SASLOutcome{}
	f.Require("code")
	o.Code = f.Ubyte(0)
	o.AdditionalData = f.Binary()
	return o
}
