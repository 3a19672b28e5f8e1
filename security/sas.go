package security

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Shared Access Signature tokens, as Azure Service Bus and Event Hubs
// clients make them from a connection string's SharedAccessKeyName and
// SharedAccessKey:
//
//	SharedAccessSignature sr=<url-encoded resource>&sig=<url-encoded base64 HMAC>&se=<unix seconds>&skn=<key name>
//
// The signature is HMAC-SHA256, keyed by the shared access key (its text,
// as the clients use it), over the sr value as it appears in the token, a
// newline, and the se value. Junction's key name is a user name: a user
// with a sas-key in the users file may log in with tokens signed by it.

// MinSASKeyLen is the shortest sas-key the users file accepts: a token is
// an offline oracle for its key, so a short key would be guessable.
const MinSASKeyLen = 16

// sasPrefix starts every SAS token.
const sasPrefix = "SharedAccessSignature "

// maxSASTokenLen bounds what is parsed: tokens are a few hundred bytes.
const maxSASTokenLen = 4096

// SASToken is a parsed SAS token.
type SASToken struct {
	// Resource is the decoded resource URI (sr) the token grants access to.
	Resource string
	// KeyName is skn: the user whose key signed the token.
	KeyName string
	// Expiry is se.
	Expiry time.Time

	rawResource, rawExpiry string
	sig                    []byte
}

// ParseSASToken parses a token without checking its signature.
func ParseSASToken(token string) (SASToken, error) {
	var t SASToken
	if len(token) > maxSASTokenLen {
		return t, fmt.Errorf("SAS token longer than %d bytes", maxSASTokenLen)
	}
	rest, ok := strings.CutPrefix(token, sasPrefix)
	if !ok {
		return t, errors.New("not a SAS token: it must start with \"SharedAccessSignature \"")
	}
	var sig string
	seen := map[string]bool{}
	for field := range strings.SplitSeq(rest, "&") {
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			return t, fmt.Errorf("SAS token field %q has no value", field)
		}
		if seen[k] {
			return t, fmt.Errorf("SAS token field %q appears twice", k)
		}
		seen[k] = true
		switch k {
		case "sr":
			t.rawResource = v
		case "sig":
			sig = v
		case "se":
			t.rawExpiry = v
		case "skn":
			name, err := url.QueryUnescape(v)
			if err != nil {
				return t, fmt.Errorf("SAS token skn: %w", err)
			}
			t.KeyName = name
		}
	}
	if t.rawResource == "" || sig == "" || t.rawExpiry == "" || t.KeyName == "" {
		return t, errors.New("SAS token needs sr, sig, se and skn")
	}
	res, err := url.QueryUnescape(t.rawResource)
	if err != nil {
		return t, fmt.Errorf("SAS token sr: %w", err)
	}
	t.Resource = res
	se, err := strconv.ParseInt(t.rawExpiry, 10, 64)
	if err != nil || se <= 0 {
		return t, fmt.Errorf("SAS token se %q is not a positive number of seconds", t.rawExpiry)
	}
	t.Expiry = time.Unix(se, 0)
	s, err := url.QueryUnescape(sig)
	if err != nil {
		return t, fmt.Errorf("SAS token sig: %w", err)
	}
	if t.sig, err = base64.StdEncoding.DecodeString(s); err != nil {
		return t, fmt.Errorf("SAS token sig is not base64: %w", err)
	}
	return t, nil
}

// signSAS is the HMAC of a token's resource and expiry under key.
func signSAS(key []byte, rawResource, rawExpiry string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(rawResource))
	h.Write([]byte{'\n'})
	h.Write([]byte(rawExpiry))
	return h.Sum(nil)
}

// SignSAS makes a token for resource, signed with keyName's key, as the
// Azure SDKs do (the resource is lower-cased and URL-encoded).
func SignSAS(resource, keyName, key string, expiry time.Time) string {
	sr := strings.ToLower(url.QueryEscape(resource))
	se := strconv.FormatInt(expiry.Unix(), 10)
	sig := base64.StdEncoding.EncodeToString(signSAS([]byte(key), sr, se))
	return sasPrefix + "sr=" + sr + "&sig=" + url.QueryEscape(sig) + "&se=" + se + "&skn=" + keyName
}

// Covers reports whether the token's resource grants access to audience:
// equal, or a prefix ending at a path separator (case-insensitive, as the
// SDKs lower-case the resource).
func (t SASToken) Covers(audience string) bool {
	r, a := strings.ToLower(strings.TrimSuffix(t.Resource, "/")), strings.ToLower(audience)
	return a == r || strings.HasPrefix(a, r+"/")
}

// SASEnabled reports whether some user has a sas-key, i.e. whether SAS
// tokens can log anyone in.
func (m *Manager) SASEnabled() bool {
	if m.usersPath == "" {
		return false
	}
	return m.users.Load().sas
}

// AuthenticateSAS checks a SAS token presented for audience and returns
// the subject of the user named by its key name. Errors are
// ErrBadCredentials (malformed token, unknown user, a user without a
// sas-key, a wrong signature, an audience the token does not cover) and
// ErrTokenExpired; failures are audit-logged and throttled like password
// logins. c gives the remote address and TLS state; its user name and
// password are not used.
//
// Without a users file nobody is authenticated: the subject is anonymous,
// as for Authenticate.
func (m *Manager) AuthenticateSAS(ctx context.Context, token, audience string, c Credentials) (*Subject, error) {
	if m.usersPath == "" {
		return m.anonymousSubject(c), nil
	}
	key := throttleKey(c.RemoteAddr)
	if d := m.throttle.delay(key); d > 0 {
		if err := m.clock.Sleep(ctx, d); err != nil {
			return nil, err
		}
	}
	fail := func(user, reason string, err error) (*Subject, error) {
		m.throttle.fail(key)
		m.auditLogin(c, user, "SAS token: "+reason)
		return nil, err
	}
	t, err := ParseSASToken(token)
	if err != nil {
		return fail("", err.Error(), ErrBadCredentials)
	}
	u := m.users.Load().byName[t.KeyName]
	if u == nil || u.sasKey == nil {
		// The same cost and answer as a wrong signature.
		signSAS(t.sig, t.rawResource, t.rawExpiry)
		reason := "unknown user"
		if u != nil {
			reason = "user has no sas-key"
		}
		return fail(t.KeyName, reason, ErrBadCredentials)
	}
	if !hmac.Equal(signSAS(u.sasKey, t.rawResource, t.rawExpiry), t.sig) {
		return fail(t.KeyName, "wrong signature", ErrBadCredentials)
	}
	if !t.Expiry.After(m.clock.Now()) {
		return fail(t.KeyName, "expired at "+t.Expiry.UTC().Format(time.RFC3339), ErrTokenExpired)
	}
	if audience != "" && !t.Covers(audience) {
		return fail(t.KeyName, fmt.Sprintf("resource %q does not cover %q", t.Resource, audience), ErrBadCredentials)
	}
	return m.userSubject(u, c), nil
}
