//go:build !glue_no_pci && !glue_minimal

package vmm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
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
