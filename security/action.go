package security

import (
	"fmt"
	"strings"
)

// Action is one permission of the security settings, as in Artemis'
// <security-setting>: every operation a client can attempt on an address
// needs exactly one of them.
type Action uint8

// The actions, in the order Artemis documents them. Their String forms are
// the keys used under `permissions:` in the configuration.
const (
	Send Action = iota
	Consume
	Browse
	CreateAddress
	DeleteAddress
	CreateDurableQueue
	DeleteDurableQueue
	CreateNonDurableQueue
	DeleteNonDurableQueue
	Manage

	numActions
)

var actionNames = [numActions]string{
	Send:                  "send",
	Consume:               "consume",
	Browse:                "browse",
	CreateAddress:         "createAddress",
	DeleteAddress:         "deleteAddress",
	CreateDurableQueue:    "createDurableQueue",
	DeleteDurableQueue:    "deleteDurableQueue",
	CreateNonDurableQueue: "createNonDurableQueue",
	DeleteNonDurableQueue: "deleteNonDurableQueue",
	Manage:                "manage",
}

// String returns the configuration key of a, e.g. "createDurableQueue".
func (a Action) String() string {
	if a < numActions {
		return actionNames[a]
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// Valid reports whether a is one of the defined actions.
func (a Action) Valid() bool { return a < numActions }

// Actions returns every action, in declaration order.
func Actions() []Action {
	out := make([]Action, numActions)
	for i := range out {
		out[i] = Action(i)
	}
	return out
}

// ParseAction maps a configuration key to its Action. The match is exact
// (Artemis spells them in camelCase) except that case is ignored, so
// "createdurablequeue" is accepted as well.
func ParseAction(s string) (Action, error) {
	for i, n := range actionNames {
		if strings.EqualFold(n, s) {
			return Action(i), nil
		}
	}
	return 0, fmt.Errorf("unknown permission %q (valid: %s)", s, strings.Join(actionNames[:], ", "))
}
