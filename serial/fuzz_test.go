package serial

import (
	"bytes"
	"testing"
)

// FuzzUART drives the UART with arbitrary register accesses and host input.
// ops is read two bytes at a time, (op, value):
//
//	op bit 7 set:   Enqueue value&0x1f bytes counting up from value
//	op bit 7 clear: access at offset op&0x0f (past the register file from 8),
//	                width 1<<(op>>4&3) bytes, a write if op bit 6 is set,
//	                data value, value+1, ...
//
// After every step it checks checkInvariants: the receive FIFO within its
// capacity, the interrupt line equal to the pending, ungated interrupt,
// SetLevel called only on changes. Output is bounded by the THR writes.
// The seed corpus in testdata/fuzz/FuzzUART follows Linux's startup, loopback
// overrun, the divisor latch, wide and out-of-range accesses, and input in
// 16450 and FIFO mode.
func FuzzUART(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 1<<13 {
			ops = ops[:1<<13] // long inputs add run time, not coverage
		}
		r := newRig()
		writes := 0
		for i := 0; i+1 < len(ops); i += 2 {
			op, v := ops[i], ops[i+1]
			if op&0x80 != 0 {
				p := make([]byte, v&0x1f)
				for j := range p {
					p[j] = v + byte(j)
				}
				room := r.u.Room()
				if n := r.u.Enqueue(p); n > len(p) || n > room {
					t.Fatalf("Enqueue accepted %d of %d with room %d", n, len(p), room)
				}
				checkInvariants(t, r)
				continue
			}
			off := uint64(op & 0x0f)
			data := make([]byte, 1<<(op>>4&3))
			for j := range data {
				data[j] = v + byte(j)
			}
			if op&0x40 != 0 {
				writes += len(data)
				r.u.Write(off, data)
			} else {
				r.u.Read(off, data)
				if off >= numRegs && !bytes.Equal(data, bytes.Repeat([]byte{noAccess}, len(data))) {
					t.Fatalf("read past the registers at %d returned % x", off, data)
				}
			}
			checkInvariants(t, r)
		}
		if r.out.Len() > writes {
			t.Fatalf("%d bytes of output from %d register writes", r.out.Len(), writes)
		}
	})
}
