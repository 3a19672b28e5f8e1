package amqp

import "github.com/junctionmq/junction/protocols/amqp/codec"

// unsettledReply is the unsettled map of the broker's attach answering a
// client's (part 2, 2.6.13). The broker keeps no delivery state across
// links: what a link left unsettled went back to its queue when the link
// or its connection ended (counted as a delivery attempt, so the next
// delivery says delivery-count > 0), and a message the client was sending
// unsettled is confirmed on the link that carried it or not at all. So a
// client resuming a link (an unsettled map in its attach) is told, with an
// explicit empty map, that nothing is unsettled at this end: by the table
// in 2.6.13 it forgets its own entries, the broker sends the messages
// again as new deliveries, and a sender resends what it still holds (at
// least once). A client not resuming (null) gets null.
func (ss *session) unsettledReply(l *link, a *codec.Attach) codec.Map {
	if a.Unsettled == nil {
		return nil
	}
	if len(a.Unsettled) > 0 || a.IncompleteUnsettled {
		ss.c.log.Info("amqp link resumed with unsettled deliveries; the broker holds none, so they are forgotten and sent again as new deliveries",
			"link", l.name, "unsettled", len(a.Unsettled), "incomplete", a.IncompleteUnsettled)
	}
	return codec.Map{}
}
