package x86

import (
	"slices"
	"testing"

	"github.com/gluevmm/glue/kvm"
)

const sigIdx = kvm.KVM_CPUID_FLAG_SIGNIFCANT_INDEX

// syntheticCPUID is shaped like KVM_GET_SUPPORTED_CPUID on a host with two
// threads per core: host topology values that FilterCPUID must replace, and
// features it must hide.
var syntheticCPUID = []kvm.CPUIDEntry{
	{Function: 0x0, Eax: 0x1f, Ebx: 0x756e_6547, Ecx: 0x6c65_746e, Edx: 0x4965_6e69},
	// EBX: APIC ID 0x07, 0x10 logical CPUs, CLFLUSH 8 (x8 bytes), brand 0x01.
	// ECX: PDCM, no hypervisor bit. EDX: HTT.
	{Function: 0x1, Eax: 0x000a_0f11, Ebx: 0x0710_0801, Ecx: 0x0020_8001, Edx: 0x178b_fbff},
	// Leaf 4: L1d (type 1, level 1), L3 (type 3, level 3), null.
	{Function: 0x4, Index: 0, Flags: sigIdx, Eax: 0x1c00_4121, Ebx: 0x01c0_003f},
	{Function: 0x4, Index: 1, Flags: sigIdx, Eax: 0x1c03_c163, Ebx: 0x03c0_003f},
	{Function: 0x4, Index: 2, Flags: sigIdx},
	// Leaf 6: turbo (EAX[1]), ARAT (EAX[2]), HWP (EAX[7]); energy bias (ECX[3]).
	{Function: 0x6, Eax: 0x86, Ebx: 0x1, Ecx: 0x9, Edx: 0x1},
	// Leaf 0xA: PMU version 2, 4 counters.
	{Function: 0xa, Eax: 0x0704_3002, Ebx: 0x0, Ecx: 0x0, Edx: 0x0603},
	// Leaf 0xB: the host's SMT (2 threads) and core levels.
	{Function: 0xb, Index: 0, Flags: sigIdx, Eax: 1, Ebx: 2, Ecx: 0x100, Edx: 7},
	{Function: 0xb, Index: 1, Flags: sigIdx, Eax: 5, Ebx: 32, Ecx: 0x201, Edx: 7},
	{Function: 0x1f, Index: 0, Flags: sigIdx, Eax: 1, Ebx: 2, Ecx: 0x100, Edx: 7},
	{Function: 0x4000_0000, Eax: 0x4000_0001, Ebx: 0x4b4d_564b, Ecx: 0x564b_4d56, Edx: 0x4d},
	{Function: 0x4000_0001, Eax: 0x0100_7efb},
	{Function: 0x8000_0000, Eax: 0x8000_0022},
	// ECX: LahfSahf, SVM, TopologyExtensions (bit 22) and the counter
	// extensions PerfCtrExtCore, PerfCtrExtNB, PerfTsc, PerfCtrExtLLC.
	{Function: 0x8000_0001, Ecx: 0x19c0_0005, Edx: 0x2fd3_fbff},
	{Function: 0x8000_0008, Eax: 0x3030, Ebx: 0x1000_0005, Ecx: 0x7001},
	{Function: 0x8000_001d, Index: 0, Flags: sigIdx, Eax: 0x0000_4121, Ebx: 0x01c0_003f},
	{Function: 0x8000_001d, Index: 1, Flags: sigIdx, Eax: 0x0003_c163, Ebx: 0x03c0_003f},
	{Function: 0x8000_001e, Eax: 0x7, Ebx: 0x103, Ecx: 0x300},
	// Leaf 0x80000022: PerfMonV2 and LBR stack; 6 core counters, 16 LBRs,
	// 4 northbridge counters.
	{Function: 0x8000_0022, Eax: 0x3, Ebx: 0x1106},
}

// regWant is one expectation: (reg & mask) == want in leaf fn, subleaf idx.
type regWant struct {
	fn, idx uint32
	reg     string // eax, ebx, ecx, edx
	mask    uint32
	want    uint32
}

