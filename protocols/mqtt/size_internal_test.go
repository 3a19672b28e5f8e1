package mqtt

import (
	"testing"
	"unsafe"
)

// TestIdleRecordSizes: every connected device holds a conn and a session
// (issue 18: an idle MQTT connection within 1.5 KiB). A field added to
// either must fit the size class the other fields leave room in, or earn
// its bytes: the next class up costs every idle device.
func TestIdleRecordSizes(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 352 {
		t.Errorf("conn is %d bytes, over the 352-byte size class", n)
	}
	if n := unsafe.Sizeof(session{}); n > 176 {
		t.Errorf("session is %d bytes, over the 176-byte size class", n)
	}
}
