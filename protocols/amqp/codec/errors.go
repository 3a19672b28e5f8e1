package codec

import "fmt"

// Error conditions (OASIS AMQP 1.0 part 2, sections 2.8.15 to 2.8.18, and
// part 4 for transactions).
const (
	// amqp-error
	CondInternalError         Symbol = "amqp:internal-error"
	CondNotFound              Symbol = "amqp:not-found"
	CondUnauthorizedAccess    Symbol = "amqp:unauthorized-access"
	CondDecodeError           Symbol = "amqp:decode-error"
	CondResourceLimitExceeded Symbol = "amqp:resource-limit-exceeded"
	CondNotAllowed            Symbol = "amqp:not-allowed"
	CondInvalidField          Symbol = "amqp:invalid-field"
	CondNotImplemented        Symbol = "amqp:not-implemented"
	CondResourceLocked        Symbol = "amqp:resource-locked"
	CondPreconditionFailed    Symbol = "amqp:precondition-failed"
	CondResourceDeleted       Symbol = "amqp:resource-deleted"
	CondIllegalState          Symbol = "amqp:illegal-state"
	CondFrameSizeTooSmall     Symbol = "amqp:frame-size-too-small"

	// connection-error
	CondConnectionForced   Symbol = "amqp:connection:forced"
	CondFramingError       Symbol = "amqp:connection:framing-error"
	CondConnectionRedirect Symbol = "amqp:connection:redirect"

	// session-error
	CondWindowViolation  Symbol = "amqp:session:window-violation"
	CondErrantLink       Symbol = "amqp:session:errant-link"
	CondHandleInUse      Symbol = "amqp:session:handle-in-use"
	CondUnattachedHandle Symbol = "amqp:session:unattached-handle"

	// link-error
	CondDetachForced          Symbol = "amqp:link:detach-forced"
	CondTransferLimitExceeded Symbol = "amqp:link:transfer-limit-exceeded"
	CondMessageSizeExceeded   Symbol = "amqp:link:message-size-exceeded"
	CondLinkRedirect          Symbol = "amqp:link:redirect"
	CondStolen                Symbol = "amqp:link:stolen"

	// transaction-error
	CondTransactionUnknownID Symbol = "amqp:transaction:unknown-id"
	CondTransactionRollback  Symbol = "amqp:transaction:rollback"
	CondTransactionTimeout   Symbol = "amqp:transaction:timeout"
)

// Error is AMQP's error type (descriptor 0x1d), carried by detach, end,
// close and the rejected outcome. It is also the Go error every decoder in
// this package returns, so the condition to send back is always at hand:
//
//	var e *codec.Error
//	if errors.As(err, &e) { ... close with e ... }
type Error struct {
	Condition   Symbol
	Description string
	Info        Map // fields: symbol keys
}

func (e *Error) Error() string {
	if e.Description == "" {
		return string(e.Condition)
	}
	return string(e.Condition) + ": " + e.Description
}

// Errorf returns an *Error with the condition and a formatted description.
func Errorf(cond Symbol, format string, args ...any) *Error {
	return &Error{Condition: cond, Description: fmt.Sprintf(format, args...)}
}

func decodeErr(format string, args ...any) *Error {
	return Errorf(CondDecodeError, format, args...)
}
