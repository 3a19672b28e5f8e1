package security

import (
	"cmp"
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/junctionmq/junction/core/wildcard"
)

// Authorize reports whether s may perform action on address, returning nil
// or a *DeniedError (errors.Is(err, ErrDenied)). A denial is audit-logged
// here, once, with the subject's remote address; adapters only translate
// the error. With no permissions configured everything is allowed.
//
// The most specific pattern matching address decides alone (see Config).
// A pattern with no wildcard is an exact address and always beats a
// wildcard pattern matching the same address. An address containing
// wildcard words (a wildcard subscription such as "orders.#") is allowed
// only if every address it can match would be: some pattern must cover it
// entirely, and each pattern that could be the deciding one for part of it
// must grant the action. That errs on the side of denying.
//
// After the first call for an address, Authorize costs a map lookup and a
// few bit operations and does not allocate.
func (m *Manager) Authorize(s *Subject, action Action, address string) error {
	if m.Allowed(s, action, address) {
		return nil
	}
	err := &DeniedError{Action: action, Address: address}
	remote := ""
	if s != nil {
		err.User, err.Anonymous, remote = s.User, s.Anonymous, s.RemoteAddr
	} else {
		err.Anonymous = true
	}
	m.audit.LogAttrs(context.Background(), slog.LevelWarn, "authorization denied",
		slog.String("user", err.User), slog.Bool("anonymous", err.Anonymous),
		slog.String("remote", remote), slog.String("action", action.String()),
		slog.String("address", address))
	return err
}

// Allowed is Authorize without the error and the audit line, for callers
// that probe rather than act (e.g. filtering what a browser may list).
func (m *Manager) Allowed(s *Subject, action Action, address string) bool {
	pt := m.perms
	if pt == nil {
		return true
	}
	if s == nil || action >= numActions {
		return false
	}
	r := pt.resolve(address)
	if len(r.entries) == 0 {
		return false
	}
	mask := m.maskFor(s, pt)
	for _, e := range r.entries {
		row := e.bits[int(action)*pt.words : int(action+1)*pt.words]
		granted := false
		for i, w := range row {
			if w&mask[i] != 0 {
				granted = true
				break
			}
		}
		if !granted {
			return false
		}
	}
	return true
}

// roleMask is a subject's roles as a bit set over the permission table's
// role numbering, valid for one snapshot of the users file (and one
// Manager: a subject may outlive a configuration reload).
type roleMask struct {
	users *userSet
	pt    *permTable
	bits  []uint64
}

func (m *Manager) maskFor(s *Subject, pt *permTable) []uint64 {
	users := m.users.Load()
	if rm := s.mask.Load(); rm != nil && rm.users == users && rm.pt == pt {
		return rm.bits
	}
	roles := s.Roles
	if s.fromUsers {
		roles = nil // a user removed from the file keeps no permission
		if u := users.byName[s.User]; u != nil {
			roles = u.roles
		}
	}
	bits := make([]uint64, pt.words)
	for _, r := range roles {
		if i, ok := pt.roleIdx[r]; ok {
			bits[i/64] |= 1 << (i % 64)
		}
	}
	s.mask.Store(&roleMask{users: users, pt: pt, bits: bits})
	return bits
}

// permTable is the compiled `permissions:` section.
type permTable struct {
	entries []*permEntry // most specific first
	roleIdx map[string]int
	words   int // uint64 words per role bit set

	cache   addrCache
	deniedR *resolved
}

type permEntry struct {
	pattern string   // normalized
	words   []string // pattern split on '.'
	exact   bool     // no wildcard word
	bits    []uint64 // numActions rows of words role bits
}

// resolved is what an address maps to: the entries that must all grant the
// action (one for a plain address); none means the address is denied.
type resolved struct {
	entries []*permEntry
}

