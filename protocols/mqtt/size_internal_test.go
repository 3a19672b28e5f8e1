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
	if n := unsafe.Sizeof(conn{}); n > 384 {
		t.Errorf("conn is %d bytes, over the 384-byte size class", n)
	}
	if n := unsafe.Sizeof(session{}); n > 192 {
		t.Errorf("session is %d bytes, over the 192-byte size class", n)
	}
}
