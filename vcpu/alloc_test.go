package vcpu

import (
	"io"
	"log/slog"
	"testing"

	"github.com/gluevmm/glue/bus"
	"github.com/gluevmm/glue/kvm"
)

// Handling a port-I/O or MMIO exit allocates nothing, claimed or not, with
// a logger like glue's (stderr at Warn, the VM's log at Info): at tens of
// thousands of exits a second, an allocation per exit is garbage the
// runtime must collect while the guest waits.
func TestExitHandlingDoesNotAllocate(t *testing.T) {
	c, _ := realModeVCPU(t, []byte{0xf4})
	var pio, mmio bus.Bus
	if err := pio.Insert(0x80, 1, &counter{}); err != nil {
		t.Fatal(err)
	}
	if err := mmio.Insert(0xd000_0000, 0x1000, &counter{}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewMultiHandler(
		slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}),
		slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})))
	v := New(Config{VCPU: c, PIO: &pio, MMIO: &mmio, Logger: log})
	data := make([]byte, 8)
	for _, tc := range []struct {
		name   string
		handle func()
	}{
		{"claimed port write", func() { v.handleIO(&kvm.IOExit{Port: 0x80, Size: 1, Direction: kvm.IOOut, Count: 1, Data: data[:1]}) }},
		{"unclaimed port read", func() { v.handleIO(&kvm.IOExit{Port: 0x1234, Size: 1, Direction: kvm.IOIn, Count: 1, Data: data[:1]}) }},
		{"claimed MMIO read", func() { v.handleMMIO(&kvm.MMIOExit{Addr: 0xd000_0004, Len: 4, Data: data[:4]}) }},
		{"unclaimed MMIO write", func() { v.handleMMIO(&kvm.MMIOExit{Addr: 0xf000_0000, Len: 1, IsWrite: true, Data: data[:1]}) }},
	} {
		if n := testing.AllocsPerRun(1000, tc.handle); n != 0 {
			t.Errorf("%s: %v allocations per exit, want 0", tc.name, n)
		}
	}
}
