package kvm

import (
	"encoding/binary"
	"fmt"
)

// ExitKind classifies why Run returned.
type ExitKind uint8

const (
	// ExitUnknown is an exit package kvm does not decode; Exit.Reason holds
	// kvm_run.exit_reason, and for KVM_EXIT_UNKNOWN HardwareExitReason the
	// hardware's reason.
	ExitUnknown ExitKind = iota
	// ExitIO is a port I/O instruction (KVM_EXIT_IO); see Exit.IO.
	ExitIO
	// ExitMMIO is an access to guest-physical memory with no RAM behind it
	// (KVM_EXIT_MMIO); see Exit.MMIO.
	ExitMMIO
	// ExitHLT is a HLT with no in-kernel LAPIC to wait in (KVM_EXIT_HLT).
	ExitHLT
	// ExitShutdown is a triple fault (KVM_EXIT_SHUTDOWN): the vCPU cannot
	// continue.
	ExitShutdown
	// ExitSystemEvent is a guest-requested shutdown, reset or crash
	// (KVM_EXIT_SYSTEM_EVENT); see Exit.SystemEvent.
	ExitSystemEvent
	// ExitInternalError is KVM failing to run the guest, typically an
	// instruction its emulator cannot execute (KVM_EXIT_INTERNAL_ERROR); see
	// Exit.InternalError.
	ExitInternalError
	// ExitFailEntry is the hardware refusing to enter the guest, usually
	// invalid register state (KVM_EXIT_FAIL_ENTRY); see Exit.FailEntry.
	ExitFailEntry
	// ExitDebug is a guest-debug event (KVM_EXIT_DEBUG); see Exit.Debug.
	ExitDebug
	// ExitInterrupted means KVM_RUN returned EINTR: immediate_exit was set or
	// a signal arrived. Nothing happened in the guest; the caller decides
	// whether to run again.
	ExitInterrupted
	// ExitRetry means KVM_RUN returned EAGAIN, as it does on some hosts for
	// an application processor waiting for INIT/SIPI. Run it again.
	ExitRetry
)

var exitKindNames = [...]string{
	ExitUnknown:       "unknown",
	ExitIO:            "io",
	ExitMMIO:          "mmio",
	ExitHLT:           "hlt",
	ExitShutdown:      "shutdown",
	ExitSystemEvent:   "system event",
	ExitInternalError: "internal error",
	ExitFailEntry:     "fail entry",
	ExitDebug:         "debug",
	ExitInterrupted:   "interrupted",
	ExitRetry:         "retry",
}

func (k ExitKind) String() string {
	if int(k) < len(exitKindNames) {
		return exitKindNames[k]
	}
	return fmt.Sprintf("ExitKind(%d)", k)
}

// Exit is a decoded kvm_run exit. Only the field named by Kind is set. The
// Data slices of IO and MMIO alias the vCPU's run area: they are valid until
// the next Run, and writing them is how the VMM answers a read.
type Exit struct {
	Kind ExitKind
	// Reason is kvm_run.exit_reason (KVM_EXIT_*). It is KVM_EXIT_INTR for
	// ExitInterrupted and meaningless for ExitRetry.
	Reason             uint32
	IO                 IOExit
	MMIO               MMIOExit
	SystemEvent        SystemEventExit
	InternalError      InternalErrorExit
	FailEntry          FailEntryExit
	Debug              DebugExitArch
	HardwareExitReason uint64 // for KVM_EXIT_UNKNOWN
}

// IODirection is KVM_EXIT_IO_IN or KVM_EXIT_IO_OUT.
type IODirection uint8

const (
	IOIn  IODirection = KVM_EXIT_IO_IN
	IOOut IODirection = KVM_EXIT_IO_OUT
)

func (d IODirection) String() string {
	if d == IOOut {
		return "out"
	}
	return "in"
}

// IOExit is a port I/O exit. A string instruction (rep outs/ins) moves Count
// items of Size bytes in one exit; Data holds Size*Count bytes: the values
// written for IOOut, and the buffer the VMM fills for IOIn.
type IOExit struct {
	Port      uint16
	Size      uint8 // bytes per item: 1, 2 or 4
	Direction IODirection
	Count     uint32
	Data      []byte
}

