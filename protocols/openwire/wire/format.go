package wire

import (
	"fmt"
	"time"
)

// Magic opens every WireFormatInfo.
var Magic = [8]byte{'A', 'c', 't', 'i', 'v', 'e', 'M', 'Q'}

// Versions this package speaks. The ActiveMQ 5.x client offers MaxVersion and
// accepts any lower version the broker answers with.
const (
	MinVersion = 1
	MaxVersion = 12
)

// Defaults of the ActiveMQ client, and this package's limits.
const (
	DefaultCacheSize = 1024
	// javaDefaultCacheSize is what the Java marshaller allocates when the
	// negotiated CacheSize is 0 (Short.MAX_VALUE/2).
	javaDefaultCacheSize = 16383
	// DefaultMaxFrameSize bounds one incoming frame unless configured.
	DefaultMaxFrameSize = 64 << 20
	// DefaultMaxInflatedSize bounds a compressed body once inflated
	// (the client's maxInflatedDataSize default is 100 MiB; a broker can be
	// stricter).
	DefaultMaxInflatedSize = 64 << 20
	// maxDepth bounds nested objects and primitive maps/lists.
	maxDepth = 32
)

// Format is one direction's negotiated encoding. The zero value is not
// useful; start from InitialFormat and replace it with the result of
// Negotiate once both WireFormatInfos are exchanged.
type Format struct {
	Version    int  // 1..12
	Tight      bool // tight encoding (boolean stream first)
	Cache      bool // marshalling cache for ids and destinations
	CacheSize  int  // slots in the cache when Cache is set
	StackTrace bool // throwables carry stack traces and causes
	// MaxFrameSize bounds an incoming frame's size prefix (and an outgoing
	// frame: Encode refuses to produce a larger one). 0 means
	// DefaultMaxFrameSize.
	MaxFrameSize int64
}

// InitialFormat is the encoding of the WireFormatInfo exchange itself: loose,
// uncached, size-prefixed, at MaxVersion (the fields WireFormatInfo has are
// the same in every version).
func InitialFormat() Format {
	return Format{Version: MaxVersion, MaxFrameSize: DefaultMaxFrameSize}
}

func (f Format) maxFrame() int64 {
	if f.MaxFrameSize <= 0 {
		return DefaultMaxFrameSize
	}
	return f.MaxFrameSize
}

func (f Format) cacheSlots() int {
	if !f.Cache {
		return 0
	}
	if f.CacheSize <= 0 {
		return javaDefaultCacheSize
	}
	return f.CacheSize
}

// Options are the negotiable settings a WireFormatInfo carries in its
// property map.
type Options struct {
	Version                   int
	StackTraceEnabled         bool
	CacheEnabled              bool
	TcpNoDelayEnabled         bool
	TightEncodingEnabled      bool
	SizePrefixDisabled        bool
	CacheSize                 int32
	MaxInactivityDuration     time.Duration // 0: no inactivity monitoring
	MaxInactivityInitialDelay time.Duration
	MaxFrameSize              int64 // 0: unset
	MaxFrameSizeEnabled       bool
	Host                      string
	ProviderName              string
	ProviderVersion           string
	PlatformDetails           string
	// Other holds properties this package does not interpret.
	Other Map
}

// ServerOptions are the options a Junction broker offers: everything the
// client may ask for, except a disabled size prefix (this decoder frames by
// the prefix; negotiation ANDs the flag, so a client asking to drop it is
// simply told no).
func ServerOptions(maxInactivity time.Duration, maxFrameSize int64) Options {
	return Options{
		Version:                   MaxVersion,
		StackTraceEnabled:         true,
		CacheEnabled:              true,
		TcpNoDelayEnabled:         true,
		TightEncodingEnabled:      true,
		CacheSize:                 DefaultCacheSize,
		MaxInactivityDuration:     maxInactivity,
		MaxInactivityInitialDelay: 10 * time.Second,
		MaxFrameSize:              maxFrameSize,
		ProviderName:              "Junction",
	}
}

// NewWireFormatInfo builds the WireFormatInfo that announces o.
func NewWireFormatInfo(o Options) *WireFormatInfo {
	var m Map
	m = append(m,
		Entry{"StackTraceEnabled", o.StackTraceEnabled},
		Entry{"CacheEnabled", o.CacheEnabled},
		Entry{"TcpNoDelayEnabled", o.TcpNoDelayEnabled},
		Entry{"SizePrefixDisabled", o.SizePrefixDisabled},
		Entry{"TightEncodingEnabled", o.TightEncodingEnabled},
		Entry{"MaxInactivityDuration", int64(o.MaxInactivityDuration / time.Millisecond)},
		Entry{"MaxInactivityDurationInitalDelay", int64(o.MaxInactivityInitialDelay / time.Millisecond)},
		Entry{"CacheSize", o.CacheSize},
	)
	if o.MaxFrameSize > 0 {
		m = append(m, Entry{"MaxFrameSize", o.MaxFrameSize})
	}
	if o.MaxFrameSizeEnabled {
		m = append(m, Entry{"MaxFrameSizeEnabled", true})
	}
	for _, kv := range []struct{ k, v string }{
		{"Host", o.Host}, {"ProviderName", o.ProviderName},
		{"ProviderVersion", o.ProviderVersion}, {"PlatformDetails", o.PlatformDetails},
	} {
		if kv.v != "" {
			m = append(m, Entry{kv.k, kv.v})
		}
	}
	m = append(m, o.Other...)
	props, err := AppendMap(nil, m)
	if err != nil {
		// Every value above is a primitive; only o.Other could fail, and
		// a caller putting a non-primitive there is a programming error.
		panic(fmt.Sprintf("openwire: WireFormatInfo options: %v", err))
	}
	v := o.Version
	if v == 0 {
		v = MaxVersion
	}
	return &WireFormatInfo{Magic: Magic, Version: int32(v), Properties: props}
}

