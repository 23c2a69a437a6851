package vmm

import (
	"errors"
	"fmt"
	"log/slog"

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

// createVM is the "create VM" step: a VM with KVM's private pages below
// 4 GiB, which every x86 guest here needs.
func createVM(sys *kvm.System) (*kvm.VM, error) {
	v, err := sys.CreateVM()
	if err != nil {
		return nil, err
	}
	err = v.SetTSSAddr(uint64(x86.KVMTSSAddr))
	if err == nil {
		err = v.SetIdentityMapAddr(uint64(x86.KVMIdentityMapAddr))
	}
	if err != nil {
		v.Close()
		return nil, err
	}
	return v, nil
}

// mapMemory is the "map guest memory" step: memMiB of RAM split around the
// 32-bit MMIO gap, one KVM memory slot per region. It comes before the
// interrupt controllers: a VM's first KVM_SET_USER_MEMORY_REGION made
// after KVM_CREATE_IRQCHIP and KVM_CREATE_PIT2 waited 4-8 ms in the kernel
// here (an SRCU grace period), made before them 0.2 ms, and they take no
// longer for it.
func mapMemory(v *kvm.VM, memMiB uint64) (*guestmem.Memory, error) {
	mem, err := guestmem.New(x86.RAMSpans(memMiB << 20))
	if err != nil {
		return nil, &ConfigError{Field: FieldMemMiB, Err: fmt.Errorf("%d MiB of memory: %w", memMiB, err)}
	}
	for i, r := range mem.Regions() {
		if err := v.SetUserMemoryRegion(uint32(i), uint64(r.Base), r.Host(), 0); err != nil {
			mem.Close()
			return nil, err
		}
	}
	return mem, nil
}

// createInterruptControllers is the "create interrupt controllers" step:
// the in-kernel PIC, IOAPIC and LAPICs, and the PIT.
func createInterruptControllers(v *kvm.VM) error {
	if err := v.CreateIRQChip(); err != nil {
		return err
	}
	return v.CreatePIT2()
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
