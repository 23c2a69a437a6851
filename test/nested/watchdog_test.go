package nested

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A machine that sends no marker is ended and reported wedged; one that
// does is not, however long it runs, and quiet 0 watches nothing.
func TestWatchdog(t *testing.T) {
	t.Parallel()
	console := filepath.Join(t.TempDir(), "console.log")
	if err := os.WriteFile(console, []byte("booting\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	if w := Watch(ctx, cancel, 20*time.Millisecond, console); !waitEnded(ctx) || !w.Wedged() {
		t.Error("a silent machine was not ended as wedged")
	}

	ctx, cancel = context.WithCancel(t.Context())
	w := Watch(ctx, cancel, time.Second, console)
	for range 60 {
		w.Marker()
		time.Sleep(25 * time.Millisecond)
	}
	if ctx.Err() != nil {
		t.Error("the watchdog ended a machine that kept sending markers")
	}
	cancel()
	if w.Wedged() {
		t.Error("a machine that kept sending markers counts as wedged")
	}

	ctx, cancel = context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if Watch(ctx, cancel, 0, console).Wedged() {
		t.Error("quiet 0 reported a wedge")
	}
}

// waitEnded waits up to a minute for ctx to end.
func waitEnded(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	case <-time.After(time.Minute):
		return false
	}
}
