//go:build ignore

// Input to `go tool cgo -godefs`: the C layouts and constants package kvm
// uses, taken from the kernel's UAPI headers. mkztypes.go turns it into the
// checked-in ztypes_linux_amd64.go; see doc.go for the command.
//
// A doc comment on a type, or on a const group, is carried over to the
// output by mkztypes.go (cgo -godefs drops comments).

package kvm

/*
#include <stddef.h>
#include <linux/kvm.h>

// The members of kvm_run's anonymous exit union, given names so that godefs
// lays each one out as a Go struct. run_unsafe.go overlays them on the union.
typedef __typeof__(((struct kvm_run *)0)->hw) kvm_run_hw;
typedef __typeof__(((struct kvm_run *)0)->fail_entry) kvm_run_fail_entry;
typedef __typeof__(((struct kvm_run *)0)->io) kvm_run_io;
typedef __typeof__(((struct kvm_run *)0)->mmio) kvm_run_mmio;
typedef __typeof__(((struct kvm_run *)0)->debug) kvm_run_debug;
typedef __typeof__(((struct kvm_run *)0)->internal) kvm_run_internal;
typedef __typeof__(((struct kvm_run *)0)->emulation_failure) kvm_run_emulation_failure;
typedef __typeof__(((struct kvm_run *)0)->system_event) kvm_run_system_event;

// Offsets into struct kvm_run. Its header has no stable Go layout through
// godefs (the exit union is anonymous), so the fields package kvm touches are
// located by offset instead.
enum {
	kvm_run_size = sizeof(struct kvm_run),
	kvm_run_immediate_exit_offset = offsetof(struct kvm_run, immediate_exit),
	kvm_run_exit_reason_offset = offsetof(struct kvm_run, exit_reason),
	kvm_run_exit_offset = offsetof(struct kvm_run, hw),
	kvm_run_exit_size = sizeof(((struct kvm_run *)0)->padding),
	kvm_run_mmio_data_offset = offsetof(struct kvm_run, mmio.data),
	kvm_run_emulation_insn_size_offset = offsetof(struct kvm_run, emulation_failure.insn_size),
	kvm_run_emulation_insn_bytes_offset = offsetof(struct kvm_run, emulation_failure.insn_bytes),
	kvm_run_emulation_insn_bytes_max = sizeof(((struct kvm_run *)0)->emulation_failure.insn_bytes),
	kvm_run_system_event_data_offset = offsetof(struct kvm_run, system_event.data),
	kvm_run_system_event_data_max = sizeof(((struct kvm_run *)0)->system_event.data) / sizeof(__u64),
};
*/
import "C"

// Regs mirrors struct kvm_regs (asm/kvm.h): the general-purpose registers.
type Regs C.struct_kvm_regs

// Segment mirrors struct kvm_segment (asm/kvm.h): a segment register with
// its hidden descriptor cache.
type Segment C.struct_kvm_segment

// DTable mirrors struct kvm_dtable (asm/kvm.h): a GDTR or IDTR.
type DTable C.struct_kvm_dtable

// Sregs mirrors struct kvm_sregs (asm/kvm.h): segment, descriptor-table and
// control registers.
type Sregs C.struct_kvm_sregs

// FPU mirrors struct kvm_fpu (asm/kvm.h): x87 and SSE state.
type FPU C.struct_kvm_fpu

// MSREntry mirrors struct kvm_msr_entry (asm/kvm.h): one model-specific
// register, Index and its value Data.
type MSREntry C.struct_kvm_msr_entry

// msrsHeader mirrors struct kvm_msrs (asm/kvm.h) up to its flexible array of
// struct kvm_msr_entry.
type msrsHeader C.struct_kvm_msrs

// CPUIDEntry mirrors struct kvm_cpuid_entry2 (asm/kvm.h): the result of CPUID
// for one leaf (Function) and, where Flags has KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
// one subleaf (Index).
type CPUIDEntry C.struct_kvm_cpuid_entry2

