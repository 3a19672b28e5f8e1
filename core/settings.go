package core

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/junctionmq/junction/core/wildcard"
)

// AddressSettings is one `address-settings:` entry, with Artemis' key names.
// Every field is optional: a field left unset in the most specific matching
// entry is taken from the next less specific match, then from the defaults (as
// Artemis merges its hierarchical settings).
type AddressSettings struct {
	DeadLetterAddress         *string   `yaml:"dead-letter-address" json:"dead-letter-address,omitempty"`
	ExpiryAddress             *string   `yaml:"expiry-address" json:"expiry-address,omitempty"`
	MaxDeliveryAttempts       *int      `yaml:"max-delivery-attempts" json:"max-delivery-attempts,omitempty"`
	RedeliveryDelay           *int64    `yaml:"redelivery-delay" json:"redelivery-delay,omitempty"` // ms
	RedeliveryDelayMultiplier *float64  `yaml:"redelivery-delay-multiplier" json:"redelivery-delay-multiplier,omitempty"`
	MaxRedeliveryDelay        *int64    `yaml:"max-redelivery-delay" json:"max-redelivery-delay,omitempty"` // ms
	AutoCreateQueues          *bool     `yaml:"auto-create-queues" json:"auto-create-queues,omitempty"`
	AutoCreateAddresses       *bool     `yaml:"auto-create-addresses" json:"auto-create-addresses,omitempty"`
	AutoDeleteQueues          *bool     `yaml:"auto-delete-queues" json:"auto-delete-queues,omitempty"`
	AutoDeleteAddresses       *bool     `yaml:"auto-delete-addresses" json:"auto-delete-addresses,omitempty"`
	DefaultRoutingType        *string   `yaml:"default-routing-type" json:"default-routing-type,omitempty"`
	MaxSizeBytes              *ByteSize `yaml:"max-size-bytes" json:"max-size-bytes,omitempty"`
	AddressFullPolicy         *string   `yaml:"address-full-policy" json:"address-full-policy,omitempty"`
	LastValueKey              *string   `yaml:"last-value-key" json:"last-value-key,omitempty"`
	DuplicateIDCacheSize      *int      `yaml:"duplicate-id-cache-size" json:"duplicate-id-cache-size,omitempty"`
	MinExpiryDelay            *int64    `yaml:"min-expiry-delay" json:"min-expiry-delay,omitempty"` // ms
	MaxExpiryDelay            *int64    `yaml:"max-expiry-delay" json:"max-expiry-delay,omitempty"` // ms
}

// ByteSize reads a size as a number of bytes or with a unit: 10MB, 10MiB, 512K.
type ByteSize int64

// UnmarshalText accepts "1048576", "1MiB", "1MB", "512k" (binary multiples, as Artemis).
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = ByteSize(v)
	return nil
}

// ParseByteSize parses a byte size; units K, M, G (with optional B or iB) are
// powers of 1024. -1 means unlimited.
func ParseByteSize(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid byte size %q", s)
	}
	if n < 0 {
		return -1, nil
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("byte size %q overflows", s)
	}
	return n * mult, nil
}

// FullPolicy is what happens to a send when an address is over max-size-bytes.
type FullPolicy uint8

const (
	FullBlock FullPolicy = iota // hold the producer until space frees (default)
	FullFail                    // refuse the send with ErrAddressFull
	FullDrop                    // accept and discard the message, counted
	// FullPage accepts a durable message and keeps its references to
	// durable queues in the store only (paging.go); other sends are held
	// as with FullBlock.
	FullPage
)

// Settings is the resolved, concrete form of the address settings for one
// address.
type Settings struct {
	DeadLetterAddress         string
	ExpiryAddress             string
	MaxDeliveryAttempts       int // <=0: unlimited
	RedeliveryDelay           time.Duration
	RedeliveryDelayMultiplier float64
	MaxRedeliveryDelay        time.Duration
	AutoCreateQueues          bool
	AutoCreateAddresses       bool
	AutoDeleteQueues          bool
	AutoDeleteAddresses       bool
	DefaultRoutingType        RoutingType
	MaxSizeBytes              int64 // <0: unlimited
	FullPolicy                FullPolicy
	LastValueKey              string
	DuplicateIDCacheSize      int
	MinExpiryDelay            time.Duration // 0: none
	MaxExpiryDelay            time.Duration // 0: none
}

