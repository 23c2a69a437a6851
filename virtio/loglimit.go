package virtio

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Guest-triggered messages are rate-limited per device and per call site
// (message), in the manner of Firecracker's logger: each site may log
// LogBurst lines at once, then one more per LogInterval; what it could not
// log is counted and reported, as the attribute "suppressed", on its next
// line. The state lives in Common, which outlives device resets and the
// queues they recreate, so a guest cycling reset -> activate -> error
// cannot re-arm it. Debug records are not limited: they are what -vv asks
// for.
const (
	LogBurst    = 10
	LogInterval = 10 * time.Second
)

// maxLogSites bounds the sites tracked per device; messages are constants
// in glue's code, so this is never reached unless one is not.
const maxLogSites = 64

// logLimiter is the rate-limit state of one device's messages.
type logLimiter struct {
	mu    sync.Mutex
	now   func() time.Time
	sites map[string]*logSite
}

type logSite struct {
	tokens     int
	refilled   time.Time // when tokens were last topped up
	suppressed uint64
}

// allow takes a token for msg's site and returns how many of its lines
// were suppressed since the last one that was logged.
func (l *logLimiter) allow(msg string) (ok bool, suppressed uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	s := l.sites[msg]
	if s == nil {
		if len(l.sites) >= maxLogSites {
			msg = "" // one shared site for the overflow
			s = l.sites[msg]
		}
		if s == nil {
			s = &logSite{tokens: LogBurst, refilled: now}
			l.sites[msg] = s
		}
	}
	if n := int(now.Sub(s.refilled) / LogInterval); n > 0 {
		s.tokens = min(LogBurst, s.tokens+n)
		s.refilled = s.refilled.Add(time.Duration(n) * LogInterval)
	}
	if s.tokens == 0 {
		s.suppressed++
		return false, 0
	}
	s.tokens--
	suppressed, s.suppressed = s.suppressed, 0
	return true, suppressed
}

// limitedHandler passes records through a logLimiter. Handlers derived
// with WithAttrs/WithGroup share it.
type limitedHandler struct {
	next    slog.Handler
	limiter *logLimiter
}

func newLimitedLogger(log *slog.Logger, now func() time.Time) (*slog.Logger, *logLimiter) {
	l := &logLimiter{now: now, sites: make(map[string]*logSite)}
	return slog.New(&limitedHandler{next: log.Handler(), limiter: l}), l
}

func (h *limitedHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *limitedHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelInfo {
		return h.next.Handle(ctx, r)
	}
	ok, suppressed := h.limiter.allow(r.Message)
	if !ok {
		return nil
	}
	if suppressed > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Uint64("suppressed", suppressed))
	}
	return h.next.Handle(ctx, r)
}

func (h *limitedHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &limitedHandler{next: h.next.WithAttrs(attrs), limiter: h.limiter}
}

func (h *limitedHandler) WithGroup(name string) slog.Handler {
	return &limitedHandler{next: h.next.WithGroup(name), limiter: h.limiter}
}
