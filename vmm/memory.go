package vmm

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/kvm"
	"github.com/gluevmm/glue/x86"
)

// newGuestMemory maps memMiB of RAM split around the 32-bit MMIO gap.
func newGuestMemory(memMiB uint64) (*guestmem.Memory, error) {
	mem, err := guestmem.New(x86.RAMSpans(memMiB << 20))
	if err != nil {
		return nil, fmt.Errorf("%d MiB of memory: %w", memMiB, err)
	}
	return mem, nil
}

// configureVM gives a new VM what every x86 guest here needs: KVM's private
// pages below 4 GiB, and the in-kernel interrupt controllers and timer.
func configureVM(v *kvm.VM) error {
	if err := v.SetTSSAddr(uint64(x86.KVMTSSAddr)); err != nil {
		return err
	}
	if err := v.SetIdentityMapAddr(uint64(x86.KVMIdentityMapAddr)); err != nil {
		return err
	}
	if err := v.CreateIRQChip(); err != nil {
		return err
	}
	return v.CreatePIT2()
}

// hostMemMiB is the host's physical RAM, or 0 if unknown.
func hostMemMiB() uint64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit) >> 20
}
