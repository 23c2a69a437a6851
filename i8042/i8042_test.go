package i8042

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

type fakeTrigger struct {
	mu     sync.Mutex
	levels []bool
}

func (f *fakeTrigger) SetLevel(high bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.levels = append(f.levels, high)
}

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
	c        *Controller
	resets   atomic.Int32
	kbd, aux fakeTrigger
}

func newRig() *rig {
	r := &rig{}
	r.c = New(Config{Reset: func() { r.resets.Add(1) }, KeyboardIRQ: &r.kbd, AuxIRQ: &r.aux})
	return r
}

// step is one port access: a write of v to the command or data port.
type step struct {
	cmd bool
	v   byte
}

func cmd(v byte) step  { return step{cmd: true, v: v} }
func data(v byte) step { return step{v: v} }

func (r *rig) run(steps ...step) {
	for _, s := range steps {
		p := r.c.DataPort()
		if s.cmd {
			p = r.c.CommandPort()
		}
		p.Write(0, []byte{s.v})
	}
}

func (r *rig) status() byte {
	var b [1]byte
	r.c.CommandPort().Read(0, b[:])
	return b[0]
}

func (r *rig) readData() byte {
	var b [1]byte
	r.c.DataPort().Read(0, b[:])
	return b[0]
}

// answer reads the output buffer the way Linux's i8042_wait_read does: it
// reports false when the status register says there is nothing to read.
func (r *rig) answer() (byte, bool) {
	if r.status()&stOutFull == 0 {
		return 0, false
	}
	return r.readData(), true
}

func TestResetOncePerRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		steps []step
		want  int32
	}{
		{name: "pulse reset", steps: []step{cmd(0xfe)}, want: 1},
		{name: "linux reboot loop", steps: []step{cmd(0xfe), cmd(0xfe), cmd(0xfe)}, want: 3},
		{name: "pulse reset and A20", steps: []step{cmd(0xfc)}, want: 1},
		{name: "pulse nothing", steps: []step{cmd(0xff)}, want: 0},
		{name: "pulse other bits", steps: []step{cmd(0xf1), cmd(0xf3), cmd(0xf7)}, want: 0},
		{name: "output port reset", steps: []step{cmd(0xd1), data(0xfe)}, want: 1},
		{name: "output port A20 only", steps: []step{cmd(0xd1), data(0xdf), cmd(0xd1), data(0xdd)}, want: 0},
		{name: "0xfe to the keyboard", steps: []step{data(0xfe)}, want: 0},
		{name: "0xfe as command byte", steps: []step{cmd(0x60), data(0xfe)}, want: 0},
		{name: "command cancels parameter", steps: []step{cmd(0xd1), cmd(0xfe), data(0xff)}, want: 1},
		{name: "0xfe to the mouse", steps: []step{cmd(0xd4), data(0xfe)}, want: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig()
			r.run(tc.steps...)
			if got := r.resets.Load(); got != tc.want {
				t.Errorf("reset called %d times, want %d", got, tc.want)
			}
		})
	}
}

func TestResetMayReenter(t *testing.T) {
	t.Parallel()
	var c *Controller
	var st [1]byte
	c = New(Config{Reset: func() { c.CommandPort().Read(0, st[:]) }})
	c.CommandPort().Write(0, []byte{0xfe}) // deadlocks if Reset ran under the lock
	if st[0]&stCommand == 0 {
		t.Errorf("status read from Reset = %#x", st[0])
	}
}

