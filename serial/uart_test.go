package serial

import (
	"bytes"
	"slices"
	"sync"
	"testing"
)

// fakeTrigger records every level the UART sets.
type fakeTrigger struct {
	mu     sync.Mutex
	levels []bool
	bad    string // first misuse seen: a repeated level, or lowering a line never raised
}

func (f *fakeTrigger) SetLevel(high bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.bad != "":
	case len(f.levels) == 0 && !high:
		f.bad = "first SetLevel call lowers a line that was never raised"
	case len(f.levels) > 0 && f.levels[len(f.levels)-1] == high:
		f.bad = "SetLevel called twice in a row with the same level"
	}
	f.levels = append(f.levels, high)
}

func (f *fakeTrigger) misuse() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bad
}

// high reports the current level of the line (low before any call).
func (f *fakeTrigger) high() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.levels) > 0 && f.levels[len(f.levels)-1]
}

func (f *fakeTrigger) calls() []bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.levels)
}

type rig struct {
	u   *UART
	out *bytes.Buffer
	irq *fakeTrigger
}

func newRig() *rig {
	r := &rig{out: new(bytes.Buffer), irq: new(fakeTrigger)}
	r.u = New(r.out, r.irq)
	return r
}

func (r *rig) rd(t *testing.T, off uint64) byte {
	t.Helper()
	var b [1]byte
	r.u.Read(off, b[:])
	return b[0]
}

func (r *rig) wr(t *testing.T, off uint64, v ...byte) {
	t.Helper()
	for _, b := range v {
		r.u.Write(off, []byte{b})
	}
}

// linuxStartup programs the UART roughly as Linux's 8250 driver does when
// the port is opened: 8N1, FIFOs on and cleared, DTR/RTS/OUT2, and the
// receive interrupts enabled.
func (r *rig) linuxStartup(t *testing.T) {
	t.Helper()
	r.wr(t, regLCR, 0x03)
	r.wr(t, regIIR, fcrEnable, fcrEnable|fcrClearRX|fcrClearTX, fcrEnable|0x80)
	r.wr(t, regMCR, mcrDTR|mcrRTS|mcrOUT2)
	r.wr(t, regIER, ierRLS|ierRDA)
}

func TestTransmit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		setup   []struct{ off, v byte }
		data    string
		wantOut string
		wantRX  string // what the guest then reads back from RBR
	}{
		{name: "plain", data: "hi", wantOut: "hi"},
		{name: "fifo enabled", setup: []struct{ off, v byte }{{regIIR, fcrEnable}}, data: "hello\n", wantOut: "hello\n"},
		{name: "divisor latch", setup: []struct{ off, v byte }{{regLCR, 0x83}}, data: "xy", wantOut: ""},
		{name: "loopback fifo", setup: []struct{ off, v byte }{{regIIR, fcrEnable}, {regMCR, mcrLoop}}, data: "abc", wantRX: "abc"},
		{name: "loopback 16450", setup: []struct{ off, v byte }{{regMCR, mcrLoop}}, data: "abc", wantRX: "c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig()
			for _, s := range tc.setup {
				r.wr(t, uint64(s.off), s.v)
			}
			for _, c := range []byte(tc.data) {
				r.wr(t, regData, c)
				if got := r.rd(t, regLSR) & (lsrTHRE | lsrTEMT); got != lsrTHRE|lsrTEMT {
					t.Fatalf("LSR after THR write: THRE|TEMT = %#x, want %#x", got, lsrTHRE|lsrTEMT)
				}
			}
			if got := r.out.String(); got != tc.wantOut {
				t.Errorf("output = %q, want %q", got, tc.wantOut)
			}
			var rx []byte
			for r.rd(t, regLSR)&lsrDR != 0 {
				rx = append(rx, r.rd(t, regData))
			}
			if string(rx) != tc.wantRX {
				t.Errorf("received = %q, want %q", rx, tc.wantRX)
			}
		})
	}
}

