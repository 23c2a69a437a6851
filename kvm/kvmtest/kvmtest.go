// Package kvmtest holds helpers for tests that need /dev/kvm.
//
// Such tests skip, saying why, on hosts without usable KVM, and fail instead
// when the environment sets GLUE_REQUIRE_KVM=1 (as CI does), so a broken
// host cannot pass for a green run (see package hosttest).
package kvmtest

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/kvm"
	"github.com/gluevmm/glue/test/hosttest"
)

// Open opens /dev/kvm for the test and closes it when the test ends. If KVM
// cannot be opened it skips the test with the reason hosttest.ReasonKVM
// (a failure under GLUE_REQUIRE_KVM=1).
func Open(t testing.TB) *kvm.System {
	t.Helper()
	sys, err := kvm.Open("")
	if err != nil {
		hosttest.Skip(t, hosttest.ReasonKVM, err.Error())
	}
	t.Cleanup(func() { sys.Close() })
	return sys
}

// NewVM creates a VM with memSize bytes of zeroed RAM at guest-physical
// address 0 (memory slot 0) and returns it with the host view of that RAM.
// Both are released when the test ends. memSize must be a multiple of the
// page size.
func NewVM(t testing.TB, sys *kvm.System, memSize int) (*kvm.VM, []byte) {
	t.Helper()
	mem, err := unix.Mmap(-1, 0, memSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		t.Fatalf("kvmtest: map %d bytes of guest RAM: %v", memSize, err)
	}
	// Cleanups run last-registered first: vCPUs, then the VM, then its RAM.
	t.Cleanup(func() { unix.Munmap(mem) })
	vm, err := sys.CreateVM()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vm.Close() })
	if err := vm.SetUserMemoryRegion(0, 0, mem, 0); err != nil {
		t.Fatal(err)
	}
	return vm, mem
}

// NewVMWithRAM creates a VM whose RAM is a guestmem.Memory with the given
// spans, one memory slot per region, all released when the test ends.
func NewVMWithRAM(t testing.TB, sys *kvm.System, spans []guestmem.Span) (*kvm.VM, *guestmem.Memory) {
	t.Helper()
	mem, err := guestmem.New(spans)
	if err != nil {
		t.Fatalf("kvmtest: %v", err)
	}
	t.Cleanup(func() { mem.Close() })
	vm, err := sys.CreateVM()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vm.Close() })
	for i, r := range mem.Regions() {
		if err := vm.SetUserMemoryRegion(uint32(i), uint64(r.Base), r.Host(), 0); err != nil {
			t.Fatal(err)
		}
	}
	return vm, mem
}
