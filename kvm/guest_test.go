package kvm_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/gluevmm/glue/kvm"
	"github.com/gluevmm/glue/kvm/kvmtest"
)

// TestExampleGuest runs Example's code under kvmtest, checking what Example
// would print.
func TestExampleGuest(t *testing.T) {
	sys := kvmtest.Open(t)
	var out bytes.Buffer
	if err := runHelloGuest(sys, &out); err != nil {
		t.Fatal(err)
	}
	want := "io out port 0x10 size 1 count 1 data 48\n" +
		"io out port 0x10 size 1 count 1 data 69\n" +
		"hlt\n"
	if out.String() != want {
		t.Errorf("exits:\n%s\nwant:\n%s", out.String(), want)
	}
}

// newRealModeVCPU creates a VM holding code at guestCodeAddr and a vCPU in
// real mode about to execute it.
func newRealModeVCPU(t *testing.T, code []byte) (*kvm.VM, *kvm.VCPU, []byte) {
	return newVCPU(t, code, func(*kvm.Sregs) {})
}

// newProtectedModeVCPU is newRealModeVCPU for 32-bit protected mode with
// flat segments, paging off, and an empty IDT, so that any exception the
// code raises cannot be delivered and ends in a triple fault. (Real mode
// cannot test that: KVM's emulator ignores the IVT limit.)
func newProtectedModeVCPU(t *testing.T, code []byte) (*kvm.VM, *kvm.VCPU, []byte) {
	return newVCPU(t, code, func(s *kvm.Sregs) {
		flat := kvm.Segment{Limit: 0xffff_ffff, Present: 1, S: 1, Db: 1, G: 1}
		s.Cs, s.Cs.Type, s.Cs.Selector = flat, 0xb, 0x8 // execute/read, accessed
		data := flat
		data.Type, data.Selector = 0x3, 0x10 // read/write, accessed
		s.Ds, s.Es, s.Fs, s.Gs, s.Ss = data, data, data, data, data
		s.Idt = kvm.DTable{}
		s.Cr0 |= 1 // PE
	})
}

func newVCPU(t *testing.T, code []byte, setMode func(*kvm.Sregs)) (*kvm.VM, *kvm.VCPU, []byte) {
	t.Helper()
	sys := kvmtest.Open(t)
	vm, mem := kvmtest.NewVM(t, sys, guestRAMSize)
	copy(mem[guestCodeAddr:], code)
	vcpu, err := vm.CreateVCPU(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { vcpu.Close() })
	sregs, err := vcpu.GetSregs()
	if err != nil {
		t.Fatal(err)
	}
	sregs.Cs.Base, sregs.Cs.Selector = 0, 0
	setMode(sregs)
	if err := vcpu.SetSregs(sregs); err != nil {
		t.Fatal(err)
	}
	if err := vcpu.SetRegs(&kvm.Regs{Rip: guestCodeAddr, Rflags: 0x2}); err != nil {
		t.Fatal(err)
	}
	return vm, vcpu, mem
}