// cpuid2Header mirrors struct kvm_cpuid2 (asm/kvm.h) up to its flexible array
// of struct kvm_cpuid_entry2.
type cpuid2Header C.struct_kvm_cpuid2

// LAPICState mirrors struct kvm_lapic_state (asm/kvm.h): the local APIC's
// register page. Use Reg and SetReg to access the 32-bit registers.
type LAPICState C.struct_kvm_lapic_state

// DebugExitArch mirrors struct kvm_debug_exit_arch (asm/kvm.h), the payload
// of KVM_EXIT_DEBUG.
type DebugExitArch C.struct_kvm_debug_exit_arch

// mpState mirrors struct kvm_mp_state (linux/kvm.h).
type mpState C.struct_kvm_mp_state

// Translation mirrors struct kvm_translation (linux/kvm.h): the result of
// KVM_TRANSLATE.
type Translation C.struct_kvm_translation

// userspaceMemoryRegion mirrors struct kvm_userspace_memory_region (linux/kvm.h).
type userspaceMemoryRegion C.struct_kvm_userspace_memory_region

// pitConfig mirrors struct kvm_pit_config (linux/kvm.h).
type pitConfig C.struct_kvm_pit_config

// irqLevel mirrors struct kvm_irq_level (linux/kvm.h).
type irqLevel C.struct_kvm_irq_level

// irqfdRequest mirrors struct kvm_irqfd (linux/kvm.h).
type irqfdRequest C.struct_kvm_irqfd

// ioeventfdRequest mirrors struct kvm_ioeventfd (linux/kvm.h).
type ioeventfdRequest C.struct_kvm_ioeventfd

// msiRequest mirrors struct kvm_msi (linux/kvm.h).
type msiRequest C.struct_kvm_msi

// irqRoutingEntry mirrors struct kvm_irq_routing_entry (linux/kvm.h); its
// union U is encoded by hand (irq.go).
type irqRoutingEntry C.struct_kvm_irq_routing_entry

// irqRoutingHeader mirrors struct kvm_irq_routing (linux/kvm.h) up to its
// flexible array of struct kvm_irq_routing_entry.
type irqRoutingHeader C.struct_kvm_irq_routing

// runHW mirrors kvm_run.hw (linux/kvm.h), the payload of KVM_EXIT_UNKNOWN.
type runHW C.kvm_run_hw

// runFailEntry mirrors kvm_run.fail_entry (linux/kvm.h), KVM_EXIT_FAIL_ENTRY.
type runFailEntry C.kvm_run_fail_entry

// runIO mirrors kvm_run.io (linux/kvm.h), KVM_EXIT_IO.
type runIO C.kvm_run_io

// runMMIO mirrors kvm_run.mmio (linux/kvm.h), KVM_EXIT_MMIO.
type runMMIO C.kvm_run_mmio

// runDebug mirrors kvm_run.debug (linux/kvm.h), KVM_EXIT_DEBUG.
type runDebug C.kvm_run_debug

// runInternal mirrors kvm_run.internal (linux/kvm.h), KVM_EXIT_INTERNAL_ERROR.
type runInternal C.kvm_run_internal

// runEmulationFailure mirrors kvm_run.emulation_failure (linux/kvm.h), the
// KVM_INTERNAL_ERROR_EMULATION overlay of kvm_run.internal.
type runEmulationFailure C.kvm_run_emulation_failure

// runSystemEvent mirrors kvm_run.system_event (linux/kvm.h), KVM_EXIT_SYSTEM_EVENT.
type runSystemEvent C.kvm_run_system_event

// Layout of struct kvm_run (linux/kvm.h).
const (
	runSize                     = C.kvm_run_size
	runImmediateExitOffset      = C.kvm_run_immediate_exit_offset
	runExitReasonOffset         = C.kvm_run_exit_reason_offset
	runExitOffset               = C.kvm_run_exit_offset
	runExitSize                 = C.kvm_run_exit_size
	runMMIODataOffset           = C.kvm_run_mmio_data_offset
	runEmulationInsnSizeOffset  = C.kvm_run_emulation_insn_size_offset
	runEmulationInsnBytesOffset = C.kvm_run_emulation_insn_bytes_offset
	runEmulationInsnBytesMax    = C.kvm_run_emulation_insn_bytes_max
	runSystemEventDataOffset    = C.kvm_run_system_event_data_offset
	runSystemEventDataMax       = C.kvm_run_system_event_data_max
)

