package vmm

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/kvm"
	"github.com/gluevmm/glue/loader"
	"github.com/gluevmm/glue/vcpu"
	"github.com/gluevmm/glue/x86"
)

// machine is the virtual hardware KVM provides, and its one owner: the
// /dev/kvm handle, the VM with its in-kernel interrupt controllers and
// timer, guest memory, and the vCPUs.
type machine struct {
	sys     *kvm.System
	vm      *kvm.VM
	mem     *guestmem.Memory
	vcpus   []*kvm.VCPU
	runners []*vcpu.VCPU // runners[i] runs vcpus[i]
}

// close releases the machine in the reverse order of its creation; any
// part may be missing.
func (m *machine) close() error {
	var errs []error
	for _, c := range m.vcpus {
		errs = append(errs, c.Close())
	}
	if m.vm != nil {
		errs = append(errs, m.vm.Close())
	}
	if m.mem != nil {
		errs = append(errs, m.mem.Close())
	}
	if m.sys != nil {
		errs = append(errs, m.sys.Close())
	}
	return errors.Join(errs...)
}

// createVM is the "create VM" step: a VM with what every x86 guest here
// needs, KVM's private pages below 4 GiB and the in-kernel interrupt
// controllers and timer.
func createVM(sys *kvm.System) (*kvm.VM, error) {
	v, err := sys.CreateVM()
	if err != nil {
		return nil, err
	}
	err = v.SetTSSAddr(uint64(x86.KVMTSSAddr))
	if err == nil {
		err = v.SetIdentityMapAddr(uint64(x86.KVMIdentityMapAddr))
	}
	if err == nil {
		err = v.CreateIRQChip()
	}
	if err == nil {
		err = v.CreatePIT2()
	}
	if err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// allocateMemory is the "allocate guest memory" step: memMiB of RAM split
// around the 32-bit MMIO gap.
func allocateMemory(memMiB uint64) (*guestmem.Memory, error) {
	mem, err := guestmem.New(x86.RAMSpans(memMiB << 20))
	if err != nil {
		return nil, &ConfigError{Field: FieldMemMiB, Err: fmt.Errorf("%d MiB of memory: %w", memMiB, err)}
	}
	return mem, nil
}

// memorySlots is KVM's registration of the guest's RAM, one memory slot
// per region, made while the rest of the VM is built: a VM's first
// KVM_SET_USER_MEMORY_REGION waits for an SRCU grace period (about 5 ms
// here, as long as everything else Build does for a small VM), and only
// the vCPUs' first KVM_RUN needs the slots. Writing the kernel and the
// boot structures into the memory does not: it is the process's own.
type memorySlots struct {
	done chan error
	err  error
	once sync.Once
}

// registerMemory starts registering mem's regions with v.
func registerMemory(v *kvm.VM, mem *guestmem.Memory) *memorySlots {
	s := &memorySlots{done: make(chan error, 1)}
	go func() {
		for i, r := range mem.Regions() {
			if err := v.SetUserMemoryRegion(uint32(i), uint64(r.Base), r.Host(), 0); err != nil {
				s.done <- err
				return
			}
		}
		s.done <- nil
	}()
	return s
}

// wait returns once the slots are registered (or failed), with the error.
func (s *memorySlots) wait() error {
	s.once.Do(func() { s.err = <-s.done })
	return s.err
}

// createVCPUs is the "create vCPUs" step: n vCPUs with their CPUID, MSRs,
// FPU and LAPIC state, each with a runner that dispatches its exits to the
// device manager's buses, and the boot processor at the kernel's entry. The
// others wait for the guest to start them with INIT/SIPI, as on real
// hardware.
func createVCPUs(sys *kvm.System, v *kvm.VM, mem *guestmem.Memory, b buses, n int, entry loader.EntryPoint, log *slog.Logger) (_ []*kvm.VCPU, _ []*vcpu.VCPU, err error) {
	var vcpus []*kvm.VCPU
	defer func() {
		if err != nil {
			for _, c := range vcpus {
				c.Close()
			}
		}
	}()
	supported, err := sys.GetSupportedCPUID()
	if err != nil {
		return nil, nil, err
	}
	var runners []*vcpu.VCPU
	for id := range n {
		c, err := v.CreateVCPU(id)
		if err != nil {
			return nil, nil, err
		}
		vcpus = append(vcpus, c)
		runners = append(runners, vcpu.New(vcpu.Config{VCPU: c, PIO: b.pio, MMIO: b.mmio, Mem: mem, Logger: log}))
		cpuid, err := x86.FilterCPUID(supported, id, n)
		if err != nil {
			return nil, nil, fmt.Errorf("vmm: vcpu %d: %w", id, err)
		}
		if err := x86.ConfigureVCPU(c, cpuid); err != nil {
			return nil, nil, err
		}
	}
	if entry.Protocol == loader.PVH {
		err = x86.SetPVHEntry(vcpus[0], entry.Addr)
	} else {
		err = x86.SetLinux64Entry(vcpus[0], entry.Addr, x86.ZeroPageAddr)
	}
	if err != nil {
		return nil, nil, err
	}
	return vcpus, runners, nil
}

// hostMemMiB is the host's physical RAM, or 0 if unknown.
func hostMemMiB() uint64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit) >> 20
}
