package rtc

import (
	"testing"
	"time"
)

// FuzzCMOS drives the device with arbitrary port accesses while its clock
// moves. ops is read two bytes at a time, (op, value): op bits 0-1 the
// offset (2 and 3 are past the ports), bits 2-3 the width 1<<n, bit 4 a
// read instead of a write, bits 5-7 (n) how far the clock moves first:
// 1<<(5n) ns forwards (up to about a second), or for n = 7 a day back. It checks that nothing panics,
// that UIP never reads set, that register D reads 0x80 and that bytes past
// the data port read as 0xff.
func FuzzCMOS(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 1<<13 {
			ops = ops[:1<<13]
		}
		clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		c := New(clk.Now, 6<<30, 2<<30)
		for i := 0; i+1 < len(ops); i += 2 {
			op, v := ops[i], ops[i+1]
			switch step := op >> 5; step {
			case 7:
				clk.Advance(-24 * time.Hour)
			default:
				clk.Advance(time.Duration(1) << (5 * step))
			}
			off := uint64(op & 3)
			b := make([]byte, 1<<(op>>2&3))
			for j := range b {
				b[j] = v + byte(j)
			}
			if op&0x10 == 0 {
				c.Write(off, b)
				continue
			}
			c.Read(off, b)
			for j := range b {
				if off+uint64(j) != portData && b[j] != noAccess {
					t.Fatalf("read at offset %d byte %d = %#x, want 0xff", off, j, b[j])
				}
			}
			c.mu.Lock()
			idx := c.index
			c.mu.Unlock()
			if idx >= ramSize {
				t.Fatalf("index %#x out of range", idx)
			}
			if off <= portData && uint64(len(b)) > portData-off {
				got := b[portData-off]
				if idx == regA && got&aUIP != 0 {
					t.Fatalf("UIP set")
				}
				if idx == regD && got != dVRT {
					t.Fatalf("D = %#x", got)
				}
			}
		}
	})
}
