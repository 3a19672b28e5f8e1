// Package security is the broker's protocol-neutral authentication,
// authorization, per-user connection limits and TLS configuration, modelled
// on ActiveMQ Artemis' security settings. Protocol adapters and the core
// call it; it imports neither.
//
// An adapter's life cycle for one connection:
//
//	subj, err := mgr.Authenticate(ctx, security.Credentials{
//		Username: login, Password: pass, HasPassword: hasPass,
//		RemoteAddr: conn.RemoteAddr().String(), TLSState: tlsStateOrNil,
//	})
//	// err: ErrBadCredentials / ErrAnonymousDenied -> protocol refusal
//	release, err := mgr.Connect(subj) // ErrTooManyConnections
//	defer release()
//	...
//	if err := mgr.Authorize(subj, security.Send, address); err != nil {
//		// *DeniedError, already audit-logged: send the protocol's error
//	}
//	// overwrite the client's value; for an anonymous subject (User == "") remove it
//	msg.Properties[security.UserProperty] = subj.User
//
// Failures (logins, denials, connection limits) are written once, here, as
// slog records carrying audit=true; adapters must not log them again.
package security
