package x86

import (
	"testing"

	"github.com/gluevmm/glue/kvm"
)

func TestBootSegment(t *testing.T) {
	tests := []struct {
		name string
		sel  uint16
		want kvm.Segment
	}{
		{"null", 0, kvm.Segment{Unusable: 1}},
		{"64-bit code", SelCode64, kvm.Segment{Limit: 0xffff_ffff, Selector: SelCode64, Type: 0xb, Present: 1, S: 1, L: 1, G: 1}},
		{"32-bit code", SelCode32, kvm.Segment{Limit: 0xffff_ffff, Selector: SelCode32, Type: 0xb, Present: 1, S: 1, Db: 1, G: 1}},
		{"data", SelData, kvm.Segment{Limit: 0xffff_ffff, Selector: SelData, Type: 0x3, Present: 1, S: 1, Db: 1, G: 1}},
		{"busy TSS", SelTSS, kvm.Segment{Limit: 0xffff_ffff, Selector: SelTSS, Type: 0xb, Present: 1, G: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := BootSegment(tt.sel); got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestEntrySregs(t *testing.T) {
	gdt := kvm.DTable{Base: uint64(GDTAddr), Limit: 5*8 - 1}
	idt := kvm.DTable{Base: uint64(IDTAddr), Limit: BootIDTSize - 1}
	tests := []struct {
		name     string
		set      func(*kvm.Sregs)
		wantCS   uint16
		wantLong bool
		wantCR0  uint64
		wantCR3  uint64
		wantCR4  uint64
		wantEFER uint64
	}{
		{"linux 64-bit", SetLinux64Sregs, SelCode64, true, 0x8000_0031, uint64(PML4Addr), 0x20, 0x500},
		{"pvh", SetPVHSregs, SelCode32, false, 0x11, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Start from junk, as KVM's reset state is for this purpose.
			s := kvm.Sregs{Cr0: 0x6000_0010, Cr3: 0x1234, Cr4: 0xffff, Efer: 0xd01, Apic_base: 0xfee0_0900}
			tt.set(&s)
			if s.Cs.Selector != tt.wantCS || (s.Cs.L == 1) != tt.wantLong || (s.Cs.Db == 1) == tt.wantLong {
				t.Errorf("CS %+v: want selector %#x, long mode %t", s.Cs, tt.wantCS, tt.wantLong)
			}
			for name, seg := range map[string]kvm.Segment{"DS": s.Ds, "ES": s.Es, "FS": s.Fs, "GS": s.Gs, "SS": s.Ss} {
				if seg != BootSegment(SelData) {
					t.Errorf("%s = %+v, want the flat data segment", name, seg)
				}
			}
			if s.Tr.Selector != SelTSS || s.Tr.Type != 0xb || s.Tr.Present != 1 {
				t.Errorf("TR = %+v, want a present busy TSS", s.Tr)
			}
			if s.Gdt != gdt || s.Idt != idt {
				t.Errorf("GDTR %+v IDTR %+v, want %+v %+v", s.Gdt, s.Idt, gdt, idt)
			}
			if s.Cr0 != tt.wantCR0 || s.Cr3 != tt.wantCR3 || s.Cr4 != tt.wantCR4 || s.Efer != tt.wantEFER {
				t.Errorf("CR0 %#x CR3 %#x CR4 %#x EFER %#x, want %#x %#x %#x %#x",
					s.Cr0, s.Cr3, s.Cr4, s.Efer, tt.wantCR0, tt.wantCR3, tt.wantCR4, tt.wantEFER)
			}
			if s.Apic_base != 0xfee0_0900 {
				t.Errorf("APIC base changed to %#x", s.Apic_base)
			}
		})
	}
}

func TestEntryRegs(t *testing.T) {
	tests := []struct {
		name string
		got  kvm.Regs
		want kvm.Regs
	}{
		{
			name: "linux 64-bit",
			got:  Linux64Regs(0x100_0000, ZeroPageAddr),
			want: kvm.Regs{Rip: 0x100_0000, Rsi: 0x7000, Rsp: 0x8ff0, Rbp: 0x8ff0, Rflags: 0x2},
		},
		{
			name: "pvh",
			got:  PVHRegs(0x100_0100),
			want: kvm.Regs{Rip: 0x100_0100, Rbx: 0x6000, Rflags: 0x2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got  %+v\nwant %+v", tt.got, tt.want)
			}
		})
	}
}

func TestSetBootLINTs(t *testing.T) {
	tests := []struct {
		name                 string
		lint0, lint1         uint32
		wantLINT0, wantLINT1 uint32
	}{
		{"reset state (masked)", 0x1_0000, 0x1_0000, 0x1_0700, 0x1_0400},
		{"other modes replaced, level trigger kept", 0x0_8200, 0x0_8100, 0x0_8700, 0x0_8400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l kvm.LAPICState
			l.SetReg(0x350, tt.lint0)
			l.SetReg(0x360, tt.lint1)
			l.SetReg(0x340, 0xdead_beef) // a neighbour that must not change
			SetBootLINTs(&l)
			if got := l.Reg(0x350); got != tt.wantLINT0 {
				t.Errorf("LVT LINT0 = %#x, want %#x", got, tt.wantLINT0)
			}
			if got := l.Reg(0x360); got != tt.wantLINT1 {
				t.Errorf("LVT LINT1 = %#x, want %#x", got, tt.wantLINT1)
			}
			if got := l.Reg(0x340); got != 0xdead_beef {
				t.Errorf("register 0x340 changed to %#x", got)
			}
		})
	}
}

func TestBootMSRsAndFPU(t *testing.T) {
	want := map[uint32]uint64{
		0x174: 0, 0x175: 0, 0x176: 0, // SYSENTER_CS/ESP/EIP
		0xc000_0081: 0, 0xc000_0082: 0, 0xc000_0083: 0, 0xc000_0084: 0, 0xc000_0102: 0,
		0x10:  0,     // TSC
		0x1a0: 1,     // MISC_ENABLE: fast strings
		0x2ff: 0x806, // MTRRdefType: enabled, WB
	}
	got := BootMSRs()
	if len(got) != len(want) {
		t.Errorf("%d MSRs, want %d", len(got), len(want))
	}
	for _, m := range got {
		if v, ok := want[m.Index]; !ok || v != m.Data {
			t.Errorf("MSR %#x = %#x, want %#x (listed: %t)", m.Index, m.Data, v, ok)
		}
	}
	if fpu := BootFPU(); fpu.Fcw != 0x37f || fpu.Mxcsr != 0x1f80 {
		t.Errorf("BootFPU: fcw %#x mxcsr %#x", fpu.Fcw, fpu.Mxcsr)
	}
}
