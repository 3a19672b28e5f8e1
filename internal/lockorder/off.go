//go:build !lockorder

package lockorder

import "sync"

// Enabled reports whether this build checks the lock order.
const Enabled = false

// Mutex is a sync.Mutex with a rank (checked only with -tags lockorder).
type Mutex[R Ranker] struct{ sync.Mutex }

// RWMutex is a sync.RWMutex with a rank (checked only with -tags lockorder).
type RWMutex[R Ranker] struct{ sync.RWMutex }