// KVM_API_VERSION is the only API version there has ever been.
const KVM_API_VERSION = C.KVM_API_VERSION

// ioctls on the /dev/kvm fd (System).
const (
	KVM_GET_API_VERSION     = C.KVM_GET_API_VERSION
	KVM_CREATE_VM           = C.KVM_CREATE_VM
	KVM_CHECK_EXTENSION     = C.KVM_CHECK_EXTENSION
	KVM_GET_VCPU_MMAP_SIZE  = C.KVM_GET_VCPU_MMAP_SIZE
	KVM_GET_SUPPORTED_CPUID = C.KVM_GET_SUPPORTED_CPUID
)

// ioctls on a VM fd.
const (
	KVM_SET_USER_MEMORY_REGION = C.KVM_SET_USER_MEMORY_REGION
	KVM_SET_TSS_ADDR           = C.KVM_SET_TSS_ADDR
	KVM_SET_IDENTITY_MAP_ADDR  = C.KVM_SET_IDENTITY_MAP_ADDR
	KVM_CREATE_IRQCHIP         = C.KVM_CREATE_IRQCHIP
	KVM_CREATE_PIT2            = C.KVM_CREATE_PIT2
	KVM_IRQ_LINE               = C.KVM_IRQ_LINE
	KVM_SET_GSI_ROUTING        = C.KVM_SET_GSI_ROUTING
	KVM_IRQFD                  = C.KVM_IRQFD
	KVM_IOEVENTFD              = C.KVM_IOEVENTFD
	KVM_SIGNAL_MSI             = C.KVM_SIGNAL_MSI
	KVM_CREATE_VCPU            = C.KVM_CREATE_VCPU
)

// ioctls on a vCPU fd.
const (
	KVM_RUN           = C.KVM_RUN
	KVM_GET_REGS      = C.KVM_GET_REGS
	KVM_SET_REGS      = C.KVM_SET_REGS
	KVM_GET_SREGS     = C.KVM_GET_SREGS
	KVM_SET_SREGS     = C.KVM_SET_SREGS
	KVM_GET_FPU       = C.KVM_GET_FPU
	KVM_SET_FPU       = C.KVM_SET_FPU
	KVM_GET_MSRS      = C.KVM_GET_MSRS
	KVM_SET_MSRS      = C.KVM_SET_MSRS
	KVM_SET_CPUID2    = C.KVM_SET_CPUID2
	KVM_GET_LAPIC     = C.KVM_GET_LAPIC
	KVM_SET_LAPIC     = C.KVM_SET_LAPIC
	KVM_GET_MP_STATE  = C.KVM_GET_MP_STATE
	KVM_SET_MP_STATE  = C.KVM_SET_MP_STATE
	KVM_TRANSLATE     = C.KVM_TRANSLATE
	KVM_KVMCLOCK_CTRL = C.KVM_KVMCLOCK_CTRL
)

