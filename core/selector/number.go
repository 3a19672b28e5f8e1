package selector

import (
	"strconv"

	"github.com/junctionmq/junction/core/prop"
)

// parseNumber reads an untyped string as a number: an Int64 when it is an
// optionally signed run of decimal digits that fits, a Float64 when it is a
// decimal number with a fraction or exponent (or an integer too large for
// int64). Anything else, including surrounding spaces, hex, NaN and Inf, is
// not a number. The syntax is checked here first because strconv allocates
// an error value on failure, and this runs once per message.
func parseNumber(s string) (prop.Value, bool) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intDigits := i - digits
	if i == len(s) {
		if intDigits == 0 {
			return prop.Value{}, false
		}
		if n, ok := parseInt(s[digits:], s[0] == '-'); ok {
			return prop.Value{Kind: prop.Int64, I: n}, true
		}
		// Too large for int64: fall through and read it as a float.
	} else {
		fracDigits := 0
		if s[i] == '.' {
			i++
			f := i
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			fracDigits = i - f
		}
		if intDigits+fracDigits == 0 {
			return prop.Value{}, false
		}
		if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
			i++
			if i < len(s) && (s[i] == '+' || s[i] == '-') {
				i++
			}
			e := i
			for i < len(s) && isDigit(s[i]) {
				i++
			}
			if i == e {
				return prop.Value{}, false
			}
		}
		if i != len(s) {
			return prop.Value{}, false
		}
	}
	// Well-formed, so the only possible error is a range error, for which
	// ParseFloat still returns the nearest value (±Inf or 0).
	f, _ := strconv.ParseFloat(s, 64)
	return prop.Float64Value(f), true
}

// parseInt converts a run of decimal digits, reporting false when the value
// does not fit in int64. strconv.ParseInt would allocate its error.
func parseInt(digits string, neg bool) (int64, bool) {
	limit := uint64(1<<63 - 1)
	if neg {
		limit++
	}
	var n uint64
	for _, c := range []byte(digits) {
		d := uint64(c - '0')
		if n > (limit-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if neg {
		return -int64(n), true // wraps correctly for 1<<63
	}
	return int64(n), true
}
