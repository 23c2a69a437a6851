package kvm_test

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/kvm"
	"github.com/gluevmm/glue/kvm/kvmtest"
)

// Tests of the VM and vCPU ioctls outside Run.

// TestIOEventFD: a write to a port with an ioeventfd signals the eventfd
// inside KVM and does not exit; after deassigning, it exits again.
func TestIOEventFD(t *testing.T) {
	vm, vcpu, _ := newRealModeVCPU(t, code([]byte{
		0xe6, 0x10, // out 0x10, al
		0xe6, 0x11, // out 0x11, al
		0xe6, 0x10, // out 0x10, al
	}, hlt))
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	ev := kvm.IOEvent{FD: efd, Addr: 0x10, Len: 1, PIO: true}
	if err := vm.IOEventFD(ev); err != nil {
		t.Fatal(err)
	}
	if exit := run(t, vcpu); exit.Kind != kvm.ExitIO || exit.IO.Port != 0x11 {
		t.Fatalf("exit %v, want the out to 0x11 (0x10 is an ioeventfd)", exit)
	}
	var count [8]byte
	if _, err := unix.Read(efd, count[:]); err != nil {
		t.Fatalf("eventfd not signalled: %v", err)
	}
	if err := vm.DeassignIOEventFD(ev); err != nil {
		t.Fatal(err)
	}
	if exit := run(t, vcpu); exit.Kind != kvm.ExitIO || exit.IO.Port != 0x10 {
		t.Fatalf("exit %v, want the out to 0x10 after deassigning", exit)
	}
}