// MMIOExit is an access to unbacked guest-physical memory. Data holds the
// Len bytes written, or is filled by the VMM for a read.
type MMIOExit struct {
	Addr    uint64
	Len     uint32
	IsWrite bool
	Data    []byte
}

// SystemEventExit is a guest request handled by the VMM: Type is
// KVM_SYSTEM_EVENT_SHUTDOWN, _RESET, _CRASH, ... Data carries the
// architecture-specific words (KVM_CAP_SYSTEM_EVENT_DATA); on older kernels
// it is empty and Flags holds the legacy flags word.
type SystemEventExit struct {
	Type  uint32
	Flags uint64
	Data  []uint64
}

// InternalErrorExit describes KVM_EXIT_INTERNAL_ERROR. Suberror is a
// KVM_INTERNAL_ERROR_* value and Data the kernel's debug words. For an
// emulation failure that carries them, InstructionBytes are the bytes KVM
// fetched at the failing RIP.
type InternalErrorExit struct {
	Suberror         uint32
	Data             []uint64
	InstructionBytes []byte
}

// FailEntryExit describes KVM_EXIT_FAIL_ENTRY: the VMX/SVM reason the
// hardware gave for refusing VM entry, on host CPU CPU.
type FailEntryExit struct {
	HardwareEntryFailureReason uint64
	CPU                        uint32
}

// decodeExit decodes the run area after a successful KVM_RUN.
func decodeExit(run []byte) (Exit, error) {
	reason := binary.LittleEndian.Uint32(run[runExitReasonOffset:])
	e := Exit{Reason: reason}
	switch reason {
	case KVM_EXIT_IO:
		io := exitPayload[runIO](run)
		n := uint64(io.Size) * uint64(io.Count)
		if io.Offset > uint64(len(run)) || n > uint64(len(run))-io.Offset {
			return e, fmt.Errorf("io exit data at %#x+%#x outside the %#x-byte run area", io.Offset, n, len(run))
		}
		e.Kind = ExitIO
		e.IO = IOExit{
			Port:      io.Port,
			Size:      io.Size,
			Direction: IODirection(io.Direction),
			Count:     io.Count,
			Data:      run[io.Offset : io.Offset+n : io.Offset+n],
		}
	case KVM_EXIT_MMIO:
		mmio := exitPayload[runMMIO](run)
		n := min(mmio.Len, uint32(len(mmio.Data)))
		e.Kind = ExitMMIO
		e.MMIO = MMIOExit{
			Addr:    mmio.Phys_addr,
			Len:     mmio.Len,
			IsWrite: mmio.Is_write != 0,
			Data:    run[runMMIODataOffset : runMMIODataOffset+n : runMMIODataOffset+n],
		}
	case KVM_EXIT_HLT:
		e.Kind = ExitHLT
	case KVM_EXIT_SHUTDOWN:
		e.Kind = ExitShutdown
	case KVM_EXIT_INTR:
		e.Kind = ExitInterrupted
	case KVM_EXIT_SYSTEM_EVENT:
		ev := exitPayload[runSystemEvent](run)
		e.Kind = ExitSystemEvent
		e.SystemEvent = SystemEventExit{
			Type:  ev.Type,
			Flags: ev.Flags,
			Data:  readU64s(run[runSystemEventDataOffset:], min(ev.Ndata, runSystemEventDataMax)),
		}
	case KVM_EXIT_INTERNAL_ERROR:
		e.Kind = ExitInternalError
		e.InternalError = decodeInternalError(run)
	case KVM_EXIT_FAIL_ENTRY:
		fe := exitPayload[runFailEntry](run)
		e.Kind = ExitFailEntry
		e.FailEntry = FailEntryExit{HardwareEntryFailureReason: fe.Entry_failure_reason, CPU: fe.Cpu}
	case KVM_EXIT_DEBUG:
		e.Kind = ExitDebug
		e.Debug = exitPayload[runDebug](run).Arch
	case KVM_EXIT_UNKNOWN:
		e.HardwareExitReason = exitPayload[runHW](run).Exit_reason
	}
	return e, nil
}

