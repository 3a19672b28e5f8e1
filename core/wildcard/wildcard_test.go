package wildcard

import (
	"slices"
	"testing"
)

var matchCases = []struct {
	pattern, name string
	want          bool
}{
	{"a.b.c", "a.b.c", true},
	{"a.b.c", "a.b", false},
	{"a.b", "a.b.c", false},
	{"a.*.c", "a.b.c", true},
	{"a.*.c", "a.c", false},
	{"a.*", "a.b", true},
	{"a.*", "a", false},
	{"a.*", "a.b.c", false},
	{"a.#", "a", true},
	{"a.#", "a.b", true},
	{"a.#", "a.b.c.d", true},
	{"a.>", "a.b.c", true},
	{"#", "anything.at.all", true},
	{"#", "x", true},
	{"#.c", "a.b.c", true},
	{"#.c", "c", true},
	{"#.c", "a.b", false},
	{"a.#.c", "a.c", true},
	{"a.#.c", "a.x.y.c", true},
	{"a.#.c", "a.x.y.d", false},
	{"*.*", "a.b", true},
	{"*.*", "a", false},
	{"*", "a", true},
	{"*.#", "a", true},
	{"orders.#", "orders", true},
	{"orders.#", "ordersx", false},
	{"orders.#", "orders.eu.new", true},
}

func TestMatch(t *testing.T) {
	for _, c := range matchCases {
		if got := Match(c.pattern, c.name); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}

func TestTrieAgreesWithMatch(t *testing.T) {
	var tr Trie[int]
	for i, c := range matchCases {
		tr.Add(c.pattern, i)
	}
	names := []string{}
	for _, c := range matchCases {
		names = append(names, c.name)
	}
	for _, name := range names {
		var got []int
		tr.Match(name, func(i int) { got = append(got, i) })
		slices.Sort(got)
		got = slices.Compact(got)
		var want []int
		for i, c := range matchCases {
			if Match(c.pattern, name) {
				want = append(want, i)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("trie match %q = %v, want %v", name, got, want)
		}
	}
}

func TestTrieRemove(t *testing.T) {
	var tr Trie[string]
	tr.Add("a.*", "x")
	tr.Add("a.#", "y")
	if !tr.Remove("a.*", "x") || tr.Remove("a.*", "x") {
		t.Fatal("remove should succeed once")
	}
	var got []string
	tr.Match("a.b", func(s string) { got = append(got, s) })
	if !slices.Equal(got, []string{"y"}) || tr.Len() != 1 {
		t.Fatalf("got %v len %d", got, tr.Len())
	}
}

func TestCompare(t *testing.T) {
	cases := []struct {
		a, b string
		want int // sign
	}{
		{"orders.eu", "orders.#", 1},
		{"orders.*", "orders.#", 1},
		{"orders.#", "#", 1},
		{"orders.eu", "orders.*", 1},
		{"a.b.#", "a.#", 1},
		{"#", "#", 0},
		{"a.>", "a.#", 0},
		{"a.b", "a.b.#", 1},
	}
	for _, c := range cases {
		got := Compare(c.a, c.b)
		if sign(got) != c.want || sign(Compare(c.b, c.a)) != -c.want {
			t.Errorf("Compare(%q,%q)=%d want sign %d", c.a, c.b, got, c.want)
		}
	}
	if b, ok := Best([]string{"#", "orders.#", "orders.eu.*", "other"}, "orders.eu.new"); !ok || b != "orders.eu.*" {
		t.Fatalf("Best = %q %v", b, ok)
	}
}

func sign(i int) int {
	switch {
	case i > 0:
		return 1
	case i < 0:
		return -1
	}
	return 0
}

func TestIsPattern(t *testing.T) {
	if !IsPattern("a.*") || !IsPattern("a.>") || IsPattern("a.b") {
		t.Fatal("IsPattern")
	}
}