func entryReg(e kvm.CPUIDEntry, reg string) uint32 {
	switch reg {
	case "eax":
		return e.Eax
	case "ebx":
		return e.Ebx
	case "ecx":
		return e.Ecx
	case "edx":
		return e.Edx
	}
	panic("bad register name " + reg)
}

func findEntry(entries []kvm.CPUIDEntry, fn, idx uint32) (kvm.CPUIDEntry, bool) {
	for _, e := range entries {
		if e.Function == fn && e.Index == idx {
			return e, true
		}
	}
	return kvm.CPUIDEntry{}, false
}

func TestFilterCPUID(t *testing.T) {
	all := ^uint32(0)
	tests := []struct {
		name          string
		cpuID, nCPUs  int
		wants         []regWant
		wantTopoLevel int // subleaves in leaves 0xB and 0x1F
	}{
		{
			name: "single vcpu", cpuID: 0, nCPUs: 1,
			wants: []regWant{
				{0x1, 0, "ebx", 0xff00_0000, 0 << 24},     // APIC ID
				{0x1, 0, "ebx", 0x00ff_0000, 1 << 16},     // logical processors
				{0x1, 0, "ebx", 0x0000_ffff, 0x0801},      // CLFLUSH and brand kept
				{0x1, 0, "ecx", 1 << 31, 1 << 31},         // hypervisor
				{0x1, 0, "ecx", 1 << 15, 0},               // no PDCM
				{0x1, 0, "ecx", 0x7fff_7fff, 0x0020_0001}, // other features kept
				{0x1, 0, "edx", 1 << 28, 0},               // no HTT with one CPU
				{0x4, 0, "eax", 0xfc00_0000, 0},           // cores - 1
				{0xb, 1, "eax", 0x1f, 0},                  // no APIC ID bits for cores
				{0xb, 1, "ebx", 0xffff, 1},
				{0x8000_0008, 0, "ecx", 0xf0ff, 0x0000},
			},
		},
		{
			name: "second of two", cpuID: 1, nCPUs: 2,
			wants: []regWant{
				{0x1, 0, "ebx", 0xff00_0000, 1 << 24},
				{0x1, 0, "ebx", 0x00ff_0000, 2 << 16},
				{0x1, 0, "edx", 1 << 28, 1 << 28},
				{0x4, 0, "eax", 0xfc00_0000, 1 << 26},
				{0xb, 0, "edx", all, 1},
				{0xb, 1, "edx", all, 1},
				{0xb, 2, "edx", all, 1},
				{0xb, 1, "eax", 0x1f, 1},
				{0x1f, 1, "edx", all, 1},
				{0x8000_0008, 0, "ecx", 0xf0ff, 0x1001},
				{0x8000_001e, 0, "eax", all, 1},
			},
		},
		{
			name: "last of six", cpuID: 5, nCPUs: 6,
			wants: []regWant{
				{0x1, 0, "ebx", 0xff00_0000, 5 << 24},
				{0x1, 0, "ebx", 0x00ff_0000, 6 << 16},
				{0x4, 0, "eax", 0xfc00_0000, 5 << 26},
				{0x4, 0, "eax", 0x03ff_c000, 0 << 14},     // L1d: private to the core
				{0x4, 0, "eax", 0x0000_3fff, 0x0000_0121}, // type and level kept
				{0x4, 1, "eax", 0x03ff_c000, 5 << 14},     // L3: shared by all six
				{0x4, 2, "eax", all, 0},                   // null subleaf untouched
				{0xb, 0, "eax", all, 0},                   // SMT: shift 0
				{0xb, 0, "ebx", all, 1},                   // one thread
				{0xb, 0, "ecx", all, 1 << 8},              // SMT level, subleaf 0
				{0xb, 1, "eax", all, 3},                   // 6 cores need 3 ID bits
				{0xb, 1, "ebx", all, 6},                   // six cores
				{0xb, 1, "ecx", all, 2<<8 | 1},            // core level, subleaf 1
				{0xb, 2, "ecx", all, 2},                   // invalid level ends the list
				{0xb, 2, "ebx", all, 0},
				{0x8000_0008, 0, "ecx", 0xf0ff, 0x3005},
				{0x8000_001d, 0, "eax", 0x03ff_c000, 0},
				{0x8000_001d, 1, "eax", 0x03ff_c000, 5 << 14},
				{0x8000_001e, 0, "ebx", all, 5},
				{0x8000_001e, 0, "ecx", all, 0},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FilterCPUID(syntheticCPUID, tt.cpuID, tt.nCPUs)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.wants {
				e, ok := findEntry(got, w.fn, w.idx)
				if !ok {
					t.Errorf("leaf %#x.%d missing", w.fn, w.idx)
					continue
				}
				if v := entryReg(e, w.reg) & w.mask; v != w.want {
					t.Errorf("leaf %#x.%d %s & %#x = %#x, want %#x", w.fn, w.idx, w.reg, w.mask, v, w.want)
				}
			}
			for _, fn := range []uint32{0xb, 0x1f} {
				var subleaves []uint32
				for _, e := range got {
					if e.Function == fn {
						subleaves = append(subleaves, e.Index)
						if e.Flags&sigIdx == 0 {
							t.Errorf("leaf %#x.%d lacks KVM_CPUID_FLAG_SIGNIFCANT_INDEX", fn, e.Index)
						}
					}
				}
				if !slices.Equal(subleaves, []uint32{0, 1, 2}) {
					t.Errorf("leaf %#x subleaves %v, want [0 1 2] once each", fn, subleaves)
				}
			}
		})
	}
}

