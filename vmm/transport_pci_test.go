//go:build !glue_no_pci && !glue_minimal

package vmm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/kvm"
	"github.com/gluevmm/glue/kvm/kvmtest"
	"github.com/gluevmm/glue/pci"
	"github.com/gluevmm/glue/virtio/rng"
	virtiopci "github.com/gluevmm/glue/virtio/transport/pci"
	"github.com/gluevmm/glue/x86"
)

// When the guest moves a virtio-pci BAR, each queue's ioeventfd leaves the
// old notify address and is bound at the new one. KVM says which addresses
// hold an ioeventfd: assigning another one of the same width there fails
// with EEXIST.
func TestPCIVirtioNotifyFollowsBAR(t *testing.T) {
	t.Parallel()
	sys := kvmtest.Open(t)
	v, mem := kvmtest.NewVMWithRAM(t, sys, x86.RAMSpans(64<<20))
	if err := v.CreateIRQChip(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	dm, err := newDeviceManager(v, mem, guestOutputConfig{}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dm.close() })
	if dm.pci, err = newPCIBus(v.IRQLine, dm.pio, dm.mmio, x86.RAMSpans(64<<20), log); err != nil {
		t.Fatal(err)
	}
	if _, err := dm.addPCIVirtio(rng.New(bytes.NewReader(nil))); err != nil {
		t.Fatal(err)
	}
	slot := pci.Slot{Device: x86.PCIFirstDevice}
	var b [4]byte
	dm.pci.root.ReadConfig(slot, 0x10, b[:])
	oldBAR := uint64(binary.LittleEndian.Uint32(b[:]) &^ 0xf)
	newBAR := oldBAR + 4*virtiopci.BARSize

	bound := func(addr uint64) bool {
		t.Helper()
		fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		ev := kvm.IOEvent{FD: fd, Addr: addr, Len: 2}
		err = v.IOEventFD(ev)
		if err == nil {
			v.DeassignIOEventFD(ev)
			return false
		}
		if !errors.Is(err, unix.EEXIST) {
			t.Fatalf("probe ioeventfd at %#x: %v", addr, err)
		}
		return true
	}
	notify := func(bar uint64) uint64 { return bar + virtiopci.NotifyOffset } // queue 0
	if !bound(notify(oldBAR)) {
		t.Fatal("no ioeventfd at the initial notify address")
	}
	put := func(reg int, val uint32) {
		binary.LittleEndian.PutUint32(b[:], val)
		dm.pci.root.WriteConfig(slot, reg, b[:])
	}
	put(0x04, pci.CommandMemory)
	put(0x10, uint32(newBAR)|0x4)
	if !dm.mmio.Read(newBAR, make([]byte, 4)) {
		t.Fatalf("the BAR does not answer at %#x after the move", newBAR)
	}
	if bound(notify(oldBAR)) {
		t.Error("an ioeventfd is still bound at the old notify address")
	}
	if !bound(notify(newBAR)) {
		t.Error("no ioeventfd at the new notify address")
	}
}

// A guest that keeps kicking a queue through the BAR while its drain waits
// on the event loop queues that one drain, not one per kick; once it ran,
// the next kick queues again, and a drain that leaves work queues the next.
func TestPCIVirtioOneQueuedDrainPerQueue(t *testing.T) {
	t.Parallel()
	var pending []func()
	notified := map[int]int{}
	workLeft := false
	d := &queueDrains{
		queued: make([]atomic.Bool, 2),
		submit: func(fn func()) error { pending = append(pending, fn); return nil },
		notify: func(q int) bool { notified[q]++; return workLeft },
	}
	runPending := func() {
		fns := pending
		pending = nil
		for _, fn := range fns {
			fn()
		}
	}
	for range 1000 {
		d.queue(0)
	}
	d.queue(1)
	d.queue(-1) // out of range: ignored
	d.queue(2)
	if len(pending) != 2 {
		t.Fatalf("1000 kicks of queue 0 and one of queue 1 queued %d drains, want 2", len(pending))
	}
	runPending()
	if notified[0] != 1 || notified[1] != 1 {
		t.Fatalf("drains ran NotifyQueue %v times, want once per queue", notified)
	}
	d.queue(0)
	if len(pending) != 1 {
		t.Fatalf("a kick after the drain ran queued %d drains, want 1", len(pending))
	}
	workLeft = true
	runPending()
	if len(pending) != 1 {
		t.Fatalf("a drain that left work queued %d drains, want 1", len(pending))
	}
}