func TestDivisorLatch(t *testing.T) {
	t.Parallel()
	r := newRig()
	r.wr(t, regIER, ierRDA)
	r.wr(t, regLCR, 0x83)
	r.wr(t, regData, 0x01) // 115200 baud
	r.wr(t, regIER, 0x00)
	if got := r.rd(t, regData); got != 0x01 {
		t.Errorf("DLL = %#x, want 0x01", got)
	}
	if got := r.rd(t, regIER); got != 0x00 {
		t.Errorf("DLM = %#x, want 0", got)
	}
	r.wr(t, regLCR, 0x03)
	if got := r.rd(t, regIER); got != ierRDA {
		t.Errorf("IER after DLAB cleared = %#x, want %#x (DLM write must not touch IER)", got, ierRDA)
	}
	if r.out.Len() != 0 {
		t.Errorf("divisor writes produced output %q", r.out.Bytes())
	}
}

func TestScratch(t *testing.T) {
	t.Parallel()
	for _, v := range []byte{0x00, 0x55, 0xaa, 0xff} {
		r := newRig()
		r.wr(t, regSCR, v)
		if got := r.rd(t, regSCR); got != v {
			t.Errorf("SCR = %#x, want %#x", got, v)
		}
	}
}

func TestIIRPriorities(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ier     byte
		rx      bool // a byte waiting in the receiver
		overrun bool
		msDelta bool
		want    byte // IIR bits 0-3
	}{
		{name: "nothing enabled", ier: 0, rx: true, overrun: true, msDelta: true, want: iirNone},
		{name: "all enabled, all pending", ier: ierMask, rx: true, overrun: true, msDelta: true, want: iirRLS},
		{name: "rx beats thre", ier: ierMask, rx: true, msDelta: true, want: iirRDA},
		{name: "thre beats modem", ier: ierMask, msDelta: true, want: iirTHRE},
		{name: "modem only", ier: ierMS, rx: true, msDelta: true, want: iirMS},
		{name: "rls disabled", ier: ierRDA | ierTHRE, rx: true, overrun: true, want: iirRDA},
		{name: "thre only", ier: ierTHRE, want: iirTHRE},
		{name: "modem without delta", ier: ierMS, want: iirNone},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig()
			r.wr(t, regIIR, fcrEnable)
			if tc.overrun {
				r.wr(t, regMCR, mcrLoop)
				for range FIFOSize + 1 {
					r.wr(t, regData, 'o')
				}
				r.wr(t, regMCR, 0)
				r.wr(t, regIIR, fcrEnable|fcrClearRX)
			}
			if tc.msDelta {
				r.wr(t, regMCR, mcrLoop) // CTS/DSR/DCD drop: deltas latch
				r.wr(t, regMCR, 0)
			}
			if tc.rx {
				r.u.Enqueue([]byte{'x'})
			}
			r.wr(t, regIER, tc.ier)
			if got := r.rd(t, regIIR); got != tc.want|iirFIFOsOn {
				t.Errorf("IIR = %#x, want %#x", got, tc.want|iirFIFOsOn)
			}
		})
	}
}

// TestTHRECycle drives the THRE interrupt the way Linux's 8250 driver does:
// its startup test, then transmitting from the interrupt handler until the
// buffer is empty and stop_tx clears IER.THRI.
func TestTHRECycle(t *testing.T) {
	t.Parallel()
	r := newRig()
	r.wr(t, regMCR, mcrDTR|mcrRTS|mcrOUT2)

	// UART_BUG_THRE test: enabling THRI raises THRE, reading IIR clears it,
	// re-enabling THRI raises it again.
	r.wr(t, regIER, ierTHRE)
	if got := r.rd(t, regIIR) & 0x0f; got != iirTHRE {
		t.Fatalf("IIR after enabling THRI = %#x, want THRE", got)
	}
	if got := r.rd(t, regIIR) & 0x0f; got != iirNone {
		t.Fatalf("second IIR read = %#x, want none (read clears THRE)", got)
	}
	r.wr(t, regIER, 0)
	r.wr(t, regIER, ierTHRE)
	if got := r.rd(t, regIIR) & 0x0f; got != iirTHRE {
		t.Fatalf("IIR after re-enabling THRI = %#x, want THRE", got)
	}
	r.wr(t, regIER, 0)
	if r.irq.high() {
		t.Fatal("line high with IER = 0")
	}

	// start_tx: enable THRI -> line rises.
	r.wr(t, regIER, ierRDA|ierRLS|ierTHRE)
	if !r.irq.high() {
		t.Fatal("line low after enabling THRI with THR empty")
	}
	for _, chunk := range []string{"hello, ", "world\n"} {
		// Interrupt handler: IIR says THRE, which clears it and drops the line.
		if got := r.rd(t, regIIR) & 0x0f; got != iirTHRE {
			t.Fatalf("handler IIR = %#x, want THRE", got)
		}
		if r.irq.high() {
			t.Fatal("line still high after IIR read cleared THRE")
		}
		for _, c := range []byte(chunk) {
			r.wr(t, regData, c)
		}
		if !r.irq.high() {
			t.Fatal("line low after THR writes with THRI enabled")
		}
	}
	// Nothing left to send: the handler reads IIR, then stop_tx.
	if got := r.rd(t, regIIR) & 0x0f; got != iirTHRE {
		t.Fatalf("final IIR = %#x, want THRE", got)
	}
	r.wr(t, regIER, ierRDA|ierRLS)
	if got := r.rd(t, regIIR) & 0x0f; got != iirNone {
		t.Fatalf("IIR after stop_tx = %#x, want none", got)
	}
	if got := r.out.String(); got != "hello, world\n" {
		t.Errorf("output = %q", got)
	}
	want := []bool{true, false, true, false, true, false, true, false, true, false}
	if got := r.irq.calls(); !slices.Equal(got, want) {
		t.Errorf("level changes = %v, want %v (one rising edge per batch)", got, want)
	}
}

