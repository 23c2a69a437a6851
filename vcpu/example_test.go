package vcpu_test

import (
	"fmt"
	"os"

	"github.com/gluevmm/glue/bus"
	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/kvm"
	"github.com/gluevmm/glue/vcpu"
)

// stdoutPort prints what the guest writes to it and stops the vCPU on '\n'.
type stdoutPort struct{ v **vcpu.VCPU }

func (stdoutPort) Read(_ uint64, data []byte) { clear(data) }
func (p stdoutPort) Write(_ uint64, data []byte) {
	os.Stdout.Write(data)
	if data[0] == '\n' {
		(*p.v).Stop()
	}
}

// A real-mode guest prints "hi" through a port on the I/O bus. (It needs
// /dev/kvm, so the example is compiled but not run by go test; the package
// tests run the same steps.)
func Example() {
	sys, err := kvm.Open("")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sys.Close()
	vm, _ := sys.CreateVM()
	defer vm.Close()
	mem, _ := guestmem.New([]guestmem.Span{{Base: 0, Size: 0x10000}})
	defer mem.Close()
	vm.SetUserMemoryRegion(0, 0, mem.Regions()[0].Host(), 0)
	// mov al,'h'; out 0x10,al; mov al,'i'; out 0x10,al; mov al,10; out 0x10,al; jmp $
	mem.WriteAt([]byte{0xb0, 'h', 0xe6, 0x10, 0xb0, 'i', 0xe6, 0x10, 0xb0, '\n', 0xe6, 0x10, 0xeb, 0xfe}, 0x1000)

	cpu, _ := vm.CreateVCPU(0)
	defer cpu.Close()
	sregs, _ := cpu.GetSregs()
	sregs.Cs.Base, sregs.Cs.Selector = 0, 0
	cpu.SetSregs(sregs)
	cpu.SetRegs(&kvm.Regs{Rip: 0x1000, Rflags: 2})

	var v *vcpu.VCPU
	var pio bus.Bus
	pio.Insert(0x10, 1, stdoutPort{&v})
	v = vcpu.New(vcpu.Config{VCPU: cpu, PIO: &pio, MMIO: &bus.Bus{}, Mem: mem})
	fmt.Println(v.Run())
}