// Options decodes the property map. Values of an unexpected type are
// ignored, as the Java client ignores them (it compares with Boolean.TRUE).
func (w *WireFormatInfo) Options() (Options, error) {
	o := Options{Version: int(w.Version)}
	if w.Properties == nil {
		return o, nil
	}
	m, err := ParseMap(w.Properties)
	if err != nil {
		return o, fmt.Errorf("WireFormatInfo properties: %w", err)
	}
	for _, e := range m {
		switch e.Key {
		case "StackTraceEnabled":
			o.StackTraceEnabled = e.Value == true
		case "CacheEnabled":
			o.CacheEnabled = e.Value == true
		case "TcpNoDelayEnabled":
			o.TcpNoDelayEnabled = e.Value == true
		case "SizePrefixDisabled":
			o.SizePrefixDisabled = e.Value == true
		case "TightEncodingEnabled":
			o.TightEncodingEnabled = e.Value == true
		case "MaxFrameSizeEnabled":
			o.MaxFrameSizeEnabled = e.Value == true
		case "CacheSize":
			if v, ok := e.Value.(int32); ok {
				o.CacheSize = v
			}
		case "MaxInactivityDuration":
			if v, ok := e.Value.(int64); ok {
				o.MaxInactivityDuration = time.Duration(v) * time.Millisecond
			}
		case "MaxInactivityDurationInitalDelay":
			if v, ok := e.Value.(int64); ok {
				o.MaxInactivityInitialDelay = time.Duration(v) * time.Millisecond
			}
		case "MaxFrameSize":
			if v, ok := e.Value.(int64); ok {
				o.MaxFrameSize = v
			}
		case "Host":
			o.Host, _ = e.Value.(string)
		case "ProviderName":
			o.ProviderName, _ = e.Value.(string)
		case "ProviderVersion":
			o.ProviderVersion, _ = e.Value.(string)
		case "PlatformDetails":
			o.PlatformDetails, _ = e.Value.(string)
		default:
			o.Other = append(o.Other, e)
		}
	}
	return o, nil
}

// Negotiated is the outcome of a WireFormatInfo exchange.
type Negotiated struct {
	Format Format
	// MaxInactivity is the smaller positive MaxInactivityDuration of the two
	// sides; 0 when either side disabled inactivity monitoring.
	MaxInactivity time.Duration
	// InitialDelay is the client's MaxInactivityDurationInitalDelay.
	InitialDelay time.Duration
	Remote       Options
}

// Negotiate checks the peer's WireFormatInfo and combines it with ours the
// way the Java OpenWireFormat.renegotiateWireFormat does: the lower version,
// each flag only if both sides set it, the smaller cache and frame size.
// maxFrameSize is our own limit (0: DefaultMaxFrameSize); the format's
// MaxFrameSize is the smaller of it and the client's, in both directions.
func Negotiate(ours Options, peer *WireFormatInfo, maxFrameSize int64) (Negotiated, error) {
	if peer.Magic != Magic {
		return Negotiated{}, &DecodeError{Type: TypeWireFormatInfo, Err: ErrBadMagic, Fatal: true,
			Msg: fmt.Sprintf("bad magic %q: not an OpenWire client", clip(string(peer.Magic[:])))}
	}
	remote, err := peer.Options()
	if err != nil {
		return Negotiated{}, &DecodeError{Type: TypeWireFormatInfo, Err: ErrPrimitive, Fatal: true, Msg: err.Error()}
	}
	if remote.Version < MinVersion {
		return Negotiated{}, &DecodeError{Type: TypeWireFormatInfo, Err: ErrUnknownType, Fatal: true,
			Msg: fmt.Sprintf("unsupported OpenWire version %d", remote.Version)}
	}
	v := min(remote.Version, ours.Version)
	if v > MaxVersion {
		v = MaxVersion
	}
	if maxFrameSize <= 0 {
		maxFrameSize = DefaultMaxFrameSize
	}
	f := Format{
		Version:    v,
		Tight:      ours.TightEncodingEnabled && remote.TightEncodingEnabled,
		Cache:      ours.CacheEnabled && remote.CacheEnabled,
		StackTrace: ours.StackTraceEnabled && remote.StackTraceEnabled,
		// The client enforces the smaller of the two limits on what it
		// receives too, so frames we send must respect it.
		MaxFrameSize: javaMin(maxFrameSize, remote.MaxFrameSize),
	}
	if f.Cache {
		f.CacheSize = int(javaMin(int64(ours.CacheSize), int64(remote.CacheSize)))
		if f.CacheSize <= 0 {
			f.CacheSize = javaDefaultCacheSize
		}
		if f.CacheSize > 0x7fff {
			// Indexes travel as signed shorts.
			f.CacheSize = 0x7fff
		}
	}
	n := Negotiated{Format: f, Remote: remote, InitialDelay: remote.MaxInactivityInitialDelay}
	a, b := ours.MaxInactivityDuration, remote.MaxInactivityDuration
	if a > 0 && b > 0 {
		n.MaxInactivity = min(a, b)
	}
	return n, nil
}

// javaMin is OpenWireFormat.min: the smaller of two values, where a
// non-positive value means "no preference".
func javaMin(a, b int64) int64 {
	if a < b && a > 0 || b <= 0 {
		return a
	}
	return b
}
