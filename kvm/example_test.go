package kvm_test

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/kvm"
)

// A real-mode guest, hand-assembled: it writes "Hi" to port 0x10 and halts.
var helloGuest = []byte{
	0xb0, 'H', // mov al, 'H'
	0xe6, 0x10, // out 0x10, al
	0xb0, 'i', // mov al, 'i'
	0xe6, 0x10, // out 0x10, al
	0xf4, // hlt
}

const (
	guestRAMSize  = 0x10000 // 64 KiB at guest-physical 0
	guestCodeAddr = 0x1000
)

// This example runs a vCPU in real mode, the state it has after reset,
// through a few bytes of code, printing each exit. It needs /dev/kvm, so it
// has no checked output; TestExampleGuest runs the same code.
func Example() {
	sys, err := kvm.Open("")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sys.Close()
	if err := runHelloGuest(sys, os.Stdout); err != nil {
		fmt.Println(err)
	}
	// Prints:
	// io out port 0x10 size 1 count 1 data 48
	// io out port 0x10 size 1 count 1 data 69
	// hlt
}

func runHelloGuest(sys *kvm.System, w io.Writer) error {
	// Guest RAM is ordinary anonymous memory, mapped into the VM as slot 0.
	mem, err := unix.Mmap(-1, 0, guestRAMSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return err
	}
	defer unix.Munmap(mem)
	copy(mem[guestCodeAddr:], helloGuest)

	vm, err := sys.CreateVM()
	if err != nil {
		return err
	}
	defer vm.Close()
	if err := vm.SetUserMemoryRegion(0, 0, mem, 0); err != nil {
		return err
	}

	vcpu, err := vm.CreateVCPU(0)
	if err != nil {
		return err
	}
	defer vcpu.Close()
	// After reset CS:IP is f000:fff0; point it at the code instead.
	sregs, err := vcpu.GetSregs()
	if err != nil {
		return err
	}
	sregs.Cs.Base, sregs.Cs.Selector = 0, 0
	if err := vcpu.SetSregs(sregs); err != nil {
		return err
	}
	if err := vcpu.SetRegs(&kvm.Regs{Rip: guestCodeAddr, Rflags: 0x2}); err != nil {
		return err
	}

	for {
		exit, err := vcpu.Run()
		if err != nil {
			return err
		}
		if exit.Kind == kvm.ExitInterrupted {
			continue // a signal reached the thread: just run again
		}
		fmt.Fprintln(w, exit)
		switch exit.Kind {
		case kvm.ExitIO:
			// Nothing to emulate: the port has no device behind it.
		case kvm.ExitHLT:
			return nil
		default:
			return fmt.Errorf("unexpected exit: %v", exit)
		}
	}
}
