package codec

// Format codes (OASIS AMQP 1.0 part 1, section 1.6).
const (
	codeDescribed  = 0x00
	codeNull       = 0x40
	codeTrue       = 0x41
	codeFalse      = 0x42
	codeUint0      = 0x43
	codeUlong0     = 0x44
	codeList0      = 0x45
	codeUbyte      = 0x50
	codeByte       = 0x51
	codeSmallUint  = 0x52
	codeSmallUlong = 0x53
	codeSmallInt   = 0x54
	codeSmallLong  = 0x55
	codeBoolean    = 0x56
	codeUshort     = 0x60
	codeShort      = 0x61
	codeUint       = 0x70
	codeInt        = 0x71
	codeFloat      = 0x72
	codeChar       = 0x73
	codeDecimal32  = 0x74
	codeUlong      = 0x80
	codeLong       = 0x81
	codeDouble     = 0x82
	codeTimestamp  = 0x83
	codeDecimal64  = 0x84
	codeDecimal128 = 0x94
	codeUUID       = 0x98
	codeVbin8      = 0xa0
	codeStr8       = 0xa1
	codeSym8       = 0xa3
	codeVbin32     = 0xb0
	codeStr32      = 0xb1
	codeSym32      = 0xb3
	codeList8      = 0xc0
	codeMap8       = 0xc1
	codeList32     = 0xd0
	codeMap32      = 0xd1
	codeArray8     = 0xe0
	codeArray32    = 0xf0
)

// validCode marks the primitive format codes AMQP 1.0 defines; any other
// constructor is a decode error.
var validCode = func() (v [256]bool) {
	for _, c := range []byte{codeNull, codeTrue, codeFalse, codeUint0, codeUlong0, codeList0,
		codeUbyte, codeByte, codeSmallUint, codeSmallUlong, codeSmallInt, codeSmallLong, codeBoolean,
		codeUshort, codeShort, codeUint, codeInt, codeFloat, codeChar, codeDecimal32,
		codeUlong, codeLong, codeDouble, codeTimestamp, codeDecimal64, codeDecimal128, codeUUID,
		codeVbin8, codeStr8, codeSym8, codeVbin32, codeStr32, codeSym32,
		codeList8, codeMap8, codeList32, codeMap32, codeArray8, codeArray32} {
		v[c] = true
	}
	return v
}()

// fixedWidth is the width of a fixed-width encoding, from the high nibble
// of its code; variable-width codes (0xa0 and up) are handled apart.
func fixedWidth(code byte) int {
	switch code >> 4 {
	case 0x4:
		return 0
	case 0x5:
		return 1
	case 0x6:
		return 2
	case 0x7:
		return 4
	case 0x8:
		return 8
	case 0x9:
		return 16
	}
	return -1
}

