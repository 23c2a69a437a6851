package virtiotest

import (
	"context"
	"log/slog"
	"sync"
)

// LogCounter is a slog.Handler that counts the lines it gets and keeps
// their "suppressed" attributes (see virtio.LogBurst).
type LogCounter struct {
	mu         sync.Mutex
	lines      int
	suppressed []uint64
}

func (h *LogCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *LogCounter) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *LogCounter) WithGroup(string) slog.Handler            { return h }

func (h *LogCounter) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines++
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "suppressed" {
			h.suppressed = append(h.suppressed, a.Value.Uint64())
		}
		return true
	})
	return nil
}

// Count returns the lines so far and their suppressed counts.
func (h *LogCounter) Count() (lines int, suppressed []uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lines, append([]uint64(nil), h.suppressed...)
}
