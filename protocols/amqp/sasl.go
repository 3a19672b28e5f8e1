package amqp

import (
	"bytes"
	"errors"
	"strconv"
	"time"

	"github.com/junctionmq/junction/protocols/access"
	"github.com/junctionmq/junction/protocols/amqp/codec"
)

// SASL mechanisms (RFC 4616 PLAIN, RFC 4505 ANONYMOUS, RFC 4422 EXTERNAL).
const (
	mechPlain     codec.Symbol = "PLAIN"
	mechAnonymous codec.Symbol = "ANONYMOUS"
	mechExternal  codec.Symbol = "EXTERNAL"
)

// SASL outcome codes (part 5, 5.3.3.6).
const (
	saslOK   = codec.SASLOK
	saslAuth = codec.SASLAuth
	saslSys  = codec.SASLSys
)

// mechanisms are what the server offers this connection: EXTERNAL on a TLS
// connection with a verified client certificate, PLAIN always, ANONYMOUS
// when anonymous access is allowed or when SAS tokens can log users in (the
// Azure SDKs' ANONYMOUS then $cbs put-token: servicebus.go).
func (c *conn) mechanisms() []codec.Symbol {
	var ms []codec.Symbol
	if st := c.tlsState(); st != nil && len(st.VerifiedChains) > 0 {
		ms = append(ms, mechExternal)
	}
	ms = append(ms, mechPlain)
	if c.anonymousAllowed() || c.s.opts.Gate.SASEnabled() {
		ms = append(ms, mechAnonymous)
	}
	return ms
}

// sasl runs the SASL layer (part 5, 5.3): our header and mechanisms, the
// client's init, the outcome. On success c.id is set.
func (c *conn) sasl() error {
	offered := c.mechanisms()
	c.mu.Lock()
	c.ob.Buf = append(c.ob.Buf, headerSASL[:]...)
	c.ob.Buf = codec.AppendFrame(c.ob.Buf, 0, &codec.SASLMechanisms{Mechanisms: offered}, nil)
	c.ob.SignalLocked()
	c.mu.Unlock()

	var f rawFrame
	for {
		if err := c.readFrame(&f); err != nil {
			var ce *connError
			if errors.As(err, &ce) {
				// No AMQP close exists at this layer: the outcome says it failed.
				return c.saslFail(saslSys, "sasl frame refused: "+ce.e.Description)
			}
			return err
		}
		if f.body != nil {
			break
		}
	}
	if f.typ != frameSASL {
		return c.saslFail(saslSys, "expected a sasl-init frame, got a frame of type "+strconv.Itoa(int(f.typ)))
	}
	perf, _, err := codec.DecodePerformative(f.body)
	if err != nil {
		return c.saslFail(saslSys, "sasl-init could not be decoded: "+err.Error())
	}
	init, ok := perf.(*codec.SASLInit)
	if !ok {
		return c.saslFail(saslSys, "expected sasl-init, got "+perfName(perf))
	}
	mech := init.Mechanism
	offeredMech := false
	for _, m := range offered {
		offeredMech = offeredMech || m == mech
	}
	if !offeredMech {
		return c.saslFail(saslAuth, "mechanism "+string(mech)+" is not offered")
	}
	var user, pass string
	hasPass := false
	switch mech {
	case mechPlain:
		// authzid NUL authcid NUL passwd; an authzid other than the user
		// (acting as someone else) is not supported.
		parts := bytes.Split(init.InitialResponse, []byte{0})
		if len(parts) != 3 {
			return c.saslFail(saslAuth, "malformed PLAIN response")
		}
		user, pass, hasPass = string(parts[1]), string(parts[2]), true
		if len(parts[0]) > 0 && string(parts[0]) != user {
			return c.saslFail(saslAuth, "PLAIN authorization identity differs from the user")
		}
		if user == "" {
			return c.saslFail(saslAuth, "PLAIN with an empty user name")
		}
	case mechAnonymous:
		if c.s.opts.Gate.SASEnabled() {
			// Maybe a Service Bus client, which puts a token to $cbs next:
			// no core session until then (anonymous only if allowed).
			c.sb = &sbState{}
			if !c.anonymousAllowed() {
				// Not logged in: a token must come soon.
				c.tokenDeadline(time.Now().Add(c.s.opts.ConnectTimeout), false)
				return c.saslOK()
			}
		}
	case mechExternal:
		// The certificate is the credential: Login maps it to its user.
	}
	id, err := c.s.opts.Gate.Login(c.ctx, user, pass, hasPass, c.remote, c.tlsState())
	if err == nil && mech == mechExternal && !id.Subject.Certificate && c.s.opts.Gate != nil && c.s.opts.Gate.Manager != nil && c.s.opts.Gate.Manager.UsersFile() != "" {
		// The certificate maps to no user: EXTERNAL must not fall back to
		// an anonymous login.
		id.Close()
		err = errors.New("the client certificate maps to no user")
	}
	if err != nil {
		_, msg := access.Refusal(err)
		return c.saslFail(saslAuth, msg)
	}
	c.id = id
	return c.saslOK()
}

// saslOK writes the successful outcome.
func (c *conn) saslOK() error {
	c.mu.Lock()
	c.ob.Buf = codec.AppendFrame(c.ob.Buf, 0, &codec.SASLOutcome{Code: saslOK}, nil)
	c.ob.SignalLocked()
	c.mu.Unlock()
	return nil
}

// saslFail writes a failed outcome and closes after it.
func (c *conn) saslFail(code uint8, why string) error {
	c.log.Info("amqp sasl authentication failed", "reason", why)
	c.mu.Lock()
	c.ob.Buf = codec.AppendFrame(c.ob.Buf, 0, &codec.SASLOutcome{Code: code}, nil)
	c.ob.Closing = true
	c.ob.LingerLocked()
	c.ob.SignalLocked()
	c.mu.Unlock()
	return errQuit
}
