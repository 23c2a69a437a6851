package i8042

import "testing"

// FuzzController drives the controller with arbitrary port accesses. ops is
// read two bytes at a time, (op, value): op bit 0 picks the command port,
// bit 1 a read instead of a write, bits 2-3 the width 1<<n, bit 4 an offset
// of 1 instead of 0. It checks that nothing panics, that reset is requested
// only by the commands and output-port writes that mean it, and that the
// interrupt lines follow the output buffer.
func FuzzController(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 1<<13 {
			ops = ops[:1<<13]
		}
		r := newRig()
		var wantResets int32
		pendingOutPort := false
		for i := 0; i+1 < len(ops); i += 2 {
			op, v := ops[i], ops[i+1]
			p := r.c.DataPort()
			isCmd := op&1 != 0
			if isCmd {
				p = r.c.CommandPort()
			}
			off := uint64(op >> 4 & 1)
			b := make([]byte, 1<<(op>>2&3))
			for j := range b {
				b[j] = v
			}
			if op&2 != 0 {
				p.Read(off, b)
			} else {
				p.Write(off, b)
				if off == 0 {
					switch {
					case isCmd && v >= cmdPulse && v&1 == 0:
						wantResets++
					case !isCmd && pendingOutPort && v&1 == 0:
						wantResets++
					}
					if isCmd || pendingOutPort {
						pendingOutPort = isCmd && v == cmdWriteOutPort
					}
				}
			}
			if got := r.resets.Load(); got != wantResets {
				t.Fatalf("step %d: %d resets, want %d", i/2, got, wantResets)
			}
			r.c.mu.Lock()
			kbd := r.c.outFull && !r.c.outAux && r.c.ram[0]&cbKbdInt != 0
			aux := r.c.outFull && r.c.outAux && r.c.ram[0]&cbAuxInt != 0
			r.c.mu.Unlock()
			if r.kbd.high() != kbd || r.aux.high() != aux {
				t.Fatalf("step %d: lines %v/%v, want %v/%v", i/2, r.kbd.high(), r.aux.high(), kbd, aux)
			}
		}
	})
}