func decodeInternalError(run []byte) InternalErrorExit {
	in := exitPayload[runInternal](run)
	ie := InternalErrorExit{
		Suberror: in.Suberror,
		Data:     append([]uint64(nil), in.Data[:min(in.Ndata, uint32(len(in.Data)))]...),
	}
	if in.Suberror != KVM_INTERNAL_ERROR_EMULATION {
		return ie
	}
	ef := exitPayload[runEmulationFailure](run)
	// ndata counts the flags word and the 16 instruction bytes (3 words), so
	// a kernel that filled them says so twice.
	if ef.Ndata >= 3 && ef.Flags&KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES != 0 {
		n := min(int(run[runEmulationInsnSizeOffset]), runEmulationInsnBytesMax)
		ie.InstructionBytes = append([]byte(nil), run[runEmulationInsnBytesOffset:runEmulationInsnBytesOffset+n]...)
	}
	return ie
}

func readU64s(b []byte, n uint32) []uint64 {
	if n == 0 {
		return nil
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return out
}

// String describes the exit in one line, for logs and error messages.
func (e Exit) String() string {
	switch e.Kind {
	case ExitIO:
		if e.IO.Direction == IOOut {
			return fmt.Sprintf("io out port %#x size %d count %d data % x", e.IO.Port, e.IO.Size, e.IO.Count, e.IO.Data)
		}
		return fmt.Sprintf("io in port %#x size %d count %d", e.IO.Port, e.IO.Size, e.IO.Count)
	case ExitMMIO:
		if e.MMIO.IsWrite {
			return fmt.Sprintf("mmio write %#x len %d data % x", e.MMIO.Addr, e.MMIO.Len, e.MMIO.Data)
		}
		return fmt.Sprintf("mmio read %#x len %d", e.MMIO.Addr, e.MMIO.Len)
	case ExitSystemEvent:
		return fmt.Sprintf("system event %s data %#x", systemEventName(e.SystemEvent.Type), e.SystemEvent.Data)
	case ExitInternalError:
		s := fmt.Sprintf("internal error suberror %d (%s) data %#x", e.InternalError.Suberror,
			internalErrorName(e.InternalError.Suberror), e.InternalError.Data)
		if len(e.InternalError.InstructionBytes) > 0 {
			s += fmt.Sprintf(" instruction bytes % x", e.InternalError.InstructionBytes)
		}
		return s
	case ExitFailEntry:
		return fmt.Sprintf("fail entry hardware reason %#x cpu %d", e.FailEntry.HardwareEntryFailureReason, e.FailEntry.CPU)
	case ExitDebug:
		return fmt.Sprintf("debug exception %d pc %#x dr6 %#x dr7 %#x", e.Debug.Exception, e.Debug.Pc, e.Debug.Dr6, e.Debug.Dr7)
	case ExitUnknown:
		if e.Reason == KVM_EXIT_UNKNOWN {
			return fmt.Sprintf("unknown exit (hardware exit reason %#x)", e.HardwareExitReason)
		}
		return fmt.Sprintf("unhandled exit reason %d", e.Reason)
	}
	return e.Kind.String()
}

func systemEventName(t uint32) string {
	switch t {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		return "shutdown"
	case KVM_SYSTEM_EVENT_RESET:
		return "reset"
	case KVM_SYSTEM_EVENT_CRASH:
		return "crash"
	case KVM_SYSTEM_EVENT_WAKEUP:
		return "wakeup"
	case KVM_SYSTEM_EVENT_SUSPEND:
		return "suspend"
	case KVM_SYSTEM_EVENT_SEV_TERM:
		return "sev-term"
	}
	return fmt.Sprintf("type %d", t)
}

func internalErrorName(suberror uint32) string {
	switch suberror {
	case KVM_INTERNAL_ERROR_EMULATION:
		return "emulation failure"
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		return "simultaneous exceptions"
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		return "exit during event delivery"
	case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON:
		return "unexpected exit reason"
	}
	return "unknown"
}