func TestReceiveInterrupt(t *testing.T) {
	t.Parallel()
	r := newRig()
	r.linuxStartup(t)
	if r.irq.high() {
		t.Fatal("line high before any input")
	}
	if n := r.u.Enqueue([]byte("ab")); n != 2 {
		t.Fatalf("Enqueue accepted %d, want 2", n)
	}
	if !r.irq.high() {
		t.Fatal("line low with received data and IER.RDA set")
	}
	if got := r.rd(t, regIIR); got != iirRDA|iirFIFOsOn {
		t.Fatalf("IIR = %#x, want RDA", got)
	}
	if !r.irq.high() {
		t.Fatal("IIR read cleared the RDA interrupt; only draining RBR may")
	}
	var got []byte
	for r.rd(t, regLSR)&lsrDR != 0 {
		got = append(got, r.rd(t, regData))
	}
	if string(got) != "ab" {
		t.Errorf("received %q, want %q", got, "ab")
	}
	if r.irq.high() {
		t.Error("line high after the FIFO was drained")
	}
	if got := r.rd(t, regIIR); got != iirNone|iirFIFOsOn {
		t.Errorf("IIR after drain = %#x, want none", got)
	}
}

func TestInterruptGating(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		mcr      byte
		wantHigh bool
	}{
		{name: "OUT2 set", mcr: mcrOUT2, wantHigh: true},
		{name: "OUT2 clear", mcr: mcrDTR | mcrRTS, wantHigh: false},
		{name: "loopback forces OUT2 off", mcr: mcrOUT2 | mcrLoop, wantHigh: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig()
			r.wr(t, regMCR, tc.mcr)
			r.wr(t, regIER, ierTHRE)
			if got := r.irq.high(); got != tc.wantHigh {
				t.Errorf("line high = %v, want %v", got, tc.wantHigh)
			}
			// IIR reports the condition whatever the gate says.
			if got := r.rd(t, regIIR) & 0x0f; got != iirTHRE {
				t.Errorf("IIR = %#x, want THRE", got)
			}
		})
	}
}

func TestOverrun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		fcr    byte
		sent   string
		wantRX string
	}{
		{name: "fifo keeps the first sixteen", fcr: fcrEnable, sent: "0123456789abcdefXY", wantRX: "0123456789abcdef"},
		{name: "16450 keeps the newest", fcr: 0, sent: "abc", wantRX: "c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig()
			r.wr(t, regIIR, tc.fcr)
			r.wr(t, regIER, ierRLS|ierRDA)
			r.wr(t, regMCR, mcrLoop)
			for _, c := range []byte(tc.sent) {
				r.wr(t, regData, c)
			}
			if got := r.rd(t, regIIR) & 0x0f; got != iirRLS {
				t.Errorf("IIR = %#x, want receiver line status", got)
			}
			lsr := r.rd(t, regLSR)
			if lsr&(lsrOE|lsrDR) != lsrOE|lsrDR {
				t.Errorf("LSR = %#x, want OE and DR", lsr)
			}
			if got := r.rd(t, regLSR); got&lsrOE != 0 {
				t.Errorf("LSR = %#x after a read; OE must clear on read", got)
			}
			if got := r.rd(t, regIIR) & 0x0f; got != iirRDA {
				t.Errorf("IIR after LSR read = %#x, want RDA", got)
			}
			var rx []byte
			for r.rd(t, regLSR)&lsrDR != 0 {
				rx = append(rx, r.rd(t, regData))
			}
			if string(rx) != tc.wantRX {
				t.Errorf("received %q, want %q", rx, tc.wantRX)
			}
		})
	}
}

