package x86

import (
	"fmt"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/kvm"
)

// The register state vCPUs start with.
//
// Every vCPU gets ConfigureVCPU (CPUID, MSRs, FPU, LAPIC LINT pins) before
// it first runs. Only the bootstrap processor, vCPU 0, is then put at an
// entry point, with SetLinux64Entry or SetPVHEntry. The application
// processors keep their reset state: with the in-kernel irqchip KVM creates
// every vCPU but 0 in KVM_MP_STATE_UNINITIALIZED, waiting for the INIT/SIPI
// the guest's BSP sends through its LAPIC, after which the AP starts in real
// mode at the SIPI vector like a physical one (TestAPsWaitForSIPI checks
// this). Until then their KVM_RUN returns EAGAIN on some hosts
// (kvm.ExitRetry).

// Control-register, EFER and RFLAGS bits (Intel SDM vol. 3A, 2.5 and 2.2.1).
const (
	CR0PE          = 1 << 0  // protected mode
	CR0ET          = 1 << 4  // extension type; hardwired to 1
	CR0NE          = 1 << 5  // native x87 error reporting
	CR0PG          = 1 << 31 // paging
	CR4PAE         = 1 << 5  // physical address extension
	EFERLME        = 1 << 8  // long mode enable
	EFERLMA        = 1 << 10 // long mode active
	RFLAGSReserved = 1 << 1  // always 1
)

// Local APIC LVT registers and delivery modes (Intel SDM vol. 3A, 11.5.1).
const (
	apicLVTLINT0         = 0x350
	apicLVTLINT1         = 0x360
	apicDeliveryModeMask = 0x7 << 8
	apicDeliveryNMI      = 0x4 << 8
	apicDeliveryExtINT   = 0x7 << 8
)

// Reset values of the x87 control word (all exceptions masked, 64-bit
// precision) and of MXCSR (all SIMD exceptions masked), as FNINIT and reset
// leave them.
const (
	fpuControlWord = 0x37f
	mxcsrDefault   = 0x1f80
)

// BootSegment is the segment register state for selector sel of BootGDT:
// the hidden descriptor cache KVM loads must equal the descriptor the guest
// would load from the GDT in memory.
func BootSegment(sel uint16) kvm.Segment {
	d := DecodeDescriptor(sel)
	return kvm.Segment{
		Base:     d.Base,
		Limit:    d.Limit,
		Selector: d.Selector,
		Type:     d.Type,
		Present:  flag(d.Present),
		Dpl:      d.DPL,
		Db:       flag(d.DB),
		S:        flag(d.S),
		L:        flag(d.L),
		G:        flag(d.G),
		Avl:      flag(d.AVL),
		Unusable: flag(!d.Present),
	}
}