// Descriptor codes: performatives, SASL frames, and the other described
// types of the protocol (domain 0x00000000).
const (
	DescOpen        uint64 = 0x10
	DescBegin       uint64 = 0x11
	DescAttach      uint64 = 0x12
	DescFlow        uint64 = 0x13
	DescTransfer    uint64 = 0x14
	DescDisposition uint64 = 0x15
	DescDetach      uint64 = 0x16
	DescEnd         uint64 = 0x17
	DescClose       uint64 = 0x18

	DescError    uint64 = 0x1d
	DescReceived uint64 = 0x23
	DescAccepted uint64 = 0x24
	DescRejected uint64 = 0x25
	DescReleased uint64 = 0x26
	DescModified uint64 = 0x27
	DescSource   uint64 = 0x28
	DescTarget   uint64 = 0x29

	DescDeleteOnClose             uint64 = 0x2b
	DescDeleteOnNoLinks           uint64 = 0x2c
	DescDeleteOnNoMessages        uint64 = 0x2d
	DescDeleteOnNoLinksOrMessages uint64 = 0x2e

	DescCoordinator        uint64 = 0x30
	DescDeclare            uint64 = 0x31
	DescDischarge          uint64 = 0x32
	DescDeclared           uint64 = 0x33
	DescTransactionalState uint64 = 0x34

	DescSASLMechanisms uint64 = 0x40
	DescSASLInit       uint64 = 0x41
	DescSASLChallenge  uint64 = 0x42
	DescSASLResponse   uint64 = 0x43
	DescSASLOutcome    uint64 = 0x44

	DescHeader                uint64 = 0x70
	DescDeliveryAnnotations   uint64 = 0x71
	DescMessageAnnotations    uint64 = 0x72
	DescProperties            uint64 = 0x73
	DescApplicationProperties uint64 = 0x74
	DescData                  uint64 = 0x75
	DescAMQPSequence          uint64 = 0x76
	DescAMQPValue             uint64 = 0x77
	DescFooter                uint64 = 0x78

	// Filters of the Apache (Qpid, ActiveMQ, Artemis) domain 0x468C.
	DescNoLocalFilter  uint64 = 0x0000468C00000003
	DescSelectorFilter uint64 = 0x0000468C00000004
)

// symbolicDescriptors maps the symbolic descriptor names a peer may send
// instead of the numeric codes.
var symbolicDescriptors = map[Symbol]uint64{
	"amqp:open:list": DescOpen, "amqp:begin:list": DescBegin, "amqp:attach:list": DescAttach,
	"amqp:flow:list": DescFlow, "amqp:transfer:list": DescTransfer, "amqp:disposition:list": DescDisposition,
	"amqp:detach:list": DescDetach, "amqp:end:list": DescEnd, "amqp:close:list": DescClose,
	"amqp:error:list": DescError, "amqp:received:list": DescReceived, "amqp:accepted:list": DescAccepted,
	"amqp:rejected:list": DescRejected, "amqp:released:list": DescReleased, "amqp:modified:list": DescModified,
	"amqp:source:list": DescSource, "amqp:target:list": DescTarget,
	"amqp:delete-on-close:list": DescDeleteOnClose, "amqp:delete-on-no-links:list": DescDeleteOnNoLinks,
	"amqp:delete-on-no-messages:list": DescDeleteOnNoMessages, "amqp:delete-on-no-links-or-messages:list": DescDeleteOnNoLinksOrMessages,
	"amqp:coordinator:list": DescCoordinator, "amqp:declare:list": DescDeclare, "amqp:discharge:list": DescDischarge,
	"amqp:declared:list": DescDeclared, "amqp:transactional-state:list": DescTransactionalState,
	"amqp:sasl-mechanisms:list": DescSASLMechanisms, "amqp:sasl-init:list": DescSASLInit,
	"amqp:sasl-challenge:list": DescSASLChallenge, "amqp:sasl-response:list": DescSASLResponse,
	"amqp:sasl-outcome:list": DescSASLOutcome,
	"amqp:header:list":       DescHeader, "amqp:delivery-annotations:map": DescDeliveryAnnotations,
	"amqp:message-annotations:map": DescMessageAnnotations, "amqp:properties:list": DescProperties,
	"amqp:application-properties:map": DescApplicationProperties, "amqp:data:binary": DescData,
	"amqp:amqp-sequence:list": DescAMQPSequence, "amqp:amqp-value:*": DescAMQPValue, "amqp:footer:map": DescFooter,
	"apache.org:no-local-filter:list": DescNoLocalFilter, "apache.org:selector-filter:string": DescSelectorFilter,
}

// DescriptorCode returns the numeric code of a descriptor given as a
// uint64 or as one of the symbolic names this package knows; ok is false
// for anything else.
func DescriptorCode(d any) (code uint64, ok bool) {
	switch d := d.(type) {
	case uint64:
		return d, true
	case Symbol:
		code, ok = symbolicDescriptors[d]
		return code, ok
	}
	return 0, false
}
