package security

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/junctionmq/junction/core/wildcard"
)

var testPermissions = map[string]map[string][]string{
	"#": {
		"send": {"admin"}, "consume": {"admin"}, "browse": {"admin"}, "manage": {"admin"},
		"createAddress": {"admin"}, "createDurableQueue": {"admin"}, "createNonDurableQueue": {"admin"},
	},
	"orders.#": {
		"send": {"clerk", "admin"}, "consume": {"clerk", "admin"}, "createNonDurableQueue": {"clerk", "admin"},
	},
	"orders.eu.*":    {"send": {"eu"}, "consume": {"eu", "clerk"}},
	"orders.eu.vip":  {"consume": {"vip"}},
	"orders.*.audit": {"browse": {"auditor"}},
	"metrics.>":      {"send": {"sensor"}},
	"a.b":            {"send": {"exact"}},
	"a.b.#":          {"send": {"deep"}},
}

func newAuthzManager(t testing.TB, perms map[string]map[string][]string) *Manager {
	t.Helper()
	m, err := New(Config{Permissions: perms}, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAuthorizeMostSpecificWins(t *testing.T) {
	m := newAuthzManager(t, testPermissions)
	tests := []struct {
		roles   []string
		action  Action
		address string
		want    bool
	}{
		{[]string{"admin"}, Send, "other.x", true},
		{[]string{"admin"}, Send, "orders.new", true},
		// no inheritance: orders.# does not list manage, so "#" granting it is irrelevant
		{[]string{"admin"}, Manage, "orders.new", false},
		{[]string{"admin"}, CreateDurableQueue, "orders.new", false},
		{[]string{"admin"}, Manage, "other", true},
		{[]string{"clerk"}, Send, "orders.new", true},
		{[]string{"clerk"}, Send, "orders", true}, // # matches zero words
		{[]string{"clerk"}, Send, "other", false},
		{[]string{"clerk"}, Send, "ordersx", false},
		{[]string{"clerk"}, CreateNonDurableQueue, "orders.a.b.c", true},
		{[]string{"clerk"}, DeleteNonDurableQueue, "orders.a", false},
		// orders.eu.* is more specific than orders.#: send only for eu
		{[]string{"clerk"}, Send, "orders.eu.1", false},
		{[]string{"clerk"}, Consume, "orders.eu.1", true},
		{[]string{"eu"}, Send, "orders.eu.1", true},
		{[]string{"eu"}, Send, "orders.eu.1.x", false}, // * is one word: back to orders.#
		{[]string{"clerk", "eu"}, Send, "orders.eu.1", true},
		// exact address beats every pattern
		{[]string{"vip"}, Consume, "orders.eu.vip", true},
		{[]string{"clerk"}, Consume, "orders.eu.vip", false},
		{[]string{"eu"}, Consume, "orders.eu.vip", false},
		// orders.*.audit beats orders.# (a * before a #), but orders.eu.* beats it
		{[]string{"auditor"}, Browse, "orders.us.audit", true},
		{[]string{"clerk"}, Consume, "orders.us.audit", false},
		{[]string{"auditor"}, Browse, "orders.eu.audit", false},
		// ">" is the alias of "#"
		{[]string{"sensor"}, Send, "metrics.a.b", true},
		{[]string{"sensor"}, Send, "metrics", true},
		{[]string{"sensor"}, Consume, "metrics.a", false},
		// an exact address beats a longer pattern matching it (wildcard.Compare alone would not)
		{[]string{"exact"}, Send, "a.b", true},
		{[]string{"deep"}, Send, "a.b", false},
		{[]string{"deep"}, Send, "a.b.c", true},
		{[]string{"exact"}, Send, "a.b.c", false},
		{nil, Send, "orders.new", false},
		{[]string{"nobody"}, Send, "orders.new", false},
		{[]string{"admin"}, Action(200), "other", false},
		{[]string{"admin"}, Send, "", true}, // "#" matches even the empty address
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%v/%s/%s", tc.roles, tc.action, tc.address), func(t *testing.T) {
			s := &Subject{User: "u", Roles: tc.roles}
			for range 2 { // second round is served from the cache
				err := m.Authorize(s, tc.action, tc.address)
				if got := err == nil; got != tc.want {
					t.Fatalf("Authorize = %v, want allowed=%v", err, tc.want)
				}
				if got := m.Allowed(s, tc.action, tc.address); got != tc.want {
					t.Fatalf("Allowed = %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestAuthorizeWildcardSubscriptions(t *testing.T) {
	m := newAuthzManager(t, testPermissions)
	tests := []struct {
		roles   []string
		address string
		want    bool
	}{
		// orders.# would reach orders.eu.vip, which clerk may not consume
		{[]string{"clerk"}, "orders.#", false},
		{[]string{"clerk", "vip", "auditor"}, "orders.#", false}, // orders.*.audit grants no consume
		{[]string{"clerk"}, "orders.us.x.*", true},
		{[]string{"clerk"}, "orders.us.*", false}, // reaches orders.us.audit
		{[]string{"eu"}, "orders.eu.*", false},    // reaches orders.eu.vip
		{[]string{"eu", "vip"}, "orders.eu.*", true},
		{[]string{"eu", "vip"}, "orders.eu.>", false}, // reaches orders.eu (orders.#: no eu)
		// admin: "#" reaches orders.eu.1, where only eu and clerk consume
		{[]string{"admin"}, "#", false},
		{[]string{"admin"}, "other.#", true},
		{[]string{"admin"}, "*.x", false},
		// the subscription "orders.*" matched as a plain name would hit orders.eu.* ... must not
		{[]string{"clerk"}, "orders.*.*", false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%v/%s", tc.roles, tc.address), func(t *testing.T) {
			s := &Subject{User: "u", Roles: tc.roles}
			if got := m.Allowed(s, Consume, tc.address); got != tc.want {
				t.Fatalf("Allowed(consume, %q) = %v, want %v", tc.address, got, tc.want)
			}
		})
	}
}

func TestAuthorizeUnmatchedAddressDenied(t *testing.T) {
	m := newAuthzManager(t, map[string]map[string][]string{
		"x.a":      {"consume": {"r"}},
		"orders.*": {"send": {"r"}},
	})
	s := &Subject{User: "u", Roles: []string{"r"}}
	for _, tc := range []struct {
		action  Action
		address string
		want    bool
	}{
		{Consume, "x.a", true},
		{Consume, "x.b", false},
		{Consume, "x.*", false}, // only x.a is covered
		{Send, "orders.1", true},
		{Send, "orders", false},
		{Send, "orders.1.2", false},
		{Send, "orders.*", true},
		{Send, "orders.#", false}, // reaches "orders" and deeper names
	} {
		if got := m.Allowed(s, tc.action, tc.address); got != tc.want {
			t.Errorf("Allowed(%s, %q) = %v, want %v", tc.action, tc.address, got, tc.want)
		}
	}
}

func TestAuthorizationOff(t *testing.T) {
	for _, cfg := range []func(t *testing.T) (Config, string){
		func(t *testing.T) (Config, string) { return Config{}, t.TempDir() },
		func(t *testing.T) (Config, string) {
			dir := t.TempDir()
			writeUsers(t, dir, testUser{name: "bob", password: "pw", roles: []string{"x"}})
			return Config{UsersFile: "users.yaml"}, dir
		},
	} {
		c, dir := cfg(t)
		m, err := New(c, dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		if m.AuthorizationEnabled() {
			t.Fatal("AuthorizationEnabled with no permissions")
		}
		for _, a := range Actions() {
			if err := m.Authorize(&Subject{User: "bob"}, a, "any.thing"); err != nil {
				t.Errorf("%s: %v", a, err)
			}
		}
	}
}

func TestDeniedErrorAndAudit(t *testing.T) {
	logger, logs := testLogger()
	m, err := New(Config{Permissions: testPermissions}, t.TempDir(), logger)
	if err != nil {
		t.Fatal(err)
	}
	s := &Subject{User: "bob", Roles: []string{"clerk"}, RemoteAddr: "10.0.0.7:5555"}
	err = m.Authorize(s, Send, "orders.eu.new")
	var de *DeniedError
	if !errors.As(err, &de) || !errors.Is(err, ErrDenied) {
		t.Fatalf("want *DeniedError matching ErrDenied, got %v", err)
	}
	if want := "user 'bob' lacks permission 'send' on address 'orders.eu.new'"; err.Error() != want {
		t.Fatalf("message %q, want %q", err.Error(), want)
	}
	if de.User != "bob" || de.Action != Send || de.Address != "orders.eu.new" {
		t.Fatalf("fields %+v", de)
	}
	recs := logs.records(t, "authorization denied")
	if len(recs) != 1 {
		t.Fatalf("%d audit lines, want 1: %s", len(recs), logs)
	}
	r := recs[0]
	if r["audit"] != true || r["user"] != "bob" || r["remote"] != "10.0.0.7:5555" || r["action"] != "send" || r["address"] != "orders.eu.new" {
		t.Fatalf("audit line %v", r)
	}
	// Allowed probes do not log.
	m.Allowed(s, Send, "orders.eu.new")
	if n := len(logs.records(t, "authorization denied")); n != 1 {
		t.Fatalf("Allowed logged: %d lines", n)
	}
	anon := &Subject{Anonymous: true, Roles: []string{"guest"}}
	if err := m.Authorize(anon, Browse, "q"); err == nil || err.Error() != "anonymous user lacks permission 'browse' on address 'q'" {
		t.Fatalf("anonymous denial: %v", err)
	}
	if err := m.Authorize(nil, Send, "q"); !errors.Is(err, ErrDenied) {
		t.Fatalf("nil subject: %v", err)
	}
}

func TestAuthorizeFollowsUsersFileReload(t *testing.T) {
	dir := t.TempDir()
	writeUsers(t, dir, testUser{name: "bob", password: "pw", roles: []string{"clerk"}})
	m, err := New(Config{UsersFile: "users.yaml", Permissions: testPermissions}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := m.Authenticate(t.Context(), Credentials{Username: "bob", Password: "pw", HasPassword: true})
	if err != nil {
		t.Fatal(err)
	}
	handMade := &Subject{User: "bob", Roles: []string{"clerk"}}
	steps := []struct {
		users      []testUser
		bobAllowed bool
	}{
		{[]testUser{{name: "bob", password: "pw", roles: []string{"clerk"}}}, true},
		{[]testUser{{name: "bob", password: "pw", roles: []string{"sensor"}}}, false},
		{[]testUser{{name: "bob", password: "pw", roles: []string{"sensor", "clerk"}}}, true},
		{[]testUser{{name: "alice", password: "pw", roles: []string{"clerk"}}}, false}, // bob removed
	}
	for i, st := range steps {
		writeUsers(t, dir, st.users...)
		if err := m.Reload(); err != nil {
			t.Fatal(err)
		}
		if got := m.Allowed(bob, Send, "orders.x"); got != st.bobAllowed {
			t.Errorf("step %d: bob allowed = %v, want %v", i, got, st.bobAllowed)
		}
		// A subject not made by Authenticate keeps its own roles.
		if !m.Allowed(handMade, Send, "orders.x") {
			t.Errorf("step %d: hand-made subject denied", i)
		}
	}
}

func TestReloadKeepsUsersOnBadFile(t *testing.T) {
	dir := t.TempDir()
	path := writeUsers(t, dir, testUser{name: "bob", password: "pw", roles: []string{"clerk"}})
	m, err := New(Config{UsersFile: "users.yaml"}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("users:\n  - name: bob\n    password: clear-text\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err = m.Reload()
	if err == nil || strings.Contains(err.Error(), "clear-text") {
		t.Fatalf("Reload error %v: want an error that does not repeat the password", err)
	}
	if _, err := m.Authenticate(t.Context(), Credentials{Username: "bob", Password: "pw", HasPassword: true}); err != nil {
		t.Fatalf("previous users lost: %v", err)
	}
}

// matchWords must agree with the wildcard package it mirrors.
func TestMatchWordsAgreesWithWildcard(t *testing.T) {
	pats := []string{"#", "*", "a", "a.#", "a.*", "#.a", "*.a", "a.#.b", "#.a.#", "a.*.#", "#.*.#", "a.b.c", "*.*", "#.#", ">", "a.>"}
	names := []string{"", "a", "b", "a.b", "a.a", "b.a", "a.b.c", "a.x.b", "a.x.y.b", "x.a.y", "a.b.a.b", "x"}
	for _, p := range pats {
		for _, n := range names {
			want := wildcard.Match(p, n)
			got := matchWords(strings.Split(wildcard.Normalize(p), "."), strings.Split(n, "."))
			if got != want {
				t.Errorf("matchWords(%q, %q) = %v, wildcard.Match = %v", p, n, got, want)
			}
		}
	}
}

// checkPatternRelations verifies overlaps exactly and covers for soundness
// against brute-force enumeration of short names.
func checkPatternRelations(t *testing.T, a, b []string) {
	t.Helper()
	alphabet := map[string]bool{"z": true}
	for _, w := range append(append([]string{}, a...), b...) {
		if w != "*" && w != "#" {
			alphabet[w] = true
		}
	}
	var letters []string
	for w := range alphabet {
		letters = append(letters, w)
	}
	// A shortest common witness needs at most one word per non-# word of
	// the two patterns; enumerate that far when affordable.
	need := 0
	for _, w := range append(append([]string{}, a...), b...) {
		if w != "#" {
			need++
		}
	}
	maxLen, total := 0, 1
	for maxLen < need+1 && total*len(letters) <= 200_000 {
		maxLen++
		total *= len(letters)
	}
	both, aNotB := false, false
	var walk func(name []string)
	walk = func(name []string) {
		ma, mb := matchWords(a, name), matchWords(b, name)
		both = both || (ma && mb)
		aNotB = aNotB || (mb && !ma) // name matched by s=b but not by p=a
		if len(name) == maxLen {
			return
		}
		for _, l := range letters {
			walk(append(name, l))
		}
	}
	for _, l := range letters {
		walk([]string{l})
	}
	got := overlaps(a, b)
	if (!got && both) || (got && !both && maxLen >= need) {
		// A "true" without a witness is only excusable when we could not
		// enumerate names long enough to find it.
		t.Errorf("overlaps(%q, %q) = %v, enumeration says %v", a, b, got, both)
	}
	if covers(a, b) && aNotB {
		t.Errorf("covers(%q, %q) = true, but a name matched by the second is not matched by the first", a, b)
	}
}

func TestPatternRelationsRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"a", "b", "*", "#"}
	gen := func() []string {
		n := 1 + r.IntN(3)
		out := make([]string, n)
		for i := range out {
			out[i] = words[r.IntN(len(words))]
		}
		return out
	}
	for range 400 {
		checkPatternRelations(t, gen(), gen())
	}
	// hand-picked
	for _, pr := range [][2]string{{"orders.#", "orders.eu.*"}, {"#", "a"}, {"a.*", "*.b"}, {"#.x.#", "#.y.#"}, {"a.#", "a.#"}, {"#.*", "*.#"}} {
		checkPatternRelations(t, strings.Split(pr[0], "."), strings.Split(pr[1], "."))
	}
}

func FuzzPatternRelations(f *testing.F) {
	f.Add("orders.#", "orders.eu.*")
	f.Add("#.a", "a.#.b")
	f.Add("*.*", "#")
	f.Fuzz(func(t *testing.T, a, b string) {
		pa, pb := strings.Split(wildcard.Normalize(a), "."), strings.Split(wildcard.Normalize(b), ".")
		if len(pa) > 4 || len(pb) > 4 {
			return
		}
		checkPatternRelations(t, pa, pb)
		// and matchWords must never disagree with wildcard.Match on plain names
		if !hasWildcard(pb) {
			if got, want := matchWords(pa, pb), wildcard.Match(a, b); got != want {
				t.Fatalf("matchWords(%q, %q) = %v, wildcard.Match = %v", a, b, got, want)
			}
		}
	})
}

func TestAuthorizeCacheBounded(t *testing.T) {
	m := newAuthzManager(t, testPermissions)
	s := &Subject{User: "u", Roles: []string{"admin"}}
	for i := range addrCacheSlots + 100 {
		if err := m.Authorize(s, Send, fmt.Sprintf("other.%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := m.perms.cache.len(); n > addrCacheSlots || n < addrCacheSlots/2 {
		t.Fatalf("cache holds %d entries, bound is %d", n, addrCacheSlots)
	}
	// Evicted or not, every address still resolves correctly.
	for i := range addrCacheSlots + 100 {
		if !m.Allowed(s, Send, fmt.Sprintf("other.%d", i)) || m.Allowed(s, Manage, fmt.Sprintf("orders.%d", i)) {
			t.Fatalf("wrong answer for address %d after eviction", i)
		}
	}
}

func TestAuthorizeHitDoesNotAllocate(t *testing.T) {
	m := newAuthzManager(t, testPermissions)
	s := &Subject{User: "u", Roles: []string{"clerk"}}
	_ = m.Authorize(s, Send, "orders.new")
	if n := testing.AllocsPerRun(1000, func() { _ = m.Authorize(s, Send, "orders.new") }); n != 0 {
		t.Fatalf("Authorize allocates %v times per call on a cache hit", n)
	}
}

// TestUsersChangedAndLoginValid: OnUsersChanged callbacks run after each
// successful reload only, with the new users in force, and LoginValid
// fails for a subject whose user left the file.
func TestUsersChangedAndLoginValid(t *testing.T) {
	dir := t.TempDir()
	writeUsers(t, dir, testUser{name: "bob", password: "pw", roles: []string{"clerk"}})
	m, err := New(Config{UsersFile: "users.yaml", Permissions: testPermissions}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	bob, err := m.Authenticate(t.Context(), Credentials{Username: "bob", Password: "pw", HasPassword: true})
	if err != nil {
		t.Fatal(err)
	}
	var calls int
	var validThen error
	m.OnUsersChanged(func() { calls++; validThen = m.LoginValid(bob) })
	if err := m.LoginValid(bob); err != nil {
		t.Fatalf("bob before any change: %v", err)
	}
	if err := m.LoginValid(&Subject{Anonymous: true}); err != nil {
		t.Fatalf("anonymous: %v", err)
	}

	writeUsers(t, dir, testUser{name: "alice", password: "pw", roles: []string{"clerk"}})
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	if calls != 1 || !errors.Is(validThen, ErrUserRemoved) {
		t.Fatalf("after removing bob: %d calls, LoginValid in the callback %v", calls, validThen)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.yaml"), []byte("users: [oops"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := m.Reload(); err == nil {
		t.Fatal("a broken users file reloaded")
	}
	if calls != 1 {
		t.Fatalf("a failed reload ran the callbacks (%d calls)", calls)
	}
}
