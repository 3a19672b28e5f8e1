package stomp

import (
	"context"
	"errors"
	"time"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/stomp/frame"
)

// The connection's confirmations leave in the order of the frames they
// answer. A RECEIPT says the server has processed that frame and every frame
// before it, so the receipt of a SUBSCRIBE or of a DISCONNECT must not
// overtake the receipt of a persistent SEND still being stored, nor a SEND
// held by producer flow control. Each SEND (with or without a receipt) and
// each frame with a receipt takes a slot in the line; a slot is filled when
// its frame is done, and filled slots at the head of the line are written.

// reply is one slot of the line.
type reply struct {
	frame []byte // the encoded RECEIPT or ERROR; nil for a SEND without receipt
	done  bool
	close bool // an ERROR or the DISCONNECT receipt: close after it
	// withdrawn: the frame was dropped unprocessed as the connection ends.
	// No receipt may follow it, since a receipt covers every earlier
	// frame; an ERROR still may.
	withdrawn bool
	isError   bool
}

// reserveReply takes the next slot, for a frame that completes later.
func (c *conn) reserveReply() uint64 {
	c.outMu.Lock()
	c.replies = append(c.replies, reply{})
	seq := c.replyBase + uint64(len(c.replies)) - 1
	c.outMu.Unlock()
	return seq
}

// completeReply fills slot seq with a RECEIPT for receipt (none if empty),
// and writes what has become writable.
func (c *conn) completeReply(seq uint64, receipt string) {
	c.outMu.Lock()
	i := int(seq - c.replyBase)
	if i < 0 || i >= len(c.replies) {
		c.outMu.Unlock()
		return
	}
	r := reply{done: true}
	if receipt != "" {
		if i == 0 && !c.ob.Dead && !c.ob.Closing {
			// At the head: straight into the output buffer.
			c.ob.Buf = appendReceipt(c.ob.Buf, c.ver, receipt)
		} else {
			r.frame = appendReceipt(nil, c.ver, receipt)
		}
	}
	c.replies[i] = r
	c.emitLocked()
}

// completeClosed fills slot seq for a frame withdrawn as the connection
// ends: nothing more is written, so no later receipt (a DISCONNECT's) claims
// it was processed.
func (c *conn) completeClosed(seq uint64) {
	c.outMu.Lock()
	i := int(seq - c.replyBase)
	if i < 0 || i >= len(c.replies) {
		c.outMu.Unlock()
		return
	}
	c.replies[i] = reply{done: true, withdrawn: true}
	c.emitLocked()
}

// completeError fills slot seq with an ERROR, after which the connection
// closes.
func (c *conn) completeError(seq uint64, msg, detail, receipt string) {
	c.outMu.Lock()
	i := int(seq - c.replyBase)
	if i < 0 || i >= len(c.replies) {
		c.outMu.Unlock()
		return
	}
	c.replies[i] = reply{frame: appendError(nil, c.ver, msg, detail, receipt), done: true, close: true, isError: true}
	c.emitLocked()
}

// appendReply adds a reply that is complete now: it goes out after every
// earlier one. close ends the connection after it; isError marks an ERROR.
func (c *conn) appendReply(encoded []byte, close, isError bool) {
	c.outMu.Lock()
	c.replies = append(c.replies, reply{frame: encoded, done: true, close: close, isError: isError})
	c.emitLocked()
}

// emitLocked writes the filled slots at the head of the line. Caller holds
// outMu, which emitLocked releases.
func (c *conn) emitLocked() {
	// A slot of a SEND without receipt writes nothing: waking a writer or
	// flushing for it cost a persistent producer's connection a syscall or
	// a goroutine wake-up per message.
	wrote := len(c.ob.Buf) > 0
	for len(c.replies) > 0 && c.replies[0].done {
		r := c.replies[0]
		c.replies[0] = reply{}
		c.replies = c.replies[1:]
		c.replyBase++
		if c.ob.Dead || c.ob.Closing {
			continue
		}
		if r.withdrawn {
			c.withdrawn = true
			continue
		}
		if c.withdrawn && !r.isError {
			continue
		}
		if len(r.frame) > 0 || r.close {
			wrote = true
		}
		c.ob.Buf = append(c.ob.Buf, r.frame...)
		c.ob.Closing = r.close
	}
	if len(c.replies) == 0 {
		c.replies = nil
		if c.drained != nil {
			close(c.drained)
			c.drained = nil
		}
	}
	if !wrote {
		c.outMu.Unlock()
		return
	}
	c.flushLocked()
}

// flushLocked sends what is queued: inline when this is the last reply the
// client waits for, else from a writer goroutine with what follows. Caller
// holds outMu, which flushLocked releases.
func (c *conn) flushLocked() {
	if c.busy.Load() || len(c.replies) > 0 || c.ob.Closing {
		// More replies are on their way (the client pipelines frames, or
		// other frames await their confirmation): a writer goroutine sends
		// them together.
		c.ob.SignalLocked()
		c.outMu.Unlock()
		return
	}
	c.ob.FlushLocked()
}

// awaitReplies waits, at most for d, until every reserved slot is filled
// and written to the output buffer.
func (c *conn) awaitReplies(d time.Duration) {
	c.outMu.Lock()
	if len(c.replies) == 0 || c.ob.Dead {
		c.outMu.Unlock()
		return
	}
	if c.drained == nil {
		c.drained = make(chan struct{})
	}
	ch := c.drained
	c.outMu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	}
}

// withdrawn reports whether a send or commit was dropped unprocessed
// because its connection (Producer.Close) or the server is ending.
func withdrawn(err error) bool {
	return errors.Is(err, core.ErrClosed) || errors.Is(err, context.Canceled)
}

func appendReceipt(buf []byte, v frame.Version, id string) []byte {
	var e frame.Encoder
	e.Begin(buf, v, frame.CmdReceipt)
	e.Header(frame.HdrReceiptID, id)
	return e.Body(nil)
}

func appendError(buf []byte, v frame.Version, msg, detail, receipt string, extra ...frame.Header) []byte {
	var e frame.Encoder
	e.Begin(buf, v, frame.CmdError)
	e.Header(frame.HdrMessage, msg)
	if receipt != "" {
		e.Header(frame.HdrReceiptID, receipt)
	}
	for _, h := range extra {
		e.Header(h.Key, h.Value)
	}
	e.Header(frame.HdrContentType, "text/plain")
	return e.Body([]byte(detail + "\n"))
}
