package vcpu

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gluevmm/glue/bus"
)

// counter counts the guest's writes to its port.
type counter struct{ n atomic.Int64 }

func (c *counter) Read(_ uint64, data []byte) { clear(data) }
func (c *counter) Write(uint64, []byte)       { c.n.Add(1) }

func TestPauseResumeStop(t *testing.T) {
	t.Parallel()
	// loop: inc al; out 0x10,al; jmp loop
	c, mem := realModeVCPU(t, []byte{0xfe, 0xc0, 0xe6, 0x10, 0xeb, 0xfa})
	var pio bus.Bus
	cnt := &counter{}
	pio.Insert(0x10, 1, cnt)
	v := New(Config{VCPU: c, PIO: &pio, MMIO: &bus.Bus{}, Mem: mem})
	done := make(chan error, 1)
	go func() { done <- v.Run() }()
	waitCount := func(min int64) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); cnt.n.Load() < min; {
			if time.Now().After(deadline) {
				t.Fatalf("guest made %d exits, want at least %d", cnt.n.Load(), min)
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitCount(10)

	ctx := context.Background()
	for range 2 { // the second Pause must be a no-op
		if err := v.Pause(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if v.State() != Paused {
		t.Fatalf("state %v after Pause", v.State())
	}
	frozen := cnt.n.Load()
	time.Sleep(50 * time.Millisecond)
	if got := cnt.n.Load(); got != frozen {
		t.Fatalf("guest ran while paused: %d exits became %d", frozen, got)
	}

	v.Resume()
	v.Resume()
	waitCount(frozen + 10)

	v.Stop()
	if err := <-done; !errors.Is(err, ErrStopped) {
		t.Fatalf("Run = %v, want ErrStopped", err)
	}
	if err := v.Pause(ctx); err != nil {
		t.Fatalf("Pause after Stop: %v", err)
	}
	if v.State() != Stopped {
		t.Fatalf("state %v after Stop", v.State())
	}
}

// Pause honours its context when the vCPU never acknowledges (it was
// never run).
func TestPauseContext(t *testing.T) {
	t.Parallel()
	c, mem := realModeVCPU(t, []byte{0xeb, 0xfe})
	v := New(Config{VCPU: c, PIO: &bus.Bus{}, MMIO: &bus.Bus{}, Mem: mem})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := v.Pause(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Pause = %v, want the context's deadline", err)
	}
}