// addrCache maps addresses to their resolved permissions. It is a fixed
// array of atomically swapped pointers to immutable entries, probed
// linearly over a short window: lookups take no lock and do not allocate,
// concurrent readers never contend, and the memory is bounded because a
// full window simply overwrites one of its entries (it is a cache: the
// evicted address is recomputed if it comes back). sync.Map costs about
// three times as much per hit here, mostly hashing through interfaces.
type addrCache struct {
	seed  maphash.Seed
	slots [addrCacheSlots]atomic.Pointer[cacheEntry]
}

const (
	addrCacheSlots = 1 << 14 // entries held at most
	addrCacheProbe = 4
)

type cacheEntry struct {
	hash uint64
	addr string
	r    *resolved
}

func (c *addrCache) load(addr string) (*resolved, uint64) {
	h := maphash.String(c.seed, addr)
	for i := range uint64(addrCacheProbe) {
		e := c.slots[(h+i)&(addrCacheSlots-1)].Load()
		if e == nil {
			break
		}
		if e.hash == h && e.addr == addr {
			return e.r, h
		}
	}
	return nil, h
}

func (c *addrCache) store(h uint64, addr string, r *resolved) {
	// Clone: the caller's string may point into a large network buffer.
	e := &cacheEntry{hash: h, addr: strings.Clone(addr), r: r}
	for i := range uint64(addrCacheProbe) {
		if c.slots[(h+i)&(addrCacheSlots-1)].CompareAndSwap(nil, e) {
			return
		}
	}
	// Window full: evict one entry, chosen by the hash's high bits so that
	// colliding addresses do not keep evicting the same victim.
	c.slots[(h+(h>>60)%addrCacheProbe)&(addrCacheSlots-1)].Store(e)
}

func (c *addrCache) len() int {
	n := 0
	for i := range c.slots {
		if c.slots[i].Load() != nil {
			n++
		}
	}
	return n
}

func (c *addrCache) clear() {
	for i := range c.slots {
		c.slots[i].Store(nil)
	}
}

func compilePermissions(cfg map[string]map[string][]string) (*permTable, error) {
	pt := &permTable{roleIdx: make(map[string]int), deniedR: &resolved{}}
	pt.cache.seed = maphash.MakeSeed()
	for _, p := range slices.Sorted(mapKeys(cfg)) {
		for _, a := range slices.Sorted(mapKeys(cfg[p])) {
			for _, r := range cfg[p][a] {
				if _, ok := pt.roleIdx[r]; !ok {
					pt.roleIdx[r] = len(pt.roleIdx)
				}
			}
		}
	}
	pt.words = (len(pt.roleIdx) + 63) / 64
	for p, acts := range cfg {
		n := wildcard.Normalize(p)
		e := &permEntry{pattern: n, words: strings.Split(n, "."), exact: !wildcard.IsPattern(n), bits: make([]uint64, int(numActions)*pt.words)}
		for a, roles := range acts {
			act, err := ParseAction(a)
			if err != nil {
				return nil, fmt.Errorf("permissions %q: %w", p, err)
			}
			for _, r := range roles {
				i := pt.roleIdx[r]
				e.bits[int(act)*pt.words+i/64] |= 1 << (i % 64)
			}
		}
		pt.entries = append(pt.entries, e)
	}
	slices.SortFunc(pt.entries, func(a, b *permEntry) int {
		if c := specificity(b, a); c != 0 {
			return c
		}
		return cmp.Compare(a.pattern, b.pattern)
	})
	return pt, nil
}

// specificity orders entries: exact addresses first, then wildcard.Compare.
func specificity(a, b *permEntry) int {
	switch {
	case a.exact && !b.exact:
		return 1
	case !a.exact && b.exact:
		return -1
	}
	return wildcard.Compare(a.pattern, b.pattern)
}

func (pt *permTable) resolve(address string) *resolved {
	r, h := pt.cache.load(address)
	if r == nil {
		r = pt.compute(address)
		pt.cache.store(h, address, r)
	}
	return r
}

