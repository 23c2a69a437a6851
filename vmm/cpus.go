package vmm

import (
	"fmt"

	"github.com/gluevmm/glue/loader"
	"github.com/gluevmm/glue/vcpu"
	"github.com/gluevmm/glue/x86"
)

// createVCPUs creates every vCPU with its CPUID, MSRs, FPU and LAPIC state,
// and puts the boot processor at the kernel's entry. The others wait for the
// guest to start them with INIT/SIPI, as on real hardware.
func (vm *VM) createVCPUs() error {
	supported, err := vm.sys.GetSupportedCPUID()
	if err != nil {
		return err
	}
	for id := range vm.cfg.CPUs {
		c, err := vm.kvm.CreateVCPU(id)
		if err != nil {
			return err
		}
		vm.cpus = append(vm.cpus, c)
		vm.runners = append(vm.runners, vcpu.New(vcpu.Config{VCPU: c, PIO: vm.pio, MMIO: vm.mmio, Mem: vm.mem, Logger: vm.log}))
		cpuid, err := x86.FilterCPUID(supported, id, vm.cfg.CPUs)
		if err != nil {
			return fmt.Errorf("vmm: vcpu %d: %w", id, err)
		}
		if err := x86.ConfigureVCPU(c, cpuid); err != nil {
			return err
		}
	}
	bsp := vm.cpus[0]
	if vm.kernel.Protocol == loader.PVH {
		return x86.SetPVHEntry(bsp, vm.kernel.Entry)
	}
	return x86.SetLinux64Entry(bsp, vm.kernel.Entry, x86.ZeroPageAddr)
}