func TestCommands(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		steps   []step
		want    []byte // answers, in order
		wantAux bool   // the answer is flagged as auxiliary data
	}{
		{name: "self test", steps: []step{cmd(0xaa)}, want: []byte{0x55}},
		{name: "read command byte", steps: []step{cmd(0x20)}, want: []byte{cbDefault}},
		{name: "write command byte", steps: []step{cmd(0x60), data(0x74), cmd(0x20)}, want: []byte{0x74}},
		{name: "keyboard interface test", steps: []step{cmd(0xab)}, want: []byte{0x00}},
		{name: "aux interface test", steps: []step{cmd(0xa9)}, want: []byte{0x00}},
		{name: "aux disable", steps: []step{cmd(0xa7), cmd(0x20)}, want: []byte{cbDefault | cbAuxOff}},
		{name: "aux enable", steps: []step{cmd(0xa7), cmd(0xa8), cmd(0x20)}, want: []byte{cbDefault}},
		{name: "keyboard disable", steps: []step{cmd(0xad), cmd(0x20)}, want: []byte{cbDefault | cbKbdOff}},
		{name: "keyboard enable", steps: []step{cmd(0xad), cmd(0xae), cmd(0x20)}, want: []byte{cbDefault}},
		{name: "read output port", steps: []step{cmd(0xd0)}, want: []byte{outPortInit}},
		{name: "write output port", steps: []step{cmd(0xd1), data(0xdf), cmd(0xd0)}, want: []byte{0xdf}},
		{name: "keyboard loopback", steps: []step{cmd(0xd2), data(0x1c)}, want: []byte{0x1c}},
		{name: "aux loopback", steps: []step{cmd(0xd3), data(0x5a)}, want: []byte{0x5a}, wantAux: true},
		{name: "controller ram", steps: []step{cmd(0x7f), data(0x99), cmd(0x3f)}, want: []byte{0x99}},
		{name: "newest answer wins", steps: []step{cmd(0xaa), cmd(0xab)}, want: []byte{0x00}},
		{name: "byte for the mouse", steps: []step{cmd(0xd4), data(0xf2)}},
		{name: "byte for the keyboard", steps: []step{data(0xf2)}},
		{name: "unknown command", steps: []step{cmd(0xc0), cmd(0x00), cmd(0xa1)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig()
			r.run(tc.steps...)
			for i, want := range tc.want {
				st := r.status()
				if aux := st&stAuxData != 0; aux != tc.wantAux {
					t.Errorf("answer %d: status %#x, aux flag %v, want %v", i, st, aux, tc.wantAux)
				}
				got, ok := r.answer()
				if !ok || got != want {
					t.Fatalf("answer %d = %#x (present %v), want %#x", i, got, ok, want)
				}
			}
			if got, ok := r.answer(); ok {
				t.Errorf("unexpected extra answer %#x", got)
			}
			if got := r.resets.Load(); got != 0 {
				t.Errorf("reset called %d times", got)
			}
		})
	}
}

func TestStatusRegister(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		steps []step
		want  byte
	}{
		{name: "power on", want: stUnlocked | stSystem},
		{name: "after a command", steps: []step{cmd(0xad)}, want: stUnlocked | stSystem | stCommand},
		{name: "after data", steps: []step{cmd(0xad), data(0xf4)}, want: stUnlocked | stSystem},
		{name: "answer waiting", steps: []step{cmd(0xaa)}, want: stUnlocked | stSystem | stCommand | stOutFull},
		{name: "aux answer waiting", steps: []step{cmd(0xd3), data(1)}, want: stUnlocked | stSystem | stOutFull | stAuxData},
		{name: "system flag cleared", steps: []step{cmd(0x60), data(0x00)}, want: stUnlocked},
		{name: "self test sets system flag", steps: []step{cmd(0x60), data(0x00), cmd(0xaa)}, want: stUnlocked | stSystem | stCommand | stOutFull},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig()
			r.run(tc.steps...)
			if got := r.status(); got != tc.want {
				t.Errorf("status = %#x, want %#x", got, tc.want)
			}
		})
	}
}

func TestInterrupts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		ctr            byte
		steps          []step
		wantKbd, wantA bool
	}{
		{name: "keyboard answer, kbd irq on", ctr: cbKbdInt, steps: []step{cmd(0xaa)}, wantKbd: true},
		{name: "keyboard answer, irqs off", ctr: 0, steps: []step{cmd(0xaa)}},
		{name: "aux loopback, aux irq on", ctr: cbAuxInt, steps: []step{cmd(0xd3), data(0xa5)}, wantA: true},
		{name: "aux loopback, only kbd irq", ctr: cbKbdInt, steps: []step{cmd(0xd3), data(0xa5)}},
		{name: "kbd loopback, both on", ctr: cbKbdInt | cbAuxInt, steps: []step{cmd(0xd2), data(0x1e)}, wantKbd: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig()
			r.run(cmd(0x60), data(tc.ctr))
			r.run(tc.steps...)
			if r.kbd.high() != tc.wantKbd || r.aux.high() != tc.wantA {
				t.Fatalf("IRQ1 %v IRQ12 %v, want %v %v", r.kbd.high(), r.aux.high(), tc.wantKbd, tc.wantA)
			}
			r.readData()
			if r.kbd.high() || r.aux.high() {
				t.Errorf("line still high after the data port was read")
			}
			for name, calls := range map[string][]bool{"IRQ1": r.kbd.calls(), "IRQ12": r.aux.calls()} {
				for i := 1; i < len(calls); i++ {
					if calls[i] == calls[i-1] {
						t.Errorf("%s: SetLevel(%v) twice in a row", name, calls[i])
					}
				}
			}
		})
	}
}

