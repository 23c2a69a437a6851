package vnet_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/virtiotest"
	"github.com/gluevmm/glue/virtio/vnet"
)

// Fuzzed guest memory: one 128 KiB region (room for an oversized frame),
// the queue's rings at 0, data from fzData.
const (
	fzSize  = 128 << 10
	fzData  = 0x1000
	fzQueue = 16
)

var fzMem = virtiotest.FuzzMemory{Spans: []guestmem.Span{{Base: 0, Size: fzSize}}}

// fuzzQueue lays out a queue of fzQueue entries at 0 with the fuzzed
// descriptor table (16 little-endian struct virtq_desc), available heads
// (up to twice the queue size, so some are out of range) and data.
func fuzzQueue(mem *guestmem.Memory, table, heads, data []byte) *virtiotest.Queue {
	drv := virtiotest.NewQueue(mem, 0, fzQueue)
	mem.WriteAt(table[:min(len(table), 16*fzQueue)], drv.DescTable)
	mem.WriteAt(data[:min(len(data), fzSize-fzData)], fzData)
	for _, h := range heads[:min(len(heads), fzQueue)] {
		drv.Publish(uint16(h % (2 * fzQueue)))
	}
	return drv
}

func fuzzFeatures(flags uint8) uint64 {
	f := virtio.FeatureVersion1 | vnet.FeatureMAC
	if flags&1 != 0 {
		f |= virtio.FeatureRingEventIdx
	}
	if flags&2 != 0 {
		f |= virtio.FeatureRingIndirectDesc
	}
	return f
}

// changedOutside returns the first guest address outside allowed whose
// byte differs between before and after, or -1.
func changedOutside(before, after []byte, allowed [][2]uint64) int {
	const chunk = 4096
	for base := 0; base < len(after); base += chunk {
		end := min(base+chunk, len(after))
		if bytes.Equal(before[base:end], after[base:end]) {
			continue
		}
		if off := changedIn(before, after, base, end, allowed); off >= 0 {
			return off
		}
	}
	return -1
}

func changedIn(before, after []byte, from, to int, allowed [][2]uint64) int {
next:
	for off := from; off < to; off++ {
		if after[off] == before[off] {
			continue
		}
		for _, s := range allowed {
			if uint64(off) >= s[0] && uint64(off) < s[1] {
				continue next
			}
		}
		return off
	}
	return -1
}

// FuzzTx hands virtio-net transmit chains made of fuzzed descriptors,
// available heads and buffer contents to the device, with a backend that
// has room for room frames (negative: unlimited). It checks that the device
// never panics, writes guest memory only in the used ring (a transmit
// buffer is never written), completes every chain with length 0, hands the
// backend only well-formed frames (an Ethernet header at least, at most
// MaxFrameLen, behind an all-zero header), and accounts for every chain
// exactly once in its counters.
func FuzzTx(f *testing.F) {
	f.Add([]byte{}, []byte{0}, []byte{}, int8(-1), uint8(0))
	f.Fuzz(func(t *testing.T, table, heads, data []byte, room int8, flags uint8) {
		mem := fzMem.Get(t)
		drv := fuzzQueue(mem, table, heads, data)
		features := fuzzFeatures(flags)
		be := newFakeBackend()
		be.txRoom = int(room)
		dev, err := vnet.New(vnet.Config{MAC: testMAC, Backend: be})
		if err != nil {
			t.Fatal(err)
		}
		irq := &virtiotest.Interrupt{}
		q, err := virtio.NewQueue(mem, drv.Config(vnet.TxQueue, features, irq))
		if err != nil {
			t.Fatal(err)
		}
		if err := dev.Activate(mem, features, []*virtio.Queue{nil, q}, irq); err != nil {
			t.Fatal(err)
		}
		before := bytes.Clone(mem.Regions()[0].Host())
		for i := 0; dev.Notify(vnet.TxQueue); i++ {
			if i > 2 {
				t.Fatal("more work than was made available")
			}
		}

		usedEnd := uint64(drv.UsedRing) + 4 + 8*fzQueue + 2
		if off := changedOutside(before, mem.Regions()[0].Host(), [][2]uint64{{uint64(drv.UsedRing), usedEnd}}); off >= 0 {
			t.Fatalf("device wrote guest memory at %#x", off)
		}
		used := drv.Used()
		for _, u := range used {
			if u.Len != 0 {
				t.Fatalf("transmit chain %d completed with length %d", u.ID, u.Len)
			}
		}
		sent := be.Sent()
		for i, fr := range sent {
			if len(fr) < vnet.HeaderLen+14 || len(fr) > vnet.MaxFrameLen {
				t.Fatalf("frame %d of %d bytes reached the backend", i, len(fr))
			}
			if !bytes.Equal(fr[:vnet.HeaderLen], hdr()) {
				t.Fatalf("frame %d reached the backend with header % x", i, fr[:vnet.HeaderLen])
			}
		}
		s, qs := dev.Stats(), q.Stats()
		if s.TxFrames != uint64(len(sent)) {
			t.Fatalf("TxFrames %d, backend got %d", s.TxFrames, len(sent))
		}
		if n := s.TxFrames + s.TxDropped + s.TxErrors + s.TxMalformed; n != qs.Chains {
			t.Fatalf("device accounted for %d chains, the queue handed it %d (%+v)", n, qs.Chains, s)
		}
		if !qs.Broken && uint64(len(used)) != qs.Chains+qs.Malformed {
			t.Fatalf("%d used entries for %d chains and %d malformed", len(used), qs.Chains, qs.Malformed)
		}
	})
}

