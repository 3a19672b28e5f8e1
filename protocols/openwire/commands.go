package openwire

import (
	"context"
	"errors"

	"github.com/junctionmq/junction/core"
	"github.com/junctionmq/junction/protocols/openwire/wire"
)

// handle processes one command; false ends the connection.
func (c *conn) handle(ctx context.Context, cmd wire.Command) bool {
	if !c.negotiated {
		info, ok := cmd.(*wire.WireFormatInfo)
		if !ok {
			c.logger().Info("openwire protocol error: command before WireFormatInfo", "type", wire.TypeName(cmd.DataType()))
			c.closeWithError(&wire.Throwable{Class: "java.io.IOException", Message: "expected a WireFormatInfo, got " + wire.TypeName(cmd.DataType())}, true)
			return false
		}
		if err := c.onWireFormat(info); err != nil {
			c.inputFailed(err)
			return false
		}
		return true
	}
	base := cmd.Base()
	switch v := cmd.(type) {
	case *wire.WireFormatInfo:
		return c.onWireFormat(v) == nil
	case *wire.KeepAliveInfo:
		// The inactivity monitor's probe; the read itself counted.
		if v.ResponseRequired {
			c.send(&wire.KeepAliveInfo{})
		}
		return true
	case *wire.ShutdownInfo:
		return false
	case *wire.ConnectionInfo:
		err := c.onConnectionInfo(ctx, v)
		c.respond(base, err)
		var je *javaError
		if errors.As(err, &je) && je.closeAfter {
			c.outMu.Lock()
			c.ob.LingerLocked()
			c.ob.Closing = true
			c.ob.SignalLocked()
			c.outMu.Unlock()
			return false
		}
		return true
	}
	if !c.connected {
		c.respond(base, jmsError("javax.jms.IllegalStateException", wire.TypeName(cmd.DataType())+" before ConnectionInfo"))
		return true
	}
	var err error
	switch v := cmd.(type) {
	case *wire.SessionInfo:
		if v.SessionID != nil {
			c.sessions[v.SessionID.Value] = true
		}
	case *wire.ProducerInfo:
		err = c.onProducerInfo(v)
	case *wire.ConsumerInfo:
		err = c.onConsumerInfo(v)
	case *wire.RemoveInfo:
		err = c.onRemove(v)
	case *wire.RemoveSubscriptionInfo:
		err = c.sess.Unsubscribe(v.SubscriptionName)
	case *wire.DestinationInfo:
		err = c.onDestinationInfo(v)
	case *wire.TransactionInfo:
		c.onTransaction(ctx, v)
		return true // answered by onTransaction, a commit once it is durable
	case *wire.Message:
		c.onMessage(ctx, v)
		return true // answered by onMessage, possibly later
	case *wire.MessageAck:
		err = c.onAck(v)
	case *wire.MessagePull:
		err = c.onPull(v)
	case *wire.FlushCommand, *wire.ControlCommand:
		// Nothing is buffered for the client to flush, and no control
		// command is meant for a broker.
	case *wire.ConsumerControl:
		c.onConsumerControl(v)
	case *wire.ConnectionError:
		c.logger().Debug("openwire: ConnectionError from the client ignored")
	case *wire.ProducerAck, *wire.MessageDispatch, *wire.MessageDispatchNotification, *wire.BrokerInfo,
		*wire.ConnectionControl, *wire.Response, *wire.ExceptionResponse, *wire.DataResponse,
		*wire.DataArrayResponse, *wire.IntegerResponse, *wire.BrokerSubscriptionInfo, *wire.ReplayCommand:
		// Broker-to-client or broker-to-broker commands: a client has no
		// reason to send them, and they change nothing here.
		c.logger().Debug("openwire: command not meant for a broker ignored", "type", wire.TypeName(cmd.DataType()))
	default:
		err = jmsError("java.lang.UnsupportedOperationException", wire.TypeName(cmd.DataType())+" is not supported by this broker")
	}
	c.respond(base, err)
	return true
}

// onRemove closes what a RemoveInfo names.
func (c *conn) onRemove(r *wire.RemoveInfo) error {
	switch id := r.ObjectID.(type) {
	case *wire.ConnectionID:
		// The client closes: a ShutdownInfo (or the close) follows, but
		// the state goes now, so that the same client id can connect
		// again at once.
		if id.Value == c.connID {
			c.closeState()
		}
		return nil
	case *wire.SessionID:
		for cid, con := range c.consumers {
			if cid.ConnectionID == id.ConnectionID && cid.SessionID == id.Value {
				c.closeConsumer(con, r.LastDeliveredSequenceID, true)
			}
		}
		for pid, p := range c.producers {
			if pid.ConnectionID == id.ConnectionID && pid.SessionID == id.Value {
				p.close()
				delete(c.producers, pid)
			}
		}
		delete(c.sessions, id.Value)
		return nil
	case *wire.ProducerID:
		p := c.producers[*id]
		if p == nil {
			return jmsError("javax.jms.IllegalStateException", "Cannot remove a producer that had not been registered")
		}
		p.close()
		delete(c.producers, *id)
		return nil
	case *wire.ConsumerID:
		con := c.consumers[*id]
		if con == nil {
			return jmsError("javax.jms.IllegalStateException", "Cannot remove a consumer that had not been registered")
		}
		c.closeConsumer(con, r.LastDeliveredSequenceID, true)
		return nil
	}
	return jmsError("javax.jms.JMSException", "RemoveInfo names nothing removable")
}

// onDestinationInfo creates or deletes a temporary destination, or deletes
// a queue (ActiveMQConnection.destroyDestination). Creating an ordinary
// destination needs nothing: the core creates addresses as they are used;
// and a topic has no queue of its own to delete.
func (c *conn) onDestinationInfo(info *wire.DestinationInfo) error {
	ts, err := targets(info.Destination)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if !t.temp() {
			if info.OperationType == wire.DestinationRemove && !t.topic() && !t.wildcard() {
				if err := c.sess.DeleteQueue(t.name); err != nil && !errors.Is(err, core.ErrNoSuchQueue) {
					return err
				}
			}
			continue
		}
		switch info.OperationType {
		case wire.DestinationAdd:
			if err := c.addTemp(t); err != nil {
				return err
			}
		case wire.DestinationRemove:
			if err := c.removeTemp(t); err != nil {
				return err
			}
		default:
			return jmsError("javax.jms.JMSException", "unknown DestinationInfo operation")
		}
	}
	return nil
}
