package core

import (
	"errors"
	"fmt"
)

// Errors an adapter turns into a protocol-native error. They are returned
// wrapped with context; test them with errors.Is.
var (
	ErrClosed        = errors.New("broker closed")
	ErrNoSuchAddress = errors.New("no such address")
	ErrNoSuchQueue   = errors.New("no such queue")
	ErrQueueExists   = errors.New("queue already exists")
	// ErrAddressInUse refuses to delete an address that has queues.
	ErrAddressInUse      = errors.New("address in use")
	ErrAddressFull       = errors.New("address full")
	ErrInvalidPriority   = errors.New("priority out of range 0-9")
	ErrMessageTooLarge   = errors.New("message too large")
	ErrInvalidSelector   = errors.New("invalid selector")
	ErrInvalidName       = errors.New("invalid address or queue name")
	ErrUnknownDelivery   = errors.New("unknown delivery")
	ErrConsumerClosed    = errors.New("consumer closed")
	ErrSubscriptionInUse = errors.New("durable subscription already has an active consumer")
	ErrRoutingType       = errors.New("address does not support the routing type")
	ErrTxDone            = errors.New("transaction already completed")
	ErrNoClientID        = errors.New("a durable subscription needs a client id")
	// ErrStoreUnavailable refuses a durable send or a commit because the
	// store cannot write (disk full, I/O error, database down).
	ErrStoreUnavailable = errors.New("store unavailable")
	// ErrResourceLimit refuses what would create an address or a queue
	// beyond max-addresses or max-queues.
	ErrResourceLimit = errors.New("resource limit reached")
	// ErrSlowConsumer ends a consumer whose queue stayed at its limit
	// (Queue.SetLimits) for Config.SlowConsumerTimeout.
	ErrSlowConsumer = errors.New("slow consumer")
)

// PermissionError is returned when the session's authorizer refuses an action.
type PermissionError struct {
	Permission Permission
	Address    string
	Err        error
}

func (e *PermissionError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("permission %q denied on address %q", e.Permission, e.Address)
}

func (e *PermissionError) Unwrap() error { return e.Err }

// Permission is an action the authorizer is asked about. The names are
// Artemis' security-settings keys.
type Permission uint8

const (
	PermSend Permission = iota + 1
	PermConsume
	PermBrowse
	PermCreateAddress
	PermDeleteAddress
	PermCreateDurableQueue
	PermDeleteDurableQueue
	PermCreateNonDurableQueue
	PermDeleteNonDurableQueue
	PermManage
)

var permNames = [...]string{"", "send", "consume", "browse", "createAddress", "deleteAddress",
	"createDurableQueue", "deleteDurableQueue", "createNonDurableQueue", "deleteNonDurableQueue", "manage"}

func (p Permission) String() string {
	if int(p) < len(permNames) {
		return permNames[p]
	}
	return "permission?"
}