func (pt *permTable) compute(address string) *resolved {
	words := strings.Split(wildcard.Normalize(address), ".")
	if !hasWildcard(words) {
		for _, e := range pt.entries {
			if matchWords(e.words, words) {
				return &resolved{entries: []*permEntry{e}}
			}
		}
		return pt.deniedR
	}
	var cover *permEntry
	for _, e := range pt.entries {
		if covers(e.words, words) {
			cover = e
			break
		}
	}
	if cover == nil {
		return pt.deniedR
	}
	r := &resolved{}
	for _, e := range pt.entries {
		if specificity(e, cover) >= 0 && overlaps(e.words, words) {
			r.entries = append(r.entries, e)
		}
	}
	return r
}

func hasWildcard(words []string) bool {
	for _, w := range words {
		if w == wildcard.AnyWord || w == wildcard.AnyWords {
			return true
		}
	}
	return false
}

// matchWords reports whether the plain address words match pattern pat. It
// is wildcard.Match on pre-split words, written as the classic glob matcher
// that backtracks only to the last `#`, so it runs in O(len(pat)·len(words))
// even for hostile addresses.
func matchWords(pat, words []string) bool {
	p, w := 0, 0
	star, starW := -1, 0
	for w < len(words) {
		switch {
		case p < len(pat) && pat[p] == wildcard.AnyWords:
			star, starW = p, w
			p++
		case p < len(pat) && (pat[p] == wildcard.AnyWord || pat[p] == words[w]):
			p++
			w++
		case star >= 0:
			p = star + 1
			starW++
			w = starW
		default:
			return false
		}
	}
	for p < len(pat) && pat[p] == wildcard.AnyWords {
		p++
	}
	return p == len(pat)
}

// overlaps reports whether some address matches both patterns.
func overlaps(a, b []string) bool {
	memo := make([]int8, (len(a)+1)*(len(b)+1))
	var rec func(i, j int) bool
	rec = func(i, j int) bool {
		k := i*(len(b)+1) + j
		if memo[k] != 0 {
			return memo[k] > 0
		}
		var ok bool
		switch {
		case i < len(a) && a[i] == wildcard.AnyWords:
			ok = rec(i+1, j) || (j < len(b) && rec(i, j+1))
		case j < len(b) && b[j] == wildcard.AnyWords:
			ok = rec(i, j+1) || (i < len(a) && rec(i+1, j))
		case i == len(a) || j == len(b):
			ok = i == len(a) && j == len(b)
		default:
			ok = (a[i] == wildcard.AnyWord || b[j] == wildcard.AnyWord || a[i] == b[j]) && rec(i+1, j+1)
		}
		memo[k] = -1
		if ok {
			memo[k] = 1
		}
		return ok
	}
	return rec(0, 0)
}

// covers reports whether pattern p matches every address pattern s
// matches. It may answer false for some exotic pairs where the answer is
// true (e.g. "#.*" covers "*.#"); Authorize then denies, which is safe.
func covers(p, s []string) bool {
	memo := make([]int8, (len(p)+1)*(len(s)+1))
	var rec func(i, j int) bool
	rec = func(i, j int) bool {
		k := i*(len(s)+1) + j
		if memo[k] != 0 {
			return memo[k] > 0
		}
		var ok bool
		switch {
		case i == len(p):
			ok = j == len(s)
		case p[i] == wildcard.AnyWords:
			ok = rec(i+1, j) || (j < len(s) && rec(i, j+1))
		case j == len(s):
			ok = false
		case p[i] == wildcard.AnyWord:
			ok = s[j] != wildcard.AnyWords && rec(i+1, j+1)
		default:
			ok = p[i] == s[j] && rec(i+1, j+1)
		}
		memo[k] = -1
		if ok {
			memo[k] = 1
		}
		return ok
	}
	return rec(0, 0)
}