// DefaultSettings are Artemis' defaults, except where noted in ARCHITECTURE.md.
func DefaultSettings() Settings {
	return Settings{
		DeadLetterAddress:         "DLQ",
		ExpiryAddress:             "ExpiryQueue",
		MaxDeliveryAttempts:       10,
		RedeliveryDelayMultiplier: 1,
		AutoCreateQueues:          true,
		AutoCreateAddresses:       true,
		AutoDeleteQueues:          true,
		AutoDeleteAddresses:       true,
		DefaultRoutingType:        Multicast,
		MaxSizeBytes:              -1,
		FullPolicy:                FullBlock,
		DuplicateIDCacheSize:      2000,
	}
}

// Validate checks values that YAML cannot type-check.
func (a *AddressSettings) Validate() error {
	if a.DefaultRoutingType != nil {
		if _, ok := ParseRoutingType(*a.DefaultRoutingType); !ok {
			return fmt.Errorf("default-routing-type %q: want ANYCAST or MULTICAST", *a.DefaultRoutingType)
		}
	}
	if a.AddressFullPolicy != nil {
		if _, err := parseFullPolicy(*a.AddressFullPolicy); err != nil {
			return err
		}
	}
	if a.RedeliveryDelayMultiplier != nil && *a.RedeliveryDelayMultiplier < 1 {
		return fmt.Errorf("redelivery-delay-multiplier %v: must be at least 1", *a.RedeliveryDelayMultiplier)
	}
	for name, v := range map[string]*int64{"redelivery-delay": a.RedeliveryDelay, "max-redelivery-delay": a.MaxRedeliveryDelay, "min-expiry-delay": a.MinExpiryDelay, "max-expiry-delay": a.MaxExpiryDelay} {
		if v != nil && *v < 0 {
			return fmt.Errorf("%s %d: must not be negative", name, *v)
		}
	}
	return nil
}

func parseFullPolicy(s string) (FullPolicy, error) {
	switch strings.ToUpper(s) {
	case "BLOCK":
		return FullBlock, nil
	case "FAIL":
		return FullFail, nil
	case "DROP":
		return FullDrop, nil
	case "PAGE":
		return FullPage, nil
	}
	return 0, fmt.Errorf("address-full-policy %q: want BLOCK, FAIL, DROP or PAGE", s)
}

// apply fills every unset field of s from a.
func (a *AddressSettings) apply(s *Settings, set *uint32) {
	type field struct {
		bit uint32
		ok  bool
		fn  func()
	}
	fields := []field{
		{1 << 0, a.DeadLetterAddress != nil, func() { s.DeadLetterAddress = *a.DeadLetterAddress }},
		{1 << 1, a.ExpiryAddress != nil, func() { s.ExpiryAddress = *a.ExpiryAddress }},
		{1 << 2, a.MaxDeliveryAttempts != nil, func() { s.MaxDeliveryAttempts = *a.MaxDeliveryAttempts }},
		{1 << 3, a.RedeliveryDelay != nil, func() { s.RedeliveryDelay = time.Duration(*a.RedeliveryDelay) * time.Millisecond }},
		{1 << 4, a.RedeliveryDelayMultiplier != nil, func() { s.RedeliveryDelayMultiplier = *a.RedeliveryDelayMultiplier }},
		{1 << 5, a.MaxRedeliveryDelay != nil, func() { s.MaxRedeliveryDelay = time.Duration(*a.MaxRedeliveryDelay) * time.Millisecond }},
		{1 << 6, a.AutoCreateQueues != nil, func() { s.AutoCreateQueues = *a.AutoCreateQueues }},
		{1 << 7, a.AutoCreateAddresses != nil, func() { s.AutoCreateAddresses = *a.AutoCreateAddresses }},
		{1 << 8, a.AutoDeleteQueues != nil, func() { s.AutoDeleteQueues = *a.AutoDeleteQueues }},
		{1 << 9, a.AutoDeleteAddresses != nil, func() { s.AutoDeleteAddresses = *a.AutoDeleteAddresses }},
		{1 << 10, a.DefaultRoutingType != nil, func() { s.DefaultRoutingType, _ = ParseRoutingType(*a.DefaultRoutingType) }},
		{1 << 11, a.MaxSizeBytes != nil, func() { s.MaxSizeBytes = int64(*a.MaxSizeBytes) }},
		{1 << 12, a.AddressFullPolicy != nil, func() { s.FullPolicy, _ = parseFullPolicy(*a.AddressFullPolicy) }},
		{1 << 13, a.LastValueKey != nil, func() { s.LastValueKey = *a.LastValueKey }},
		{1 << 14, a.DuplicateIDCacheSize != nil, func() { s.DuplicateIDCacheSize = *a.DuplicateIDCacheSize }},
		{1 << 15, a.MinExpiryDelay != nil, func() { s.MinExpiryDelay = time.Duration(*a.MinExpiryDelay) * time.Millisecond }},
		{1 << 16, a.MaxExpiryDelay != nil, func() { s.MaxExpiryDelay = time.Duration(*a.MaxExpiryDelay) * time.Millisecond }},
	}
	for _, f := range fields {
		if f.ok && *set&f.bit == 0 {
			f.fn()
			*set |= f.bit
		}
	}
}

