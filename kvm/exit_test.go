package kvm

import (
	"encoding/binary"
	"slices"
	"testing"
)

// Byte offsets inside kvm_run's exit union (linux/kvm.h), for building fake
// run areas.
const (
	u = runExitOffset
	// struct io
	ioDirection, ioSize, ioPort, ioCount, ioDataOffset = u + 0, u + 1, u + 2, u + 4, u + 8
	// struct mmio
	mmioAddr, mmioData, mmioLen, mmioIsWrite = u + 0, u + 8, u + 16, u + 20
	// struct internal / emulation_failure
	internalSuberror, internalNdata, internalData = u + 0, u + 4, u + 8
	emulationFlags, emulationInsnSize             = u + 8, u + 16
	// struct system_event
	eventType, eventNdata, eventData = u + 0, u + 4, u + 8
)

// fakeRun is a run area as KVM maps it here: struct kvm_run in the first
// page, port I/O data in the second, coalesced MMIO in the third.
type fakeRun []byte

const fakeRunSize = 3 * 4096

func newFakeRun(reason uint32) fakeRun {
	r := make(fakeRun, fakeRunSize)
	binary.LittleEndian.PutUint32(r[runExitReasonOffset:], reason)
	return r
}

func (r fakeRun) u8(off int, v uint8)   { r[off] = v }
func (r fakeRun) u16(off int, v uint16) { binary.LittleEndian.PutUint16(r[off:], v) }
func (r fakeRun) u32(off int, v uint32) { binary.LittleEndian.PutUint32(r[off:], v) }
func (r fakeRun) u64(off int, v uint64) { binary.LittleEndian.PutUint64(r[off:], v) }

