package wildcard

import "strings"

// Trie indexes values by pattern so that finding every pattern matching an
// address costs time proportional to the address's words, not to the number of
// patterns. It is not safe for concurrent use; callers hold their own lock.
type Trie[T comparable] struct {
	root node[T]
	n    int
}

type node[T comparable] struct {
	children map[string]*node[T]
	values   []T
}

// Len returns the number of (pattern, value) pairs stored.
func (t *Trie[T]) Len() int { return t.n }

// Add stores v under pattern. Adding the same pair twice stores it twice.
func (t *Trie[T]) Add(pattern string, v T) {
	n := &t.root
	for w := range strings.SplitSeq(Normalize(pattern), ".") {
		if n.children == nil {
			n.children = make(map[string]*node[T])
		}
		c := n.children[w]
		if c == nil {
			c = &node[T]{}
			n.children[w] = c
		}
		n = c
	}
	n.values = append(n.values, v)
	t.n++
}

// Remove deletes one (pattern, v) pair and prunes empty nodes. It reports
// whether the pair was present.
func (t *Trie[T]) Remove(pattern string, v T) bool {
	words := strings.Split(Normalize(pattern), ".")
	if t.remove(&t.root, words, v) {
		t.n--
		return true
	}
	return false
}

func (t *Trie[T]) remove(n *node[T], words []string, v T) bool {
	if len(words) == 0 {
		for i, x := range n.values {
			if x == v {
				n.values = append(n.values[:i], n.values[i+1:]...)
				return true
			}
		}
		return false
	}
	c := n.children[words[0]]
	if c == nil {
		return false
	}
	ok := t.remove(c, words[1:], v)
	if ok && len(c.values) == 0 && len(c.children) == 0 {
		delete(n.children, words[0])
	}
	return ok
}

// Match calls fn for every value whose pattern matches name. A value stored
// under several matching patterns is reported once per pattern.
func (t *Trie[T]) Match(name string, fn func(T)) {
	t.root.match(name, false, fn)
}

// match walks name (the words not yet consumed). done is true when every word
// of the name has been consumed, which differs from name=="" only for the
// empty address itself.
func (n *node[T]) match(name string, done bool, fn func(T)) {
	if done {
		for _, v := range n.values {
			fn(v)
		}
		// A trailing `#` matches zero further words.
		if c := n.children[AnyWords]; c != nil {
			c.match("", true, fn)
		}
		return
	}
	word, rest, more := strings.Cut(name, ".")
	if c := n.children[word]; c != nil {
		c.match(rest, !more, fn)
	}
	if word != AnyWord {
		if c := n.children[AnyWord]; c != nil {
			c.match(rest, !more, fn)
		}
	}
	if c := n.children[AnyWords]; c != nil {
		// `#` consumes zero words, then one more at a time until the name is done.
		r, d := name, false
		for {
			c.match(r, d, fn)
			if d {
				break
			}
			_, r2, m := strings.Cut(r, ".")
			r, d = r2, !m
		}
	}
}