// TestLinuxProbe replays what Linux's i8042 driver does at boot: flush,
// self test, read and rewrite the command byte, find the auxiliary port by
// loopback, test AUX IRQ delivery, and check for an active multiplexer.
func TestLinuxProbe(t *testing.T) {
	t.Parallel()
	r := newRig()
	command := func(c byte, params []byte, answers int) []byte {
		t.Helper()
		if r.status()&0x02 != 0 {
			t.Fatalf("input buffer full before command %#x", c)
		}
		r.run(cmd(c))
		for _, p := range params {
			r.run(data(p))
		}
		var got []byte
		for range answers {
			b, ok := r.answer()
			if !ok {
				t.Fatalf("command %#x: no answer: Linux would time out", c)
			}
			got = append(got, b)
		}
		return got
	}
	flush := func() {
		for n := 0; r.status()&stOutFull != 0; n++ {
			if n > 16 {
				t.Fatal("output buffer never empties")
			}
			r.readData()
		}
	}

	flush()
	if got := command(0xaa, nil, 1); got[0] != 0x55 {
		t.Fatalf("self test answered %#x", got[0])
	}
	ctr := command(0x20, nil, 1)[0]
	if again := command(0x20, nil, 1)[0]; again != ctr {
		t.Fatalf("command byte unstable: %#x then %#x", ctr, again)
	}
	ctr = (ctr | cbKbdOff | cbAuxOff) &^ (cbKbdInt | cbAuxInt)
	command(0x60, []byte{ctr}, 0)
	flush()

	// i8042_check_aux.
	if got := command(0xd3, []byte{0x5a}, 1); got[0] != 0x5a {
		t.Fatalf("aux loopback answered %#x", got[0])
	}
	command(0xa7, nil, 0)
	if got := command(0x20, nil, 1)[0]; got&cbAuxOff == 0 {
		t.Fatalf("command byte %#x after 0xa7: aux not disabled", got)
	}
	command(0xa8, nil, 0)
	if got := command(0x20, nil, 1)[0]; got&cbAuxOff != 0 {
		t.Fatalf("command byte %#x after 0xa8: aux still disabled", got)
	}
	// AUX IRQ delivery test.
	ctr = (ctr &^ cbAuxOff) | cbAuxInt
	command(0x60, []byte{ctr}, 0)
	r.run(cmd(0xd3), data(0xa5))
	if !r.aux.high() {
		t.Fatal("no IRQ 12 after aux loopback with the aux interrupt enabled")
	}
	if st := r.status(); st&(stOutFull|stAuxData) != stOutFull|stAuxData {
		t.Fatalf("status %#x in the aux interrupt handler", st)
	}
	if got := r.readData(); got != 0xa5 || r.aux.high() {
		t.Fatalf("aux handler read %#x, line high %v", got, r.aux.high())
	}
	ctr &^= cbAuxInt
	command(0x60, []byte{ctr | cbAuxOff}, 0)

	// i8042_check_mux: a plain echo of 0xa4 means "no multiplexer".
	flush()
	for _, v := range []byte{0xf0, 0x56, 0xa4} {
		if got := command(0xd3, []byte{v}, 1); got[0] != v {
			t.Fatalf("aux loopback of %#x answered %#x", v, got[0])
		}
	}
	// Keyboard port enabled with its interrupt.
	command(0x60, []byte{(ctr &^ cbKbdOff) | cbKbdInt}, 0)
	if got := r.resets.Load(); got != 0 {
		t.Errorf("probe reset the machine %d times", got)
	}
}

func TestEveryAccessIsSafe(t *testing.T) {
	t.Parallel()
	r := newRig()
	ports := []Port{r.c.DataPort(), r.c.CommandPort(), {}}
	for _, p := range ports {
		for _, off := range []uint64{0, 1, 3, 4, 1 << 40, ^uint64(0)} {
			for _, width := range []int{0, 1, 2, 4, 8} {
				for _, v := range []byte{0x00, 0x20, 0x60, 0xd3, 0xff} {
					b := make([]byte, width)
					for i := range b {
						b[i] = v
					}
					p.Write(off, b)
					p.Read(off, b)
					for i, got := range b {
						if (off != 0 || i > 0 || p.c == nil) && got != noAccess {
							t.Fatalf("read offset %#x byte %d = %#x, want 0xff", off, i, got)
						}
					}
				}
			}
		}
	}
	if got := r.resets.Load(); got != 0 {
		t.Errorf("reset called %d times; none of the bytes written requests one", got)
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	r := newRig()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				r.run(cmd(0xd3), data(byte(g*i)), cmd(0x20))
				r.status()
				r.readData()
			}
		}()
	}
	wg.Wait()
	if got := r.resets.Load(); got != 0 {
		t.Errorf("reset called %d times", got)
	}
}

// Port satisfies bus.Device (mirrored here: this package imports only the
// standard library).
var _ interface {
	Read(offset uint64, data []byte)
	Write(offset uint64, data []byte)
} = Port{}
