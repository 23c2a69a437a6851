package vcpu

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gluevmm/glue/bus"
	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/kvm"
	"github.com/gluevmm/glue/kvm/kvmtest"
)

const codeAddr = 0x1000

// realModeVCPU creates a VM with 64 KiB of RAM whose single vCPU starts in
// real mode at codeAddr running code.
func realModeVCPU(t *testing.T, code []byte) (*kvm.VCPU, *guestmem.Memory) {
	t.Helper()
	vm, mem := kvmtest.NewVMWithRAM(t, kvmtest.Open(t), []guestmem.Span{{Base: 0, Size: 0x10000}})
	mem.WriteAt(code, codeAddr)
	c, err := vm.CreateVCPU(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sregs, err := c.GetSregs()
	if err != nil {
		t.Fatal(err)
	}
	sregs.Cs.Base, sregs.Cs.Selector = 0, 0
	if err := c.SetSregs(sregs); err != nil {
		t.Fatal(err)
	}
	if err := c.SetRegs(&kvm.Regs{Rip: codeAddr, Rflags: 2}); err != nil {
		t.Fatal(err)
	}
	return c, mem
}

// port records bytes written to it and calls onWrite after each.
type port struct {
	mu      sync.Mutex
	got     []byte
	onWrite func()
}

func (p *port) Read(_ uint64, data []byte) { clear(data) }
func (p *port) Write(_ uint64, data []byte) {
	p.mu.Lock()
	p.got = append(p.got, data...)
	p.mu.Unlock()
	if p.onWrite != nil {
		p.onWrite()
	}
}

// A guest that writes to a port and then spins forever is stopped from the
// device's side, as the i8042 reset line would.
func TestPortIODispatchAndStop(t *testing.T) {
	t.Parallel()
	code := []byte{
		0xb0, 'h', 0xe6, 0x10, // mov al,'h'; out 0x10,al
		0xb0, 'i', 0xe6, 0x10, // mov al,'i'; out 0x10,al
		0xeb, 0xfe, // jmp $
	}
	c, mem := realModeVCPU(t, code)
	var pio, mmio bus.Bus
	p := &port{}
	pio.Insert(0x10, 1, p)
	v := New(Config{VCPU: c, PIO: &pio, MMIO: &mmio, Mem: mem})
	p.onWrite = func() {
		if len(p.got) == 2 {
			go func() { time.Sleep(10 * time.Millisecond); v.Stop() }()
		}
	}
	if err := v.Run(); !errors.Is(err, ErrStopped) {
		t.Fatalf("Run = %v, want ErrStopped", err)
	}
	if string(p.got) != "hi" {
		t.Fatalf("port saw %q, want \"hi\"", p.got)
	}
	v.Stop() // idempotent after the run ended
}

// Stop before Run: Run returns at once.
func TestStopBeforeRun(t *testing.T) {
	t.Parallel()
	c, mem := realModeVCPU(t, []byte{0xeb, 0xfe})
	v := New(Config{VCPU: c, PIO: &bus.Bus{}, MMIO: &bus.Bus{}, Mem: mem})
	v.Stop()
	if err := v.Run(); !errors.Is(err, ErrStopped) {
		t.Fatalf("Run = %v, want ErrStopped", err)
	}
}

// A triple fault becomes a *Fault whose message names it and the RIP.
func TestTripleFaultIsAFault(t *testing.T) {
	t.Parallel()
	// Protected mode with an empty IDT: int3 cannot be delivered.
	c, mem := realModeVCPU(t, []byte{0xcc})
	sregs, _ := c.GetSregs()
	sregs.Cr0 |= 1 // PE
	sregs.Cs.Db, sregs.Cs.Type, sregs.Cs.S, sregs.Cs.Present, sregs.Cs.Limit = 1, 0xb, 1, 1, 0xffffffff
	sregs.Idt.Limit = 0
	c.SetSregs(sregs)
	v := New(Config{VCPU: c, PIO: &bus.Bus{}, MMIO: &bus.Bus{}, Mem: mem})
	err := v.Run()
	var f *Fault
	if !errors.As(err, &f) {
		t.Fatalf("Run = %v, want a *Fault", err)
	}
	if msg := f.Error(); !strings.Contains(msg, "vcpu 0: ") || !strings.Contains(msg, "RIP 0x") {
		t.Fatalf("message %q lacks the vCPU or RIP", msg)
	}
}

func TestDecodeInstruction(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		code    []byte
		mode    int
		want    string
		wantLen int
	}{
		{"cmpxchg16b", []byte{0xf0, 0x48, 0x0f, 0xc7, 0x4d, 0x20, 0x90}, 64, "lock cmpxchg16b xmmword ptr [rbp+0x20]", 6},
		{"int3", []byte{0xcc, 0x90}, 64, "int3", 1},
		{"xrstor", []byte{0x0f, 0xae, 0x2f}, 64, "xrstor ptr [rdi]", 3},
		{"16-bit out", []byte{0xe6, 0x10}, 16, "out 0x10, al", 2},
		{"truncated", []byte{0xf0, 0x48, 0x0f, 0xc7}, 64, "", 4},
		{"invalid opcode", []byte{0x0f, 0xff}, 64, "", 2},
		{"empty", nil, 64, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			text, code := decodeInstruction(tc.code, tc.mode, 0)
			if text != tc.want || len(code) != tc.wantLen {
				t.Fatalf("decode = %q (%d bytes), want %q (%d bytes)", text, len(code), tc.want, tc.wantLen)
			}
		})
	}
}

func TestFaultMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		f    Fault
		want string
	}{
		{"emulation failure", Fault{VCPU: 1, RIP: 0xffffffff81000000, Instruction: "int3", Bytes: []byte{0xcc},
			Exit: kvm.Exit{Kind: kvm.ExitInternalError, InternalError: kvm.InternalErrorExit{Suberror: kvm.KVM_INTERNAL_ERROR_EMULATION}}},
			"vcpu 1: KVM could not emulate an instruction (KVM_EXIT_INTERNAL_ERROR, suberror 1: emulation failure) at RIP 0xffffffff81000000: int3 [cc]"},
		{"triple fault", Fault{VCPU: 0, RIP: 0x1000, Exit: kvm.Exit{Kind: kvm.ExitShutdown}},
			"vcpu 0: guest triple fault (KVM_EXIT_SHUTDOWN) at RIP 0x1000"},
		{"entry failure", Fault{VCPU: 2, Exit: kvm.Exit{Kind: kvm.ExitFailEntry, FailEntry: kvm.FailEntryExit{HardwareEntryFailureReason: 0x21}}},
			"vcpu 2: VM entry failed (KVM_EXIT_FAIL_ENTRY, hardware reason 0x21) at RIP 0x0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.f.Error(); got != tc.want {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
