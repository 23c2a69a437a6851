package x86_test

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/kvm"
	"github.com/gluevmm/glue/kvm/kvmtest"
	"github.com/gluevmm/glue/test/hosttest"
	"github.com/gluevmm/glue/x86"
)

const (
	testRAM   = 4 << 20
	entryAddr = x86.HighMemStart
	outPort   = 0x10
)

// newBootVM creates a VM with testRAM of memory holding BootGDT and an empty
// IDT, and an in-kernel irqchip, as ConfigureVCPU requires.
func newBootVM(t *testing.T) (*kvm.System, *kvm.VM, *guestmem.Memory) {
	t.Helper()
	sys := kvmtest.Open(t)
	vm, mem := kvmtest.NewVMWithRAM(t, sys, x86.RAMSpans(testRAM))
	if err := vm.CreateIRQChip(); err != nil {
		t.Fatal(err)
	}
	for i, d := range x86.BootGDT {
		mustWriteU64(t, mem, x86.GDTAddr+guestmem.Addr(8*i), d)
	}
	mustWriteU64(t, mem, x86.IDTAddr, 0)
	return sys, vm, mem
}

// writeIdentityMap maps the first GiB 1:1 with 2 MiB pages, through the
// table addresses SetLinux64Sregs points CR3 at.
func writeIdentityMap(t *testing.T, mem *guestmem.Memory) {
	const present, writable, huge = 1 << 0, 1 << 1, 1 << 7
	mustWriteU64(t, mem, x86.PML4Addr, uint64(x86.PDPTAddr)|present|writable)
	mustWriteU64(t, mem, x86.PDPTAddr, uint64(x86.PDAddr)|present|writable)
	for i := range 512 {
		mustWriteU64(t, mem, x86.PDAddr+guestmem.Addr(8*i), uint64(i)<<21|present|writable|huge)
	}
}

func mustWriteU64(t *testing.T, mem *guestmem.Memory, addr guestmem.Addr, v uint64) {
	t.Helper()
	if err := mem.WriteU64(addr, v); err != nil {
		t.Fatal(err)
	}
}

// An out is one 32-bit value the guest wrote to outPort, compared under mask.
type out struct {
	what       string
	mask, want uint32
}

const all = ^uint32(0)

// TestBootEntryOnKVM starts a vCPU at each boot protocol's entry and lets a
// few bytes of guest code report, through port I/O, the state it found.
func TestBootEntryOnKVM(t *testing.T) {
	tests := []struct {
		name     string
		pageMaps bool
		setEntry func(*kvm.VCPU) error
		code     []byte
		outs     []out
		wantEFER uint64
	}{
		{
			name:     "linux 64-bit",
			pageMaps: true,
			setEntry: func(v *kvm.VCPU) error { return x86.SetLinux64Entry(v, entryAddr, x86.ZeroPageAddr) },
			code: []byte{
				0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, // movabs rax, 0x1122334455667788
				0x48, 0xc1, 0xe8, 0x20, // shr rax, 32
				0x66, 0xba, outPort, 0x00, // mov dx, outPort
				0xef,             // out dx, eax
				0x48, 0x89, 0xf0, // mov rax, rsi
				0xef,             // out dx, eax
				0x48, 0x89, 0xe0, // mov rax, rsp
				0xef,             // out dx, eax
				0x0f, 0x20, 0xc0, // mov rax, cr0
				0xef,             // out dx, eax
				0x0f, 0x20, 0xe0, // mov rax, cr4
				0xef,                         // out dx, eax
				0xb8, 0x01, 0x00, 0x00, 0x00, // mov eax, 1
				0x0f, 0xa2, // cpuid
				0x89, 0xc8, // mov eax, ecx
				0x66, 0xba, outPort, 0x00, // mov dx, outPort
				0xef, // out dx, eax
				0xf4, // hlt
			},
			outs: []out{
				{"high half of a 64-bit immediate (only decodes so in long mode)", all, 0x1122_3344},
				{"RSI = zero page", all, uint32(x86.ZeroPageAddr)},
				{"RSP = boot stack", all, uint32(x86.BootStackTop)},
				{"CR0", all, x86.CR0PE | x86.CR0ET | x86.CR0NE | x86.CR0PG},
				{"CR4", all, x86.CR4PAE},
				{"CPUID.1 ECX hypervisor bit", 1 << 31, 1 << 31},
			},
			wantEFER: x86.EFERLME | x86.EFERLMA,
		},
		{
			name:     "pvh",
			setEntry: func(v *kvm.VCPU) error { return x86.SetPVHEntry(v, entryAddr) },
			code: []byte{
				0xb8, 0x44, 0x33, 0x22, 0x11, // mov eax, 0x11223344 (a 32-bit immediate)
				0x66, 0xba, outPort, 0x00, // mov dx, outPort
				0xef,       // out dx, eax
				0x89, 0xd8, // mov eax, ebx
				0xef,             // out dx, eax
				0x0f, 0x20, 0xc0, // mov eax, cr0
				0xef,             // out dx, eax
				0x0f, 0x20, 0xe0, // mov eax, cr4
				0xef, // out dx, eax
				0xf4, // hlt
			},
			outs: []out{
				{"32-bit immediate (only decodes so in 32-bit mode)", all, 0x1122_3344},
				{"EBX = start info", all, uint32(x86.PVHStartInfoAddr)},
				{"CR0", all, x86.CR0PE | x86.CR0ET},
				{"CR4", all, 0},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys, vm, mem := newBootVM(t)
			if tt.pageMaps {
				writeIdentityMap(t, mem)
			}
			if err := mem.WriteAt(tt.code, entryAddr); err != nil {
				t.Fatal(err)
			}
			vcpu, err := vm.CreateVCPU(0)
			if err != nil {
				t.Fatal(err)
			}
			defer vcpu.Close()
			supported, err := sys.GetSupportedCPUID()
			if err != nil {
				t.Fatal(err)
			}
			cpuid, err := x86.FilterCPUID(supported, 0, 1)
			if err != nil {
				t.Fatal(err)
			}
			if err := x86.ConfigureVCPU(vcpu, cpuid); err != nil {
				t.Fatal(err)
			}
			if err := tt.setEntry(vcpu); err != nil {
				t.Fatal(err)
			}
			for _, o := range tt.outs {
				exit := runToExit(t, vcpu)
				if exit.Kind != kvm.ExitIO || exit.IO.Direction != kvm.IOOut || exit.IO.Port != outPort || exit.IO.Size != 4 {
					t.Fatalf("%s: exit %v, want a 4-byte out to %#x", o.what, exit, outPort)
				}
				if got := binary.LittleEndian.Uint32(exit.IO.Data); got&o.mask != o.want {
					t.Errorf("%s: guest reported %#x, want %#x (mask %#x)", o.what, got, o.want, o.mask)
				}
			}
			sregs, err := vcpu.GetSregs()
			if err != nil {
				t.Fatal(err)
			}
			if sregs.Efer&(x86.EFERLME|x86.EFERLMA) != tt.wantEFER {
				t.Errorf("EFER = %#x, want LME|LMA = %#x", sregs.Efer, tt.wantEFER)
			}
		})
	}
}

