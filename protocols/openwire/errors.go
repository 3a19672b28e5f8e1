package openwire

import (
	"errors"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/openwire/wire"
)

// javaError is a refusal with the Java exception class the client should
// see. The ActiveMQ client rebuilds the exception from the class name, so
// the class decides what the application catches: a JMSException subclass
// is thrown as it is, java.lang.SecurityException becomes a
// JMSSecurityException.
type javaError struct {
	class string
	msg   string
	// closeAfter ends the connection once the response is written (a
	// refused login).
	closeAfter bool
}

func (e *javaError) Error() string { return e.msg }

func jmsError(class, msg string) error { return &javaError{class: class, msg: msg} }

// throwable maps an error to the exception the client gets.
func throwable(err error) *wire.Throwable {
	var je *javaError
	if errors.As(err, &je) {
		return &wire.Throwable{Class: je.class, Message: je.msg}
	}
	var pe *core.PermissionError
	class := "javax.jms.JMSException"
	switch {
	case errors.As(err, &pe):
		// What ActiveMQ's authorization broker throws; the client turns
		// it into a JMSSecurityException.
		class = "java.lang.SecurityException"
	case errors.Is(err, core.ErrInvalidSelector):
		class = "javax.jms.InvalidSelectorException"
	case errors.Is(err, core.ErrNoSuchQueue), errors.Is(err, core.ErrNoSuchAddress),
		errors.Is(err, core.ErrInvalidName), errors.Is(err, core.ErrRoutingType):
		class = "javax.jms.InvalidDestinationException"
	case errors.Is(err, core.ErrNoClientID):
		class = "javax.jms.InvalidClientIDException"
	case errors.Is(err, core.ErrSubscriptionInUse), errors.Is(err, core.ErrTxDone):
		class = "javax.jms.IllegalStateException"
	case errors.Is(err, core.ErrMessageTooLarge), errors.Is(err, core.ErrInvalidPriority):
		class = "javax.jms.MessageFormatException"
	case errors.Is(err, core.ErrAddressFull), errors.Is(err, core.ErrResourceLimit):
		class = "javax.jms.ResourceAllocationException"
	}
	return &wire.Throwable{Class: class, Message: err.Error()}
}
