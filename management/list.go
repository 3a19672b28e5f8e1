package management

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Paging limits: a console asks for a page, a script may ask for more, and
// nobody gets an unbounded answer from a broker with 100,000 queues.
const (
	defaultLimit = 50
	maxLimit     = 1000
)

// listParams are the paging, sorting and filtering of a list request.
type listParams struct {
	offset, limit int
	sort          string
	desc          bool
	filter        string // lower case
}

// ListResult is the envelope of every list answer.
type ListResult[T any] struct {
	Total  int `json:"total"`
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
	Items  []T `json:"items"`
}

func parseList(r *http.Request, sorts []string) (listParams, error) {
	q := r.URL.Query()
	p := listParams{limit: defaultLimit, sort: sorts[0]}
	var err error
	if s := q.Get("offset"); s != "" {
		if p.offset, err = strconv.Atoi(s); err != nil || p.offset < 0 {
			return p, badRequest("offset %q: want a number ≥ 0", s)
		}
	}
	if s := q.Get("limit"); s != "" {
		if p.limit, err = strconv.Atoi(s); err != nil || p.limit < 1 || p.limit > maxLimit {
			return p, badRequest("limit %q: want 1 to %d", s, maxLimit)
		}
	}
	if s := q.Get("sort"); s != "" {
		if !slices.Contains(sorts, s) {
			return p, badRequest("sort %q: want one of %s", s, strings.Join(sorts, ", "))
		}
		p.sort = s
	}
	switch q.Get("order") {
	case "", "asc":
	case "desc":
		p.desc = true
	default:
		return p, badRequest("order %q: want asc or desc", q.Get("order"))
	}
	p.filter = strings.ToLower(q.Get("filter"))
	return p, nil
}

// page sorts items by key (ties by name) and cuts the requested page. The
// keys are taken once and the items are not moved while sorting: a list of
// 10,000 queues is sorted as 10,000 small keys.
func page[T any](items []T, p listParams, name func(*T) string, key func(*T) any) ListResult[T] {
	type keyed struct {
		key  any
		name string
		i    int
	}
	ks := make([]keyed, len(items))
	for i := range items {
		ks[i] = keyed{key(&items[i]), name(&items[i]), i}
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		c := compareAny(a.key, b.key)
		if p.desc {
			c = -c
		}
		if c == 0 {
			c = strings.Compare(a.name, b.name)
		}
		return c
	})
	res := ListResult[T]{Total: len(items), Offset: p.offset, Limit: p.limit, Items: []T{}}
	for j := p.offset; j < len(ks) && j < p.offset+p.limit; j++ {
		res.Items = append(res.Items, items[ks[j].i])
	}
	return res
}

func compareAny(a, b any) int {
	switch x := a.(type) {
	case string:
		return cmp.Compare(x, b.(string))
	case int:
		return cmp.Compare(x, b.(int))
	case int64:
		return cmp.Compare(x, b.(int64))
	case uint64:
		return cmp.Compare(x, b.(uint64))
	case float64:
		return cmp.Compare(x, b.(float64))
	}
	return 0
}
