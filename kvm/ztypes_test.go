package kvm

import (
	"reflect"
	"testing"
)

// TestStructSizes checks the generated layouts against the C compiler's.
// The expected sizes were printed once by a C program doing sizeof on each
// struct (gcc, x86-64, linux-libc-dev 6.1 headers); the UAPI keeps them fixed.
func TestStructSizes(t *testing.T) {
	tests := []struct {
		cName string
		typ   reflect.Type
		want  uintptr
	}{
		{"struct kvm_regs", reflect.TypeFor[Regs](), 144},
		{"struct kvm_segment", reflect.TypeFor[Segment](), 24},
		{"struct kvm_dtable", reflect.TypeFor[DTable](), 16},
		{"struct kvm_sregs", reflect.TypeFor[Sregs](), 312},
		{"struct kvm_fpu", reflect.TypeFor[FPU](), 416},
		{"struct kvm_msr_entry", reflect.TypeFor[MSREntry](), 16},
		{"struct kvm_msrs", reflect.TypeFor[msrsHeader](), 8},
		{"struct kvm_cpuid_entry2", reflect.TypeFor[CPUIDEntry](), 40},
		{"struct kvm_cpuid2", reflect.TypeFor[cpuid2Header](), 8},
		{"struct kvm_lapic_state", reflect.TypeFor[LAPICState](), 1024},
		{"struct kvm_debug_exit_arch", reflect.TypeFor[DebugExitArch](), 32},
		{"struct kvm_mp_state", reflect.TypeFor[mpState](), 4},
		{"struct kvm_translation", reflect.TypeFor[Translation](), 24},
		{"struct kvm_userspace_memory_region", reflect.TypeFor[userspaceMemoryRegion](), 32},
		{"struct kvm_pit_config", reflect.TypeFor[pitConfig](), 64},
		{"struct kvm_irq_level", reflect.TypeFor[irqLevel](), 8},
		{"struct kvm_irqfd", reflect.TypeFor[irqfdRequest](), 32},
		{"struct kvm_ioeventfd", reflect.TypeFor[ioeventfdRequest](), 64},
		{"struct kvm_msi", reflect.TypeFor[msiRequest](), 32},
		{"struct kvm_irq_routing_entry", reflect.TypeFor[irqRoutingEntry](), 48},
		{"struct kvm_irq_routing", reflect.TypeFor[irqRoutingHeader](), 8},
		{"kvm_run.hw", reflect.TypeFor[runHW](), 8},
		{"kvm_run.fail_entry", reflect.TypeFor[runFailEntry](), 16},
		{"kvm_run.io", reflect.TypeFor[runIO](), 16},
		{"kvm_run.mmio", reflect.TypeFor[runMMIO](), 24},
		{"kvm_run.debug", reflect.TypeFor[runDebug](), 32},
		{"kvm_run.internal", reflect.TypeFor[runInternal](), 136},
		{"kvm_run.emulation_failure", reflect.TypeFor[runEmulationFailure](), 32},
		{"kvm_run.system_event", reflect.TypeFor[runSystemEvent](), 136},
	}
	for _, tt := range tests {
		t.Run(tt.cName, func(t *testing.T) {
			if got := tt.typ.Size(); got != tt.want {
				t.Errorf("%v is %d bytes, %s is %d", tt.typ, got, tt.cName, tt.want)
			}
		})
	}
}

// TestRunLayout checks the kvm_run offsets the decoder relies on, and that
// every exit payload fits in the exit union it is overlaid on.
func TestRunLayout(t *testing.T) {
	if runSize != 2352 {
		t.Errorf("sizeof(struct kvm_run) = %d, want 2352", runSize)
	}
	if runImmediateExitOffset != 1 || runExitReasonOffset != 8 || runExitOffset != 32 || runExitSize != 256 {
		t.Errorf("kvm_run offsets: immediate_exit %d, exit_reason %d, union %d+%d; want 1, 8, 32+256",
			runImmediateExitOffset, runExitReasonOffset, runExitOffset, runExitSize)
	}
	for _, typ := range []reflect.Type{
		reflect.TypeFor[runHW](), reflect.TypeFor[runFailEntry](), reflect.TypeFor[runIO](),
		reflect.TypeFor[runMMIO](), reflect.TypeFor[runDebug](), reflect.TypeFor[runInternal](),
		reflect.TypeFor[runEmulationFailure](), reflect.TypeFor[runSystemEvent](),
	} {
		if typ.Size() > runExitSize {
			t.Errorf("%v is %d bytes, larger than the %d-byte exit union", typ, typ.Size(), runExitSize)
		}
		if runExitOffset%typ.Align() != 0 {
			t.Errorf("%v needs %d-byte alignment; the union is at offset %d", typ, typ.Align(), runExitOffset)
		}
	}
}