// SettingsRepository resolves the settings of an address from wildcard-matched
// entries. Results are cached per address; the cache is bounded by the number
// of addresses the broker has seen, which the broker bounds.
type SettingsRepository struct {
	mu       sync.RWMutex
	patterns []string // sorted most specific first
	entries  map[string]*AddressSettings
	cache    map[string]*Settings
	distinct map[Settings]*Settings
	defaults Settings
}

// NewSettingsRepository validates entries and builds a repository.
func NewSettingsRepository(entries map[string]*AddressSettings) (*SettingsRepository, error) {
	r := &SettingsRepository{entries: map[string]*AddressSettings{}, cache: map[string]*Settings{}, distinct: map[Settings]*Settings{}, defaults: DefaultSettings()}
	for p, a := range entries {
		if a == nil {
			continue
		}
		if err := a.Validate(); err != nil {
			return nil, fmt.Errorf("address-settings %q: %w", p, err)
		}
		np := wildcard.Normalize(p)
		r.entries[np] = a
		r.patterns = append(r.patterns, np)
	}
	slices.SortFunc(r.patterns, func(a, b string) int { return -wildcard.Compare(a, b) })
	return r, nil
}

// Resolve returns the settings for an address. The result is shared; do not modify it.
func (r *SettingsRepository) Resolve(address string) *Settings {
	r.mu.RLock()
	s := r.cache[address]
	r.mu.RUnlock()
	if s != nil {
		return s
	}
	res := r.compute(address)
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.cache) > 100_000 {
		clear(r.cache)
	}
	// Addresses with the same settings share one copy: there are as many
	// distinct settings as combinations of matching entries, usually a
	// handful, and addresses by the hundred thousand.
	s = r.distinct[res]
	if s == nil {
		if len(r.distinct) > 10_000 {
			clear(r.distinct)
		}
		s = &res
		r.distinct[res] = s
	}
	r.cache[address] = s
	return s
}

// peek returns the settings for an address without caching them: for a
// send that creates nothing, so that a flood of one-off names leaves no
// trace.
func (r *SettingsRepository) peek(address string) Settings {
	r.mu.RLock()
	s := r.cache[address]
	r.mu.RUnlock()
	if s != nil {
		return *s
	}
	return r.compute(address)
}

func (r *SettingsRepository) compute(address string) Settings {
	res := r.defaults
	var set uint32
	for _, p := range r.patterns {
		if wildcard.Match(p, address) {
			r.entries[p].apply(&res, &set)
		}
	}
	if set&(1<<5) == 0 && res.RedeliveryDelay > 0 {
		// Artemis: max-redelivery-delay defaults to ten times redelivery-delay.
		res.MaxRedeliveryDelay = 10 * res.RedeliveryDelay
	}
	return res
}

// RedeliveryDelayFor returns the delay before redelivering a message that has
// failed deliveryCount times.
func (s *Settings) RedeliveryDelayFor(deliveryCount uint32) time.Duration {
	if s.RedeliveryDelay <= 0 {
		return 0
	}
	d := float64(s.RedeliveryDelay)
	if deliveryCount > 1 && s.RedeliveryDelayMultiplier > 1 {
		d *= math.Pow(s.RedeliveryDelayMultiplier, float64(deliveryCount-1))
	}
	if s.MaxRedeliveryDelay > 0 && d > float64(s.MaxRedeliveryDelay) {
		d = float64(s.MaxRedeliveryDelay)
	}
	return time.Duration(d)
}