// Capabilities, for CheckExtension.
const (
	KVM_CAP_IRQCHIP               = C.KVM_CAP_IRQCHIP
	KVM_CAP_HLT                   = C.KVM_CAP_HLT
	KVM_CAP_USER_MEMORY           = C.KVM_CAP_USER_MEMORY
	KVM_CAP_SET_TSS_ADDR          = C.KVM_CAP_SET_TSS_ADDR
	KVM_CAP_EXT_CPUID             = C.KVM_CAP_EXT_CPUID
	KVM_CAP_NR_VCPUS              = C.KVM_CAP_NR_VCPUS
	KVM_CAP_MP_STATE              = C.KVM_CAP_MP_STATE
	KVM_CAP_PIT2                  = C.KVM_CAP_PIT2
	KVM_CAP_SET_IDENTITY_MAP_ADDR = C.KVM_CAP_SET_IDENTITY_MAP_ADDR
	KVM_CAP_IRQ_ROUTING           = C.KVM_CAP_IRQ_ROUTING
	KVM_CAP_IRQFD                 = C.KVM_CAP_IRQFD
	KVM_CAP_IOEVENTFD             = C.KVM_CAP_IOEVENTFD
	KVM_CAP_MAX_VCPUS             = C.KVM_CAP_MAX_VCPUS
	KVM_CAP_KVMCLOCK_CTRL         = C.KVM_CAP_KVMCLOCK_CTRL
	KVM_CAP_SIGNAL_MSI            = C.KVM_CAP_SIGNAL_MSI
	KVM_CAP_CHECK_EXTENSION_VM    = C.KVM_CAP_CHECK_EXTENSION_VM
	KVM_CAP_IMMEDIATE_EXIT        = C.KVM_CAP_IMMEDIATE_EXIT
	KVM_CAP_IRQFD_RESAMPLE        = C.KVM_CAP_IRQFD_RESAMPLE
	KVM_CAP_INTERNAL_ERROR_DATA   = C.KVM_CAP_INTERNAL_ERROR_DATA
	KVM_CAP_SYSTEM_EVENT_DATA     = C.KVM_CAP_SYSTEM_EVENT_DATA
)

// Exit reasons (kvm_run.exit_reason).
const (
	KVM_EXIT_UNKNOWN         = C.KVM_EXIT_UNKNOWN
	KVM_EXIT_EXCEPTION       = C.KVM_EXIT_EXCEPTION
	KVM_EXIT_IO              = C.KVM_EXIT_IO
	KVM_EXIT_HYPERCALL       = C.KVM_EXIT_HYPERCALL
	KVM_EXIT_DEBUG           = C.KVM_EXIT_DEBUG
	KVM_EXIT_HLT             = C.KVM_EXIT_HLT
	KVM_EXIT_MMIO            = C.KVM_EXIT_MMIO
	KVM_EXIT_IRQ_WINDOW_OPEN = C.KVM_EXIT_IRQ_WINDOW_OPEN
	KVM_EXIT_SHUTDOWN        = C.KVM_EXIT_SHUTDOWN
	KVM_EXIT_FAIL_ENTRY      = C.KVM_EXIT_FAIL_ENTRY
	KVM_EXIT_INTR            = C.KVM_EXIT_INTR
	KVM_EXIT_SET_TPR         = C.KVM_EXIT_SET_TPR
	KVM_EXIT_TPR_ACCESS      = C.KVM_EXIT_TPR_ACCESS
	KVM_EXIT_NMI             = C.KVM_EXIT_NMI
	KVM_EXIT_INTERNAL_ERROR  = C.KVM_EXIT_INTERNAL_ERROR
	KVM_EXIT_SYSTEM_EVENT    = C.KVM_EXIT_SYSTEM_EVENT
	KVM_EXIT_IOAPIC_EOI      = C.KVM_EXIT_IOAPIC_EOI
	KVM_EXIT_HYPERV          = C.KVM_EXIT_HYPERV
	KVM_EXIT_X86_RDMSR       = C.KVM_EXIT_X86_RDMSR
	KVM_EXIT_X86_WRMSR       = C.KVM_EXIT_X86_WRMSR
	KVM_EXIT_DIRTY_RING_FULL = C.KVM_EXIT_DIRTY_RING_FULL
	KVM_EXIT_AP_RESET_HOLD   = C.KVM_EXIT_AP_RESET_HOLD
	KVM_EXIT_X86_BUS_LOCK    = C.KVM_EXIT_X86_BUS_LOCK
	KVM_EXIT_XEN             = C.KVM_EXIT_XEN
	KVM_EXIT_NOTIFY          = C.KVM_EXIT_NOTIFY
)

// KVM_EXIT_IO directions.
const (
	KVM_EXIT_IO_IN  = C.KVM_EXIT_IO_IN
	KVM_EXIT_IO_OUT = C.KVM_EXIT_IO_OUT
)