func runToExit(t *testing.T, vcpu *kvm.VCPU) kvm.Exit {
	t.Helper()
	for {
		exit, err := vcpu.Run()
		if err != nil {
			t.Fatal(err)
		}
		if exit.Kind != kvm.ExitInterrupted {
			return exit
		}
	}
}

// TestConfigureVCPUOnKVM reads back what ConfigureVCPU set.
func TestConfigureVCPUOnKVM(t *testing.T) {
	sys, vm, _ := newBootVM(t)
	vcpu, err := vm.CreateVCPU(0)
	if err != nil {
		t.Fatal(err)
	}
	defer vcpu.Close()
	supported, err := sys.GetSupportedCPUID()
	if err != nil {
		t.Fatal(err)
	}
	cpuid, err := x86.FilterCPUID(supported, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := x86.ConfigureVCPU(vcpu, cpuid); err != nil {
		t.Fatal(err)
	}

	msrs := x86.BootMSRs()
	for i := range msrs {
		msrs[i].Data = 0xdead // must be overwritten by the read
	}
	if err := vcpu.GetMSRs(msrs); err != nil {
		t.Fatal(err)
	}
	for i, want := range x86.BootMSRs() {
		if want.Index == x86.MSRIA32TSC {
			continue // it has been counting since it was set
		}
		if msrs[i].Data != want.Data {
			t.Errorf("MSR %#x = %#x, want %#x", want.Index, msrs[i].Data, want.Data)
		}
	}

	lapic, err := vcpu.GetLAPIC()
	if err != nil {
		t.Fatal(err)
	}
	if mode := lapic.Reg(0x350) & 0x700; mode != 0x700 {
		t.Errorf("LVT LINT0 delivery mode %#x, want ExtINT (0x700)", mode)
	}
	if mode := lapic.Reg(0x360) & 0x700; mode != 0x400 {
		t.Errorf("LVT LINT1 delivery mode %#x, want NMI (0x400)", mode)
	}

	fpu, err := vcpu.GetFPU()
	if err != nil {
		t.Fatal(err)
	}
	if fpu.Fcw != 0x37f {
		t.Errorf("FPU control word %#x, want 0x37f", fpu.Fcw)
	}
}

// TestAPsWaitForSIPI checks what ConfigureVCPU's documentation relies on:
// with the in-kernel irqchip, KVM itself parks every vCPU but 0 waiting for
// INIT/SIPI, so glue sets no MP state; without it, all start runnable.
func TestAPsWaitForSIPI(t *testing.T) {
	tests := []struct {
		name    string
		irqchip bool
		want    []uint32
	}{
		{"in-kernel irqchip", true, []uint32{kvm.KVM_MP_STATE_RUNNABLE, kvm.KVM_MP_STATE_UNINITIALIZED, kvm.KVM_MP_STATE_UNINITIALIZED}},
		{"no irqchip", false, []uint32{kvm.KVM_MP_STATE_RUNNABLE, kvm.KVM_MP_STATE_RUNNABLE, kvm.KVM_MP_STATE_RUNNABLE}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sys := kvmtest.Open(t)
			if len(tt.want) > sys.MaxVCPUs() {
				hosttest.Skip(t, hosttest.ReasonKVM, fmt.Sprintf("the test needs %d vCPUs, this host's KVM allows %d", len(tt.want), sys.MaxVCPUs()))
			}
			vm, _ := kvmtest.NewVM(t, sys, 1<<20)
			if tt.irqchip {
				if err := vm.CreateIRQChip(); err != nil {
					t.Fatal(err)
				}
			}
			for id, want := range tt.want {
				vcpu, err := vm.CreateVCPU(id)
				if err != nil {
					t.Fatal(err)
				}
				defer vcpu.Close()
				got, err := vcpu.GetMPState()
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("vcpu %d MP state %d, want %d", id, got, want)
				}
			}
		})
	}
}