// run runs the vCPU to its next exit, running again through interruptions
// by signals, which a test does not control.
func run(t *testing.T, vcpu *kvm.VCPU) kvm.Exit {
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

// A step is one expected exit, and the data the VMM answers it with.
type step struct {
	want  string // Exit.String()
	reply []byte // copied into the exit's Data: an IO in or MMIO read
}

// Real-mode code fragments.
var hlt = []byte{0xf4}

func code(parts ...[]byte) []byte { return slices.Concat(parts...) }

func TestRealModeExits(t *testing.T) {
	tests := []struct {
		name     string
		code     []byte
		steps    []step
		wantRegs func(*kvm.Regs) bool
		wantMem  map[int]string // guest address -> bytes there after the run
		// protected runs the code in 32-bit protected mode instead of real mode.
		protected bool
	}{
		{
			name:  "hlt",
			code:  hlt,
			steps: []step{{want: "hlt"}},
		},
		{
			name: "out byte",
			code: code([]byte{
				0xb0, 0x42, // mov al, 0x42
				0xe6, 0x10, // out 0x10, al
			}, hlt),
			steps: []step{{want: "io out port 0x10 size 1 count 1 data 42"}, {want: "hlt"}},
		},
		{
			name: "out word through dx",
			code: code([]byte{
				0xba, 0xf8, 0x03, // mov dx, 0x3f8
				0xb8, 0x34, 0x12, // mov ax, 0x1234
				0xef, // out dx, ax
			}, hlt),
			steps: []step{{want: "io out port 0x3f8 size 2 count 1 data 34 12"}, {want: "hlt"}},
		},
		{
			// KVM reads ahead for rep ins: one exit carries all three items.
			name: "rep insb",
			code: code([]byte{
				0xbf, 0x00, 0x11, // mov di, 0x1100
				0xb9, 0x03, 0x00, // mov cx, 3
				0xba, 0x10, 0x00, // mov dx, 0x10
				0xf3, 0x6c, // rep insb
			}, hlt),
			steps:   []step{{want: "io in port 0x10 size 1 count 3", reply: []byte("abc")}, {want: "hlt"}},
			wantMem: map[int]string{guestCodeAddr + 0x100: "abc"},
		},
		{
			// rep outs, unlike rep ins, exits once per item.
			name: "rep outsb",
			code: code([]byte{
				0xbe, 0x0c, 0x10, // mov si, 0x100c
				0xb9, 0x02, 0x00, // mov cx, 2
				0xba, 0x10, 0x00, // mov dx, 0x10
				0xf3, 0x6e, // rep outsb
			}, hlt, []byte("xy")),
			steps: []step{
				{want: "io out port 0x10 size 1 count 1 data 78"},
				{want: "io out port 0x10 size 1 count 1 data 79"},
				{want: "hlt"},
			},
		},
		{
			name: "in word lands in ax",
			code: code([]byte{
				0xba, 0xf8, 0x03, // mov dx, 0x3f8
				0xed, // in ax, dx
			}, hlt),
			steps:    []step{{want: "io in port 0x3f8 size 2 count 1", reply: []byte{0xcd, 0xab}}, {want: "hlt"}},
			wantRegs: func(r *kvm.Regs) bool { return r.Rax&0xffff == 0xabcd },
		},
		{
			name: "mmio write",
			code: code([]byte{
				0xb8, 0x00, 0x20, // mov ax, 0x2000
				0x8e, 0xd8, // mov ds, ax
				0xc6, 0x06, 0x10, 0x00, 0x5a, // mov byte [0x10], 0x5a
			}, hlt),
			steps: []step{{want: "mmio write 0x20010 len 1 data 5a"}, {want: "hlt"}},
		},
		{
			name: "mmio read lands in ax",
			code: code([]byte{
				0xb8, 0x00, 0x20, // mov ax, 0x2000
				0x8e, 0xd8, // mov ds, ax
				0xa1, 0x20, 0x00, // mov ax, [0x20]
			}, hlt),
			steps:    []step{{want: "mmio read 0x20020 len 2", reply: []byte{0x11, 0x22}}, {want: "hlt"}},
			wantRegs: func(r *kvm.Regs) bool { return r.Rax&0xffff == 0x2211 },
		},
		{
			// A divide error with an empty IDT cannot be delivered: #DE
			// escalates to #DF and then to a triple fault.
			name: "triple fault",
			code: []byte{
				0x31, 0xc0, // xor eax, eax
				0xf7, 0xf0, // div eax
				0xf4, // hlt
			},
			protected: true,
			steps:     []step{{want: "shutdown"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			newVCPU := newRealModeVCPU
			if tt.protected {
				newVCPU = newProtectedModeVCPU
			}
			_, vcpu, mem := newVCPU(t, tt.code)
			for i, s := range tt.steps {
				exit := run(t, vcpu)
				if got := exit.String(); got != s.want {
					t.Fatalf("exit %d: got %q, want %q", i, got, s.want)
				}
				if s.reply != nil {
					data := exit.IO.Data
					if exit.Kind == kvm.ExitMMIO {
						data = exit.MMIO.Data
					}
					if len(data) != len(s.reply) {
						t.Fatalf("exit %d: data is %d bytes, reply %d", i, len(data), len(s.reply))
					}
					copy(data, s.reply)
				}
			}
			for addr, want := range tt.wantMem {
				if got := string(mem[addr : addr+len(want)]); got != want {
					t.Errorf("memory at %#x = %q, want %q", addr, got, want)
				}
			}
			if tt.wantRegs == nil {
				return
			}
			regs, err := vcpu.GetRegs()
			if err != nil {
				t.Fatal(err)
			}
			if !tt.wantRegs(regs) {
				t.Errorf("registers after the run: %+v", regs)
			}
		})
	}
}

// TestInvalidOpcode: an undefined instruction with no way to deliver #UD
// stops the guest, as a triple fault or, on hosts where KVM emulates the
// guest, possibly as an emulation failure. Either way Run must say so, not
// fail or hang.
func TestInvalidOpcode(t *testing.T) {
	_, vcpu, _ := newProtectedModeVCPU(t, []byte{0x0f, 0x0b, 0xf4}) // ud2; hlt
	exit := run(t, vcpu)
	switch exit.Kind {
	case kvm.ExitShutdown:
	case kvm.ExitInternalError:
		if len(exit.InternalError.InstructionBytes) > 0 && !bytes.HasPrefix(exit.InternalError.InstructionBytes, []byte{0x0f, 0x0b}) {
			t.Errorf("instruction bytes % x, want 0f 0b ...", exit.InternalError.InstructionBytes)
		}
	default:
		t.Fatalf("exit %v, want shutdown or internal error", exit)
	}
	t.Logf("ud2: %v", exit)
}

// TestImmediateExit sets immediate_exit from another goroutine while the
// owner keeps running a guest that exits on every loop iteration: the first
// Run after the store must come back Interrupted, and clearing the flag lets
// the guest go on.
func TestImmediateExit(t *testing.T) {
	_, vcpu, _ := newRealModeVCPU(t, []byte{
		0xb0, 0x01, // mov al, 1
		0xe6, 0x10, // out 0x10, al
		0xeb, 0xfc, // jmp back to the out
	})
	if exit := run(t, vcpu); exit.Kind != kvm.ExitIO {
		t.Fatalf("first exit %v, want io", exit)
	}
	stored := make(chan struct{})
	go func() {
		vcpu.SetImmediateExit(true)
		close(stored)
	}()
	for interrupted := false; !interrupted; {
		select {
		case <-stored:
			// The store happened before this Run started, so KVM must see it.
			exit, err := vcpu.Run()
			if err != nil {
				t.Fatal(err)
			}
			if exit.Kind != kvm.ExitInterrupted {
				t.Fatalf("exit %v after immediate_exit was set, want interrupted", exit)
			}
			interrupted = true
		default:
			// Not run(): it retries interruptions, and one may come from
			// the store racing with this Run.
			exit, err := vcpu.Run()
			if err != nil {
				t.Fatal(err)
			}
			switch exit.Kind {
			case kvm.ExitIO:
			case kvm.ExitInterrupted:
				<-stored // only the store can make immediate_exit interrupt
				interrupted = true
			default:
				t.Fatalf("exit %v, want io", exit)
			}
		}
	}
	if !vcpu.ImmediateExit() {
		t.Error("ImmediateExit() = false after SetImmediateExit(true)")
	}
	vcpu.SetImmediateExit(false)
	if exit := run(t, vcpu); exit.Kind != kvm.ExitIO {
		t.Fatalf("exit %v after clearing immediate_exit, want io", exit)
	}
}