func TestEnqueueNeverOverruns(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		fcr  byte
		mcr  byte
		want int
	}{
		{name: "fifo", fcr: fcrEnable, want: FIFOSize},
		{name: "16450", fcr: 0, want: 1},
		{name: "loopback", fcr: fcrEnable, mcr: mcrLoop, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig()
			r.wr(t, regIIR, tc.fcr)
			r.wr(t, regMCR, tc.mcr)
			if got := r.u.Room(); got != tc.want {
				t.Errorf("Room = %d, want %d", got, tc.want)
			}
			if got := r.u.Enqueue(make([]byte, 100)); got != tc.want {
				t.Errorf("Enqueue accepted %d, want %d", got, tc.want)
			}
			if got := r.u.Enqueue([]byte{1}); got != 0 {
				t.Errorf("Enqueue into a full receiver accepted %d", got)
			}
			if got := r.u.Room(); got != 0 {
				t.Errorf("Room after filling = %d", got)
			}
			if got := r.rd(t, regLSR); got&lsrOE != 0 {
				t.Errorf("LSR = %#x: host input must not overrun", got)
			}
		})
	}
}

func TestDrained(t *testing.T) {
	t.Parallel()
	r := newRig()
	r.linuxStartup(t)
	input := []byte("The quick brown fox jumps over the lazy dog")
	signalled := func() bool {
		select {
		case <-r.u.Drained():
			return true
		default:
			return false
		}
	}

	if n := r.u.Enqueue([]byte("ok")); n != 2 || signalled() {
		t.Fatalf("short input: accepted %d, signalled %v", n, signalled())
	}
	for r.rd(t, regLSR)&lsrDR != 0 {
		r.rd(t, regData)
	}
	if signalled() {
		t.Fatal("Drained signalled although no Enqueue was refused")
	}

	var got []byte
	for p := input; len(p) > 0; {
		n := r.u.Enqueue(p)
		p = p[n:]
		if len(p) == 0 {
			break
		}
		if n != FIFOSize && len(got) > 0 {
			t.Fatalf("Enqueue after Drained accepted %d, want %d", n, FIFOSize)
		}
		// The guest's interrupt handler drains the FIFO; the signal comes
		// only with the last byte.
		for r.rd(t, regLSR)&lsrDR != 0 {
			if signalled() {
				t.Fatal("Drained signalled before the FIFO was empty")
			}
			got = append(got, r.rd(t, regData))
		}
		if !signalled() {
			t.Fatal("Drained not signalled after the guest emptied the FIFO")
		}
	}
	for r.rd(t, regLSR)&lsrDR != 0 {
		got = append(got, r.rd(t, regData))
	}
	if !bytes.Equal(got, input) {
		t.Errorf("guest read %q, want %q", got, input)
	}
}

func TestFIFOControl(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		fcr      []byte
		wantIIR  byte // FIFO bits
		wantRoom int
	}{
		{name: "clear rx", fcr: []byte{fcrEnable | fcrClearRX}, wantIIR: iirFIFOsOn, wantRoom: FIFOSize},
		{name: "disable clears", fcr: []byte{0}, wantIIR: 0, wantRoom: 1},
		{name: "bits ignored without enable", fcr: []byte{0, fcrClearRX}, wantIIR: 0, wantRoom: 1},
		{name: "rewrite keeps data", fcr: []byte{fcrEnable | 0xc0}, wantIIR: iirFIFOsOn, wantRoom: FIFOSize - 3},
		{name: "64-byte bit ignored", fcr: []byte{fcrEnable | 0x20}, wantIIR: iirFIFOsOn, wantRoom: FIFOSize - 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig()
			r.wr(t, regIIR, fcrEnable)
			r.u.Enqueue([]byte("abc"))
			r.wr(t, regIIR, tc.fcr...)
			if got := r.rd(t, regIIR) & 0xf0; got != tc.wantIIR {
				t.Errorf("IIR high bits = %#x, want %#x", got, tc.wantIIR)
			}
			if got := r.u.Room(); got != tc.wantRoom {
				t.Errorf("Room = %d, want %d", got, tc.wantRoom)
			}
		})
	}
}

func TestModemStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		mcr  []byte
		want byte // MSR after the writes (first read)
	}{
		{name: "carrier without loopback", mcr: nil, want: msrDCD | msrDSR | msrCTS},
		{name: "linux loopback probe", mcr: []byte{mcrLoop | mcrOUT2 | mcrRTS}, want: msrDCD | msrCTS | msrDDSR},
		{name: "loopback all outputs", mcr: []byte{mcrLoop | 0x0f}, want: 0xf0},
		{name: "ring trailing edge", mcr: []byte{mcrLoop | mcrOUT1, mcrLoop}, want: msrDDCD | msrDDSR | msrDCTS | msrTERI},
		{name: "outputs ignored without loopback", mcr: []byte{0x0f}, want: msrDCD | msrDSR | msrCTS},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig()
			r.wr(t, regMCR, tc.mcr...)
			if got := r.rd(t, regMSR); got != tc.want {
				t.Errorf("MSR = %#x, want %#x", got, tc.want)
			}
			if got := r.rd(t, regMSR); got&msrDeltas != 0 {
				t.Errorf("MSR deltas %#x survive a read", got)
			}
		})
	}
}

// TestLinuxAutoconfig replays the probes of Linux's autoconfig() for a
// 16550A and checks each answer steers it to PORT_16550A.
func TestLinuxAutoconfig(t *testing.T) {
	t.Parallel()
	r := newRig()
	// IER test: bits 0-3 writable, 4-7 zero.
	r.wr(t, regIER, 0)
	if got := r.rd(t, regIER); got != 0 {
		t.Fatalf("IER = %#x after writing 0", got)
	}
	r.wr(t, regIER, 0x0f)
	if got := r.rd(t, regIER); got != 0x0f {
		t.Fatalf("IER = %#x after writing 0x0f", got)
	}
	r.wr(t, regIER, 0)
	// Loopback test.
	r.wr(t, regMCR, mcrLoop|0x0a)
	if got := r.rd(t, regMSR) & 0xf0; got != 0x90 {
		t.Fatalf("loopback MSR status = %#x, want 0x90", got)
	}
	r.wr(t, regMCR, 0)
	// FIFO type.
	r.wr(t, regIIR, fcrEnable)
	if got := r.rd(t, regIIR) >> 6; got != 3 {
		t.Fatalf("IIR>>6 = %d, want 3 (16550A)", got)
	}
	// No EFR: with LCR = 0xbf or 0x80, offset 2 must not read as zero.
	for _, lcr := range []byte{0xbf, 0x80} {
		r.wr(t, regLCR, lcr)
		if got := r.rd(t, regIIR); got == 0 {
			t.Fatalf("offset 2 reads 0 with LCR %#x: looks like an EFR", lcr)
		}
	}
	// No 64-byte FIFO (16750), with or without DLAB.
	for _, lcr := range []byte{0x00, 0x80} {
		r.wr(t, regLCR, lcr)
		r.wr(t, regIIR, fcrEnable|0x20)
		if got := r.rd(t, regIIR) & 0x20; got != 0 {
			t.Fatalf("IIR bit 5 set with LCR %#x: looks like a 16750", lcr)
		}
	}
	r.wr(t, regLCR, 0)
	// Not a National SuperIO: offset 2 with LCR 0xe0 must not echo MCR.LOOP.
	r.wr(t, regLCR, 0xe0)
	if got := r.rd(t, regIIR) & mcrLoop; got != 0 {
		t.Fatalf("IIR bit 4 set")
	}
	r.wr(t, regLCR, 0)
	// Not an XScale: IER bit 6 does not stick.
	r.wr(t, regIER, 0x40)
	if got := r.rd(t, regIER); got&0x40 != 0 {
		t.Fatalf("IER bit 6 sticks: looks like an XScale")
	}
	// Port present: LSR is not 0xff.
	if got := r.rd(t, regLSR); got == 0xff {
		t.Fatal("LSR reads 0xff")
	}
}