func TestFilterCPUIDHidesPowerAndPMU(t *testing.T) {
	got, err := FilterCPUID(syntheticCPUID, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		fn   uint32
		want kvm.CPUIDEntry
	}{
		{"leaf 6 keeps only ARAT", 0x6, kvm.CPUIDEntry{Function: 0x6, Eax: 1 << 2}},
		{"leaf 0xA zeroed", 0xa, kvm.CPUIDEntry{Function: 0xa}},
		{"AMD counter extensions cleared, other features kept", 0x8000_0001,
			kvm.CPUIDEntry{Function: 0x8000_0001, Ecx: 0x0040_0005, Edx: 0x2fd3_fbff}},
		{"AMD leaf 0x80000022 zeroed", 0x8000_0022, kvm.CPUIDEntry{Function: 0x8000_0022}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if e, _ := findEntry(got, tt.fn, 0); e != tt.want {
				t.Errorf("got %+v, want %+v", e, tt.want)
			}
		})
	}
}

func TestFilterCPUIDKeepsKVMLeaves(t *testing.T) {
	got, err := FilterCPUID(syntheticCPUID, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, fn := range []uint32{0x0, 0x4000_0000, 0x4000_0001, 0x8000_0000} {
		want, _ := findEntry(syntheticCPUID, fn, 0)
		if e, ok := findEntry(got, fn, 0); !ok || e != want {
			t.Errorf("leaf %#x: got %+v, want it unchanged: %+v", fn, e, want)
		}
	}
	sig, _ := findEntry(got, 0x4000_0000, 0)
	var b []byte
	for _, r := range []uint32{sig.Ebx, sig.Ecx, sig.Edx} {
		b = append(b, byte(r), byte(r>>8), byte(r>>16), byte(r>>24))
	}
	if string(b) != "KVMKVMKVM\x00\x00\x00" {
		t.Errorf("hypervisor signature %q", b)
	}
}

func TestFilterCPUIDDoesNotModifyInput(t *testing.T) {
	before := slices.Clone(syntheticCPUID)
	if _, err := FilterCPUID(syntheticCPUID, 1, 2); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, syntheticCPUID) {
		t.Error("FilterCPUID modified its input")
	}
}

func TestFilterCPUIDRejectsBadTopology(t *testing.T) {
	tests := []struct {
		name         string
		cpuID, nCPUs int
	}{
		{"no vcpus", 0, 0},
		{"id past the count", 2, 2},
		{"negative id", -1, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := FilterCPUID(syntheticCPUID, tt.cpuID, tt.nCPUs); err == nil {
				t.Errorf("FilterCPUID(vcpu %d of %d) succeeded", tt.cpuID, tt.nCPUs)
			}
		})
	}
}