func flag(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// setBootTables points GDTR at BootGDT and IDTR at an empty IDT: the guest
// runs with interrupts off until it loads its own.
func setBootTables(s *kvm.Sregs) {
	s.Gdt = kvm.DTable{Base: uint64(GDTAddr), Limit: uint16(len(BootGDT)*8 - 1)}
	s.Idt = kvm.DTable{Base: uint64(IDTAddr), Limit: BootIDTSize - 1}
	s.Tr = BootSegment(SelTSS)
}

// SetLinux64Sregs puts s in the state of the Linux 64-bit boot protocol
// (Documentation/arch/x86/boot.rst): long mode with paging through the
// identity page tables at PML4Addr, flat 64-bit code and data segments from
// BootGDT. Fields it does not name (LDT, APIC base, ...) keep their value.
func SetLinux64Sregs(s *kvm.Sregs) {
	s.Cs = BootSegment(SelCode64)
	data := BootSegment(SelData)
	s.Ds, s.Es, s.Fs, s.Gs, s.Ss = data, data, data, data, data
	setBootTables(s)
	s.Cr0 = CR0PE | CR0ET | CR0NE | CR0PG
	s.Cr3 = uint64(PML4Addr)
	s.Cr4 = CR4PAE
	s.Efer = EFERLME | EFERLMA
}

// SetPVHSregs puts s in the state of the PVH entry (xen/include/public/
// arch-x86/hvm/start_info.h): 32-bit protected mode, paging off, flat 4 GiB
// code and data segments from BootGDT.
func SetPVHSregs(s *kvm.Sregs) {
	s.Cs = BootSegment(SelCode32)
	data := BootSegment(SelData)
	s.Ds, s.Es, s.Fs, s.Gs, s.Ss = data, data, data, data, data
	setBootTables(s)
	s.Cr0 = CR0PE | CR0ET
	s.Cr3 = 0
	s.Cr4 = 0
	s.Efer = 0
}

// Linux64Regs is the BSP's general-purpose register state at a 64-bit Linux
// entry point: RSI holds the zero page (struct boot_params), the stack is
// at BootStackTop, interrupts are off.
func Linux64Regs(entry, zeroPage guestmem.Addr) kvm.Regs {
	return kvm.Regs{
		Rip:    uint64(entry),
		Rsi:    uint64(zeroPage),
		Rsp:    uint64(BootStackTop),
		Rbp:    uint64(BootStackTop),
		Rflags: RFLAGSReserved,
	}
}

// PVHRegs is the BSP's general-purpose register state at a PVH entry point:
// EBX holds the hvm_start_info at PVHStartInfoAddr, interrupts are off.
func PVHRegs(entry guestmem.Addr) kvm.Regs {
	return kvm.Regs{
		Rip:    uint64(entry),
		Rbx:    uint64(PVHStartInfoAddr),
		Rflags: RFLAGSReserved,
	}
}

// BootFPU is the x87/SSE state every vCPU starts with: FNINIT's control
// word and the default MXCSR. KVM_SET_FPU ignores MXCSR (it is part of the
// XSAVE state), which KVM resets to the same value; it is set here anyway so
// the intent is in one place.
func BootFPU() kvm.FPU {
	return kvm.FPU{Fcw: fpuControlWord, Mxcsr: mxcsrDefault}
}

// SetBootLINTs wires the local APIC's LINT pins as on a PC: LINT0 receives
// the 8259 PIC's interrupts (ExtINT) and LINT1 the NMI. Only the delivery
// mode is changed; mask and trigger bits keep their values.
func SetBootLINTs(l *kvm.LAPICState) {
	l.SetReg(apicLVTLINT0, l.Reg(apicLVTLINT0)&^apicDeliveryModeMask|apicDeliveryExtINT)
	l.SetReg(apicLVTLINT1, l.Reg(apicLVTLINT1)&^apicDeliveryModeMask|apicDeliveryNMI)
}

// ConfigureVCPU gives a vCPU, BSP or AP, the state it needs before it first
// runs: its CPUID table (from FilterCPUID), BootMSRs, BootFPU and the LINT
// wiring. The VM must have an in-kernel irqchip (VM.CreateIRQChip). CPUID
// goes first because KVM checks MSR writes against it.
func ConfigureVCPU(vcpu *kvm.VCPU, cpuid []kvm.CPUIDEntry) error {
	if err := vcpu.SetCPUID2(cpuid); err != nil {
		return fmt.Errorf("x86: configure vcpu %d: %w", vcpu.ID(), err)
	}
	if err := vcpu.SetMSRs(BootMSRs()); err != nil {
		return fmt.Errorf("x86: configure vcpu %d: %w", vcpu.ID(), err)
	}
	fpu := BootFPU()
	if err := vcpu.SetFPU(&fpu); err != nil {
		return fmt.Errorf("x86: configure vcpu %d: %w", vcpu.ID(), err)
	}
	lapic, err := vcpu.GetLAPIC()
	if err != nil {
		return fmt.Errorf("x86: configure vcpu %d: %w", vcpu.ID(), err)
	}
	SetBootLINTs(lapic)
	if err := vcpu.SetLAPIC(lapic); err != nil {
		return fmt.Errorf("x86: configure vcpu %d: %w", vcpu.ID(), err)
	}
	return nil
}

// SetLinux64Entry puts the BSP at a 64-bit Linux boot protocol entry point
// with zeroPage in RSI. The guest memory it relies on (BootGDT at GDTAddr,
// the identity page tables at PML4Addr, the zero page) is written by the
// caller.
func SetLinux64Entry(vcpu *kvm.VCPU, entry, zeroPage guestmem.Addr) error {
	regs := Linux64Regs(entry, zeroPage)
	if err := setEntry(vcpu, SetLinux64Sregs, &regs); err != nil {
		return fmt.Errorf("x86: set linux 64-bit entry %#x: %w", entry, err)
	}
	return nil
}

// SetPVHEntry puts the BSP at a PVH entry point with the start info's
// address in EBX. BootGDT at GDTAddr and the start info are written by the
// caller.
func SetPVHEntry(vcpu *kvm.VCPU, entry guestmem.Addr) error {
	regs := PVHRegs(entry)
	if err := setEntry(vcpu, SetPVHSregs, &regs); err != nil {
		return fmt.Errorf("x86: set pvh entry %#x: %w", entry, err)
	}
	return nil
}

func setEntry(vcpu *kvm.VCPU, setSregs func(*kvm.Sregs), regs *kvm.Regs) error {
	sregs, err := vcpu.GetSregs()
	if err != nil {
		return err
	}
	setSregs(sregs)
	if err := vcpu.SetSregs(sregs); err != nil {
		return err
	}
	return vcpu.SetRegs(regs)
}