// KVM_EXIT_INTERNAL_ERROR suberrors and emulation-failure flags.
const (
	KVM_INTERNAL_ERROR_EMULATION                        = C.KVM_INTERNAL_ERROR_EMULATION
	KVM_INTERNAL_ERROR_SIMUL_EX                         = C.KVM_INTERNAL_ERROR_SIMUL_EX
	KVM_INTERNAL_ERROR_DELIVERY_EV                      = C.KVM_INTERNAL_ERROR_DELIVERY_EV
	KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON           = C.KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON
	KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES = C.KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES
)

// KVM_EXIT_SYSTEM_EVENT types.
const (
	KVM_SYSTEM_EVENT_SHUTDOWN = C.KVM_SYSTEM_EVENT_SHUTDOWN
	KVM_SYSTEM_EVENT_RESET    = C.KVM_SYSTEM_EVENT_RESET
	KVM_SYSTEM_EVENT_CRASH    = C.KVM_SYSTEM_EVENT_CRASH
	KVM_SYSTEM_EVENT_WAKEUP   = C.KVM_SYSTEM_EVENT_WAKEUP
	KVM_SYSTEM_EVENT_SUSPEND  = C.KVM_SYSTEM_EVENT_SUSPEND
	KVM_SYSTEM_EVENT_SEV_TERM = C.KVM_SYSTEM_EVENT_SEV_TERM
)

// vCPU multiprocessing states (KVM_GET_MP_STATE / KVM_SET_MP_STATE).
const (
	KVM_MP_STATE_RUNNABLE      = C.KVM_MP_STATE_RUNNABLE
	KVM_MP_STATE_UNINITIALIZED = C.KVM_MP_STATE_UNINITIALIZED
	KVM_MP_STATE_INIT_RECEIVED = C.KVM_MP_STATE_INIT_RECEIVED
	KVM_MP_STATE_HALTED        = C.KVM_MP_STATE_HALTED
	KVM_MP_STATE_SIPI_RECEIVED = C.KVM_MP_STATE_SIPI_RECEIVED
	KVM_MP_STATE_AP_RESET_HOLD = C.KVM_MP_STATE_AP_RESET_HOLD
)

// Flags and selectors of the VM ioctls.
const (
	KVM_MEM_LOG_DIRTY_PAGES      = C.KVM_MEM_LOG_DIRTY_PAGES
	KVM_MEM_READONLY             = C.KVM_MEM_READONLY
	KVM_PIT_SPEAKER_DUMMY        = C.KVM_PIT_SPEAKER_DUMMY
	KVM_IRQFD_FLAG_DEASSIGN      = C.KVM_IRQFD_FLAG_DEASSIGN
	KVM_IRQFD_FLAG_RESAMPLE      = C.KVM_IRQFD_FLAG_RESAMPLE
	KVM_IOEVENTFD_FLAG_DATAMATCH = C.KVM_IOEVENTFD_FLAG_DATAMATCH
	KVM_IOEVENTFD_FLAG_PIO       = C.KVM_IOEVENTFD_FLAG_PIO
	KVM_IOEVENTFD_FLAG_DEASSIGN  = C.KVM_IOEVENTFD_FLAG_DEASSIGN
	KVM_IRQ_ROUTING_IRQCHIP      = C.KVM_IRQ_ROUTING_IRQCHIP
	KVM_IRQ_ROUTING_MSI          = C.KVM_IRQ_ROUTING_MSI
	KVM_IRQCHIP_PIC_MASTER       = C.KVM_IRQCHIP_PIC_MASTER
	KVM_IRQCHIP_PIC_SLAVE        = C.KVM_IRQCHIP_PIC_SLAVE
	KVM_IRQCHIP_IOAPIC           = C.KVM_IRQCHIP_IOAPIC
)

// CPUID entry flags and the LAPIC register page size (asm/kvm.h).
const (
	KVM_CPUID_FLAG_SIGNIFCANT_INDEX = C.KVM_CPUID_FLAG_SIGNIFCANT_INDEX
	KVM_APIC_REG_SIZE               = C.KVM_APIC_REG_SIZE
)
