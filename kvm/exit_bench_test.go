package kvm

import "testing"

// The exits a VMM takes most: a port write (the UART, port 0x80) and an
// MMIO write (a virtio notification without ioeventfd).
func portExit() fakeRun {
	r := newFakeRun(KVM_EXIT_IO)
	r.u8(ioDirection, KVM_EXIT_IO_OUT)
	r.u8(ioSize, 1)
	r.u16(ioPort, 0x80)
	r.u32(ioCount, 1)
	r.u64(ioDataOffset, 0x1000)
	return r
}

func mmioExit() fakeRun {
	r := newFakeRun(KVM_EXIT_MMIO)
	r.u64(mmioAddr, 0xd0000050)
	r.u32(mmioLen, 4)
	r.u8(mmioIsWrite, 1)
	return r
}

// Decoding an exit allocates nothing: the exit path runs once per guest
// I/O, and an allocation there is garbage the collector pays for at the
// exit rate.
func TestDecodeExitDoesNotAllocate(t *testing.T) {
	for name, run := range map[string]fakeRun{"port": portExit(), "mmio": mmioExit()} {
		if n := testing.AllocsPerRun(1000, func() { decodeExit(run) }); n != 0 {
			t.Errorf("decoding a %s exit: %v allocations, want 0", name, n)
		}
	}
}

func BenchmarkDecodeExit(b *testing.B) {
	for name, run := range map[string]fakeRun{"port": portExit(), "mmio": mmioExit()} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeExit(run); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