func TestWideAccess(t *testing.T) {
	t.Parallel()
	r := newRig()
	// outw to offset 6: MSR is read-only, then SCR.
	r.u.Write(6, []byte{0x12, 0x34})
	if got := r.rd(t, regSCR); got != 0x34 {
		t.Errorf("SCR = %#x after a 2-byte write at offset 6, want 0x34", got)
	}
	// outl to offset 0: THR, IER, FCR, LCR.
	r.u.Write(0, []byte{'A', ierRDA, fcrEnable, 0x03})
	if r.out.String() != "A" {
		t.Errorf("output = %q, want %q", r.out.String(), "A")
	}
	var d [4]byte
	r.u.Read(4, d[:])
	if d[3] != 0x34 {
		t.Errorf("4-byte read at offset 4 = % x, SCR byte = %#x, want 0x34", d, d[3])
	}
}

func TestEveryAccessIsSafe(t *testing.T) {
	t.Parallel()
	offsets := []uint64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 1 << 32, ^uint64(0) - 3, ^uint64(0)}
	for _, width := range []int{0, 1, 2, 4, 8} {
		for _, off := range offsets {
			r := newRig()
			r.wr(t, regMCR, mcrOUT2)
			for _, v := range []byte{0x00, 0xff, 0x80, 0x1f} {
				data := bytes.Repeat([]byte{v}, width)
				r.u.Write(off, data)
				r.u.Read(off, data)
				if off >= numRegs {
					for i, b := range data {
						if b != noAccess {
							t.Errorf("read at %#x width %d: byte %d = %#x, want 0xff", off, width, i, b)
						}
					}
				}
				r.u.Enqueue([]byte{v})
			}
			checkInvariants(t, r)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	r := newRig()
	r.linuxStartup(t)
	const total = 4096
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // the input goroutine
		defer wg.Done()
		p := bytes.Repeat([]byte{'z'}, total)
		for len(p) > 0 {
			p = p[r.u.Enqueue(p):]
			if len(p) > 0 {
				<-r.u.Drained()
			}
		}
	}()
	received := 0
	go func() { // a vCPU writing
		defer wg.Done()
		for range total {
			r.u.Write(regData, []byte{'w'})
		}
	}()
	for received < total { // a vCPU reading
		var lsr, b [1]byte
		r.u.Read(regLSR, lsr[:])
		if lsr[0]&lsrDR != 0 {
			r.u.Read(regData, b[:])
			received++
		}
	}
	wg.Wait()
	if r.out.Len() != total {
		t.Errorf("output %d bytes, want %d", r.out.Len(), total)
	}
}

// checkInvariants verifies what must hold after any sequence of accesses.
func checkInvariants(t *testing.T, r *rig) {
	t.Helper()
	u := r.u
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.rxLen < 0 || u.rxLen > u.capacity() || u.capacity() > FIFOSize {
		t.Fatalf("rx FIFO holds %d bytes, capacity %d", u.rxLen, u.capacity())
	}
	if u.rxHead < 0 || u.rxHead >= FIFOSize {
		t.Fatalf("rx head %d out of range", u.rxHead)
	}
	if u.ier&^ierMask != 0 || u.mcr&^mcrMask != 0 {
		t.Fatalf("reserved bits stored: IER %#x MCR %#x", u.ier, u.mcr)
	}
	want := u.interruptID() != iirNone && u.mcr&(mcrOUT2|mcrLoop) == mcrOUT2
	if u.level != want || r.irq.high() != want {
		t.Fatalf("line level %v (trigger %v), want %v", u.level, r.irq.high(), want)
	}
	if bad := r.irq.misuse(); bad != "" {
		t.Fatal(bad)
	}
}

// UART satisfies bus.Device (mirrored here: this package imports only the
// standard library).
var _ interface {
	Read(offset uint64, data []byte)
	Write(offset uint64, data []byte)
} = (*UART)(nil)