// TestVMInterruptSetup exercises the irqchip ioctls the VMM issues at build
// time; each must succeed on a kernel Open accepted.
func TestVMInterruptSetup(t *testing.T) {
	sys := kvmtest.Open(t)
	vm, _ := kvmtest.NewVM(t, sys, guestRAMSize)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	resample, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(resample)

	// An MSI needs a destination LAPIC, so there must be a vCPU (APIC ID 0).
	var vcpu *kvm.VCPU
	defer func() {
		if vcpu != nil {
			vcpu.Close()
		}
	}()

	routes := []kvm.GSIRoute{kvm.MSIRoute(24, 0xfee00000, 0x30)}
	for gsi := uint32(0); gsi < 24; gsi++ {
		if gsi < 16 && gsi != 2 {
			chip := uint32(kvm.KVM_IRQCHIP_PIC_MASTER)
			if gsi >= 8 {
				chip = kvm.KVM_IRQCHIP_PIC_SLAVE
			}
			routes = append(routes, kvm.IRQChipRoute(gsi, chip, gsi%8))
		}
		routes = append(routes, kvm.IRQChipRoute(gsi, kvm.KVM_IRQCHIP_IOAPIC, gsi))
	}
	steps := []struct {
		name string
		do   func() error
	}{
		{"SetTSSAddr", func() error { return vm.SetTSSAddr(0xfffb_d000) }},
		{"SetIdentityMapAddr", func() error { return vm.SetIdentityMapAddr(0xfffb_c000) }},
		{"CreateIRQChip", vm.CreateIRQChip},
		{"CreatePIT2", vm.CreatePIT2},
		{"IRQLine high", func() error { return vm.IRQLine(4, true) }},
		{"IRQLine low", func() error { return vm.IRQLine(4, false) }},
		{"SetGSIRouting", func() error { return vm.SetGSIRouting(routes) }},
		{"IRQFD", func() error { return vm.IRQFD(efd, 5) }},
		{"DeassignIRQFD", func() error { return vm.DeassignIRQFD(efd, 5) }},
		{"IRQFDResample", func() error { return vm.IRQFDResample(efd, resample, 10) }},
		{"DeassignIRQFD resample", func() error { return vm.DeassignIRQFD(efd, 10) }},
		{"CreateVCPU", func() (err error) { vcpu, err = vm.CreateVCPU(0); return err }},
		{"SignalMSI", func() error { _, err := vm.SignalMSI(0xfee00000, 0x30); return err }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	if err := vm.SetGSIRouting([]kvm.GSIRoute{{GSI: 1}}); err == nil {
		t.Error("SetGSIRouting accepted a route with no target")
	}
	if vm.CheckExtension(kvm.KVM_CAP_IRQCHIP) <= 0 {
		t.Error("VM CheckExtension(KVM_CAP_IRQCHIP) = 0 on a kernel Open accepted")
	}
}

// TestVCPUState round-trips the per-vCPU state ioctls on a fresh vCPU.
func TestVCPUState(t *testing.T) {
	sys := kvmtest.Open(t)
	vm, _ := kvmtest.NewVM(t, sys, guestRAMSize)
	if err := vm.CreateIRQChip(); err != nil {
		t.Fatal(err)
	}
	vcpu, err := vm.CreateVCPU(0)
	if err != nil {
		t.Fatal(err)
	}
	defer vcpu.Close()
	if vcpu.ID() != 0 {
		t.Errorf("ID() = %d", vcpu.ID())
	}

	t.Run("msrs", func(t *testing.T) {
		const msrSysenterCS = 0x174
		if err := vcpu.SetMSRs([]kvm.MSREntry{{Index: msrSysenterCS, Data: 0x10}}); err != nil {
			t.Fatal(err)
		}
		got := []kvm.MSREntry{{Index: msrSysenterCS}}
		if err := vcpu.GetMSRs(got); err != nil {
			t.Fatal(err)
		}
		if got[0].Data != 0x10 {
			t.Errorf("SYSENTER_CS = %#x, want 0x10", got[0].Data)
		}
		// 0xc0010000-style reserved indexes do not exist on any CPU KVM models.
		err := vcpu.SetMSRs([]kvm.MSREntry{{Index: msrSysenterCS}, {Index: 0x4fff_ffff}})
		if err == nil {
			t.Error("SetMSRs accepted a nonexistent MSR")
		}
	})
	t.Run("fpu", func(t *testing.T) {
		fpu, err := vcpu.GetFPU()
		if err != nil {
			t.Fatal(err)
		}
		// KVM_SET_FPU/KVM_GET_FPU carry no MXCSR (it lives in the XSAVE area),
		// so only the x87 and XMM registers can be checked.
		fpu.Fcw = 0x27f
		fpu.Xmm[3][0] = 0xaa
		if err := vcpu.SetFPU(fpu); err != nil {
			t.Fatal(err)
		}
		got, err := vcpu.GetFPU()
		if err != nil {
			t.Fatal(err)
		}
		if got.Fcw != 0x27f || got.Xmm[3][0] != 0xaa {
			t.Errorf("GetFPU after SetFPU: fcw %#x xmm3[0] %#x", got.Fcw, got.Xmm[3][0])
		}
	})
	t.Run("lapic", func(t *testing.T) {
		const lvtLINT0, extINT = 0x350, 0x700
		lapic, err := vcpu.GetLAPIC()
		if err != nil {
			t.Fatal(err)
		}
		lapic.SetReg(lvtLINT0, extINT)
		if err := vcpu.SetLAPIC(lapic); err != nil {
			t.Fatal(err)
		}
		if got, err := vcpu.GetLAPIC(); err != nil || got.Reg(lvtLINT0)&0x700 != extINT {
			t.Errorf("LVT LINT0 after SetLAPIC = %#x, %v", got.Reg(lvtLINT0), err)
		}
	})
	t.Run("mp state", func(t *testing.T) {
		state, err := vcpu.GetMPState()
		if err != nil {
			t.Fatal(err)
		}
		if state != kvm.KVM_MP_STATE_RUNNABLE {
			t.Errorf("BSP MP state = %d, want RUNNABLE", state)
		}
		if err := vcpu.SetMPState(kvm.KVM_MP_STATE_RUNNABLE); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("cpuid", func(t *testing.T) {
		cpuid, err := sys.GetSupportedCPUID()
		if err != nil {
			t.Fatal(err)
		}
		if len(cpuid) == 0 || cpuid[0].Function != 0 {
			t.Fatalf("supported CPUID starts with %+v, want leaf 0", cpuid[:min(1, len(cpuid))])
		}
		if err := vcpu.SetCPUID2(cpuid); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("translate", func(t *testing.T) {
		// Real mode, paging off: linear addresses are physical.
		tr, err := vcpu.Translate(0x1234)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Valid == 0 || tr.Physical_address != 0x1234 {
			t.Errorf("Translate(0x1234) = %+v", tr)
		}
	})
	t.Run("kvmclock ctrl", func(t *testing.T) {
		// The vCPU never enabled kvmclock, so there is nothing to notify.
		if err := vcpu.KVMClockCtrl(); !errors.Is(err, kvm.ErrKVMClockUnavailable) {
			t.Errorf("KVMClockCtrl() = %v, want ErrKVMClockUnavailable", err)
		}
	})
}

func TestSystemQueries(t *testing.T) {
	sys := kvmtest.Open(t)
	if n := sys.MaxVCPUs(); n < 1 {
		t.Errorf("MaxVCPUs() = %d", n)
	}
	if n := sys.VCPUMmapSize(); n < 4096 {
		t.Errorf("VCPUMmapSize() = %d", n)
	}
	if sys.CheckExtension(kvm.KVM_CAP_USER_MEMORY) <= 0 {
		t.Error("CheckExtension(KVM_CAP_USER_MEMORY) = 0 on a kernel Open accepted")
	}
	if sys.CheckExtension(-1) != 0 {
		t.Error("CheckExtension(-1) != 0")
	}
}

func TestCloseTwice(t *testing.T) {
	sys := kvmtest.Open(t)
	vm, _ := kvmtest.NewVM(t, sys, guestRAMSize)
	vcpu, err := vm.CreateVCPU(0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := vcpu.Close(); err != nil {
			t.Fatalf("vcpu Close #%d: %v", i+1, err)
		}
	}
	vcpu.SetImmediateExit(true) // after Close: must do nothing, not fault
	if _, err := vm.CreateVCPU(0); err == nil {
		t.Log("vcpu id 0 reusable after close") // kernels differ; only Close's idempotence is checked
	}
}
