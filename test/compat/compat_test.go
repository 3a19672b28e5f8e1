// Package compat_test checks that what older versions of the broker stored
// still loads: a journal written before a format change is kept in testdata
// and started on.
package compat_test

import "time"

// waitForFixture bounds every wait on the fixture's broker.
const waitForFixture = 5 * time.Second

func waitTimer() <-chan time.Time { return time.After(waitForFixture) }
