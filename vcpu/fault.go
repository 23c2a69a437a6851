package vcpu

import (
	"fmt"
	"strings"

	"golang.org/x/arch/x86/x86asm"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/kvm"
)

// Fault is an exit the guest cannot continue from. Its message is one line
// meant for the user: what happened, on which vCPU, where, and the
// instruction when there is one.
type Fault struct {
	VCPU        int
	Exit        kvm.Exit
	RIP         uint64
	Instruction string // decoded instruction, "" if unknown
	Bytes       []byte // instruction bytes, if known
}

func (f *Fault) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "vcpu %d: ", f.VCPU)
	switch f.Exit.Kind {
	case kvm.ExitShutdown:
		b.WriteString("guest triple fault (KVM_EXIT_SHUTDOWN)")
	case kvm.ExitInternalError:
		ie := f.Exit.InternalError
		if ie.Suberror == kvm.KVM_INTERNAL_ERROR_EMULATION {
			b.WriteString("KVM could not emulate an instruction (KVM_EXIT_INTERNAL_ERROR, suberror 1: emulation failure)")
		} else {
			fmt.Fprintf(&b, "KVM internal error (KVM_EXIT_INTERNAL_ERROR, suberror %d) data %#x", ie.Suberror, ie.Data)
		}
	case kvm.ExitFailEntry:
		fmt.Fprintf(&b, "VM entry failed (KVM_EXIT_FAIL_ENTRY, hardware reason %#x)", f.Exit.FailEntry.HardwareEntryFailureReason)
	case kvm.ExitSystemEvent:
		if f.Exit.SystemEvent.Type == kvm.KVM_SYSTEM_EVENT_CRASH {
			b.WriteString("guest reported a crash (KVM_SYSTEM_EVENT_CRASH)")
		} else {
			fmt.Fprintf(&b, "unexpected system event %d", f.Exit.SystemEvent.Type)
		}
	default:
		fmt.Fprintf(&b, "unexpected exit %s (reason %d)", f.Exit.Kind, f.Exit.Reason)
	}
	fmt.Fprintf(&b, " at RIP %#x", f.RIP)
	if f.Instruction != "" {
		fmt.Fprintf(&b, ": %s", f.Instruction)
	}
	if len(f.Bytes) > 0 {
		fmt.Fprintf(&b, " [% x]", f.Bytes)
	}
	return b.String()
}

// fault builds a Fault for exit, reading RIP and the instruction there.
func (v *VCPU) fault(exit kvm.Exit) error {
	f := &Fault{VCPU: v.cfg.VCPU.ID(), Exit: exit}
	regs, err := v.cfg.VCPU.GetRegs()
	if err != nil {
		return f // the exit itself is the more useful message
	}
	f.RIP = regs.Rip
	mode := 64
	if sregs, err := v.cfg.VCPU.GetSregs(); err == nil {
		switch {
		case sregs.Cs.L != 0:
			mode = 64
		case sregs.Cs.Db != 0:
			mode = 32
		default:
			mode = 16
		}
		if mode != 64 {
			f.RIP = sregs.Cs.Base + regs.Rip
		}
	}
	if exit.Kind != kvm.ExitInternalError {
		return f
	}
	code := exit.InternalError.InstructionBytes
	if len(code) == 0 {
		code = v.fetchInstruction(f.RIP)
	}
	f.Instruction, f.Bytes = decodeInstruction(code, mode, f.RIP)
	return f
}

// decodeInstruction disassembles the instruction at the start of code
// (Intel syntax) and trims code to its length; it returns code unchanged
// and no text when the bytes do not decode.
func decodeInstruction(code []byte, mode int, rip uint64) (string, []byte) {
	inst, err := x86asm.Decode(code, mode)
	if err != nil || inst.Op == 0 {
		return "", code // Op 0: only prefixes decoded, the rest is invalid or cut off
	}
	return x86asm.IntelSyntax(inst, rip, nil), code[:inst.Len]
}

// fetchInstruction reads up to 15 bytes at the guest's linear address rip,
// stopping at the first byte it cannot translate or read.
func (v *VCPU) fetchInstruction(rip uint64) []byte {
	const maxInstruction = 15
	var code []byte
	for i := uint64(0); i < maxInstruction; i++ {
		t, err := v.cfg.VCPU.Translate(rip + i)
		if err != nil || t.Valid == 0 {
			break
		}
		var b [1]byte
		if v.cfg.Mem.ReadAt(b[:], guestmem.Addr(t.Physical_address)) != nil {
			break
		}
		code = append(code, b[0])
	}
	return code
}