// FuzzRx delivers fuzzed frames (frames cut into pieces by lens, headers
// included, so some are bad) into receive chains made of fuzzed
// descriptors and heads. It checks that the device never panics, writes
// guest memory only in the used ring and in device-writable buffers,
// completes each chain with length 0 or a header (num_buffers 1) plus a
// whole good frame, and counts what it delivered.
func FuzzRx(f *testing.F) {
	f.Add([]byte{}, []byte{0}, []byte{}, []byte{}, uint8(0))
	f.Fuzz(func(t *testing.T, table, heads, frames, lens []byte, flags uint8) {
		mem := fzMem.Get(t)
		drv := fuzzQueue(mem, table, heads, nil)
		features := fuzzFeatures(flags &^ 2) // indirect tables would hide writable buffers from the check
		be := newFakeBackend()
		sizes := map[int]bool{}
		pushed := 0
		for i := 0; i+1 < len(lens) && len(frames) > 0; i += 2 {
			n := min(int(binary.LittleEndian.Uint16(lens[i:])), len(frames))
			be.PushRaw(frames[:n])
			sizes[n] = true
			frames = frames[n:]
			pushed++
		}
		dev, err := vnet.New(vnet.Config{MAC: testMAC, Backend: be})
		if err != nil {
			t.Fatal(err)
		}
		irq := &virtiotest.Interrupt{}
		q, err := virtio.NewQueue(mem, drv.Config(vnet.RxQueue, features, irq))
		if err != nil {
			t.Fatal(err)
		}
		if err := dev.Activate(mem, features, []*virtio.Queue{q}, irq); err != nil {
			t.Fatal(err)
		}
		allowed := [][2]uint64{{uint64(drv.UsedRing), uint64(drv.UsedRing) + 4 + 8*fzQueue + 2}}
		for i := range fzQueue {
			var b [16]byte
			mem.ReadAt(b[:], drv.DescTable+guestmem.Addr(16*i))
			if binary.LittleEndian.Uint16(b[12:])&virtio.DescFlagWrite != 0 {
				a := binary.LittleEndian.Uint64(b[:])
				end := a + uint64(binary.LittleEndian.Uint32(b[8:]))
				if a < fzData && end > 0 {
					return // a writable buffer over the rings: the device may rewrite them; not an input this target checks
				}
				allowed = append(allowed, [2]uint64{a, end})
			}
		}
		before := bytes.Clone(mem.Regions()[0].Host())
		dev.Notify(vnet.RxQueue)
		// A call that says there is more has taken a queue's worth of
		// frames (delivered or dropped) from the backend.
		for i := 0; dev.HandleRx(); i++ {
			if i > pushed/fzQueue+2 {
				t.Fatalf("HandleRx said there was more %d times for %d frames", i+1, pushed)
			}
		}

		if off := changedOutside(before, mem.Regions()[0].Host(), allowed); off >= 0 {
			t.Fatalf("device wrote guest memory at %#x", off)
		}
		var delivered uint64
		for _, u := range drv.Used() {
			if u.Len == 0 {
				continue
			}
			delivered++
			if !sizes[int(u.Len)] || u.Len < vnet.HeaderLen+14 || u.Len > vnet.MaxFrameLen {
				t.Fatalf("chain %d completed with length %d, not a good frame's", u.ID, u.Len)
			}
		}
		if s := dev.Stats(); s.RxFrames != delivered {
			t.Fatalf("RxFrames %d, %d chains hold frames", s.RxFrames, delivered)
		}
	})
}