func TestDecodeExit(t *testing.T) {
	tests := []struct {
		name    string
		run     func() fakeRun
		want    string
		wantErr bool
	}{
		{
			name: "io out",
			run: func() fakeRun {
				r := newFakeRun(KVM_EXIT_IO)
				r.u8(ioDirection, KVM_EXIT_IO_OUT)
				r.u8(ioSize, 2)
				r.u16(ioPort, 0x3f8)
				r.u32(ioCount, 2)
				r.u64(ioDataOffset, 0x1000)
				copy(r[0x1000:], []byte{1, 2, 3, 4, 5})
				return r
			},
			want: "io out port 0x3f8 size 2 count 2 data 01 02 03 04",
		},
		{
			name: "io data past the run area",
			run: func() fakeRun {
				r := newFakeRun(KVM_EXIT_IO)
				r.u8(ioSize, 4)
				r.u32(ioCount, 2)
				r.u64(ioDataOffset, fakeRunSize-4)
				return r
			},
			wantErr: true,
		},
		{
			name: "io data offset overflowing",
			run: func() fakeRun {
				r := newFakeRun(KVM_EXIT_IO)
				r.u8(ioSize, 1)
				r.u32(ioCount, 1)
				r.u64(ioDataOffset, ^uint64(0))
				return r
			},
			wantErr: true,
		},
		{
			name: "mmio write",
			run: func() fakeRun {
				r := newFakeRun(KVM_EXIT_MMIO)
				r.u64(mmioAddr, 0xd000_0050)
				copy(r[mmioData:], []byte{0xef, 0xbe, 0xad, 0xde, 0xff})
				r.u32(mmioLen, 4)
				r.u8(mmioIsWrite, 1)
				return r
			},
			want: "mmio write 0xd0000050 len 4 data ef be ad de",
		},
		{
			name: "mmio length clamped to the data array",
			run: func() fakeRun {
				r := newFakeRun(KVM_EXIT_MMIO)
				r.u32(mmioLen, 1000)
				r.u8(mmioIsWrite, 1)
				return r
			},
			want: "mmio write 0x0 len 1000 data 00 00 00 00 00 00 00 00",
		},
		{
			name: "emulation failure with instruction bytes",
			run: func() fakeRun {
				r := newFakeRun(KVM_EXIT_INTERNAL_ERROR)
				r.u32(internalSuberror, KVM_INTERNAL_ERROR_EMULATION)
				r.u32(internalNdata, 4)
				r.u64(emulationFlags, KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)
				r.u8(emulationInsnSize, 3)
				copy(r[emulationInsnSize+1:], []byte{0x48, 0x0f, 0xc7})
				return r
			},
			want: "internal error suberror 1 (emulation failure) data [0x1 0xc70f4803 0x0 0x0] instruction bytes 48 0f c7",
		},
		{
			name: "emulation failure with oversized instruction length",
			run: func() fakeRun {
				r := newFakeRun(KVM_EXIT_INTERNAL_ERROR)
				r.u32(internalSuberror, KVM_INTERNAL_ERROR_EMULATION)
				r.u32(internalNdata, 3)
				r.u64(emulationFlags, KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)
				r.u8(emulationInsnSize, 200)
				return r
			},
			want: "internal error suberror 1 (emulation failure) data [0x1 0xc8 0x0] instruction bytes 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00",
		},
		{
			name: "internal error with ndata past the array",
			run: func() fakeRun {
				r := newFakeRun(KVM_EXIT_INTERNAL_ERROR)
				r.u32(internalSuberror, KVM_INTERNAL_ERROR_DELIVERY_EV)
				r.u32(internalNdata, 1000)
				return r
			},
			want: "internal error suberror 3 (exit during event delivery) data [0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0 0x0]",
		},
		{
			name: "system event reset",
			run: func() fakeRun {
				r := newFakeRun(KVM_EXIT_SYSTEM_EVENT)
				r.u32(eventType, KVM_SYSTEM_EVENT_RESET)
				r.u32(eventNdata, 1)
				r.u64(eventData, 0x42)
				return r
			},
			want: "system event reset data [0x42]",
		},
		{
			name: "fail entry",
			run: func() fakeRun {
				r := newFakeRun(KVM_EXIT_FAIL_ENTRY)
				r.u64(u, 0x80000021)
				r.u32(u+8, 3)
				return r
			},
			want: "fail entry hardware reason 0x80000021 cpu 3",
		},
		{
			name: "debug",
			run: func() fakeRun {
				r := newFakeRun(KVM_EXIT_DEBUG)
				r.u32(u, 1)
				r.u64(u+8, 0xffff_ffff_8100_0000)
				return r
			},
			want: "debug exception 1 pc 0xffffffff81000000 dr6 0x0 dr7 0x0",
		},
		{name: "hlt", run: func() fakeRun { return newFakeRun(KVM_EXIT_HLT) }, want: "hlt"},
		{name: "shutdown", run: func() fakeRun { return newFakeRun(KVM_EXIT_SHUTDOWN) }, want: "shutdown"},
		{name: "intr", run: func() fakeRun { return newFakeRun(KVM_EXIT_INTR) }, want: "interrupted"},
		{
			name: "unknown with hardware reason",
			run: func() fakeRun {
				r := newFakeRun(KVM_EXIT_UNKNOWN)
				r.u64(u, 0x30)
				return r
			},
			want: "unknown exit (hardware exit reason 0x30)",
		},
		{name: "undecoded reason", run: func() fakeRun { return newFakeRun(KVM_EXIT_X86_RDMSR) }, want: "unhandled exit reason 29"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exit, err := decodeExit(tt.run())
			if tt.wantErr {
				if err == nil {
					t.Fatalf("decoded %v, want an error", exit)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := exit.String(); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestExitDataAliasesRunArea: the VMM answers reads by writing Data, so it
// must be the run area itself, not a copy.
func TestExitDataAliasesRunArea(t *testing.T) {
	r := newFakeRun(KVM_EXIT_IO)
	r.u8(ioDirection, KVM_EXIT_IO_IN)
	r.u8(ioSize, 1)
	r.u32(ioCount, 1)
	r.u64(ioDataOffset, 0x1000)
	exit, err := decodeExit(r)
	if err != nil {
		t.Fatal(err)
	}
	exit.IO.Data[0] = 0x77
	if r[0x1000] != 0x77 {
		t.Error("writing IO.Data did not reach the run area")
	}
	if cap(exit.IO.Data) != 1 {
		t.Errorf("IO.Data capacity %d reaches past the data", cap(exit.IO.Data))
	}

	r = newFakeRun(KVM_EXIT_MMIO)
	r.u32(mmioLen, 2)
	exit, err = decodeExit(r)
	if err != nil {
		t.Fatal(err)
	}
	copy(exit.MMIO.Data, []byte{1, 2})
	if !slices.Equal(r[mmioData:mmioData+2], []byte{1, 2}) {
		t.Error("writing MMIO.Data did not reach the run area")
	}
}

func TestImmediateExitByteOnly(t *testing.T) {
	r := newFakeRun(KVM_EXIT_HLT)
	r[0], r[2], r[3] = 0xa5, 0x5a, 0xff // request_interrupt_window, padding1
	storeImmediateExit(r, 1)
	if r[runImmediateExitOffset] != 1 || loadImmediateExit(r) != 1 {
		t.Fatalf("immediate_exit = %d after storing 1", r[runImmediateExitOffset])
	}
	storeImmediateExit(r, 0)
	if r[runImmediateExitOffset] != 0 || loadImmediateExit(r) != 0 {
		t.Fatalf("immediate_exit = %d after storing 0", r[runImmediateExitOffset])
	}
	if r[0] != 0xa5 || r[2] != 0x5a || r[3] != 0xff {
		t.Errorf("neighbouring bytes changed: % x", r[:4])
	}
}

func TestGSIRouteEncoding(t *testing.T) {
	tests := []struct {
		name  string
		route GSIRoute
		want  irqRoutingEntry
	}{
		{
			name:  "irqchip",
			route: IRQChipRoute(5, KVM_IRQCHIP_IOAPIC, 5),
			want:  irqRoutingEntry{Gsi: 5, Type: KVM_IRQ_ROUTING_IRQCHIP, U: [32]byte{0: 2, 4: 5}},
		},
		{
			name:  "msi",
			route: MSIRoute(30, 0x1_fee0_1000, 0x4041),
			want: irqRoutingEntry{Gsi: 30, Type: KVM_IRQ_ROUTING_MSI, U: [32]byte{
				0x00, 0x10, 0xe0, 0xfe, // address_lo
				0x01, 0x00, 0x00, 0x00, // address_hi
				0x41, 0x40, // data
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got irqRoutingEntry
			tt.route.encode(&got)
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
