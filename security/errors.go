package security

import (
	"errors"
	"fmt"
)

// Authentication and connection errors. Adapters map them to their protocol's
// refusal (STOMP ERROR, MQTT CONNACK reason code, AMQP SASL outcome, ...).
var (
	// ErrBadCredentials is returned for an unknown user and for a wrong
	// password alike, so a client cannot probe which user names exist.
	ErrBadCredentials = errors.New("bad credentials")
	// ErrAnonymousDenied is returned when a client presents no user name and
	// anonymous access is disabled.
	ErrAnonymousDenied = errors.New("anonymous login not allowed")
	// ErrTooManyConnections is returned by Connect when the user already holds
	// its maximum number of connections.
	ErrTooManyConnections = errors.New("too many connections for user")
	// ErrDenied is what every *DeniedError matches with errors.Is.
	ErrDenied = errors.New("permission denied")
	// ErrUserRemoved is returned by LoginValid for a subject whose user is no
	// longer in the users file.
	ErrUserRemoved = errors.New("user removed from the users file")
	// ErrTokenExpired is returned by AuthenticateSAS for a well-signed SAS
	// token whose expiry (se) has passed.
	ErrTokenExpired = errors.New("SAS token expired")
)

// DeniedError is returned by Authorize. Its message names the permission and
// the address so that the protocol-level error tells an operator what to add
// to the configuration.
type DeniedError struct {
	User      string // empty for an anonymous subject
	Anonymous bool
	Action    Action
	Address   string
}

func (e *DeniedError) Error() string {
	if e.Anonymous || e.User == "" {
		return fmt.Sprintf("anonymous user lacks permission '%s' on address '%s'", e.Action, e.Address)
	}
	return fmt.Sprintf("user '%s' lacks permission '%s' on address '%s'", e.User, e.Action, e.Address)
}

// Unwrap lets errors.Is(err, ErrDenied) recognise a denial.
func (e *DeniedError) Unwrap() error { return ErrDenied }
