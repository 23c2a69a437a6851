package acpi

import "testing"

// counts records the power device's side effects.
type counts struct{ interrupts, powerOffs, resets int }

func newTestPower() (*Power, *counts) {
	c := &counts{}
	return NewPower(PowerActions{
		Interrupt: func() { c.interrupts++ },
		PowerOff:  func() { c.powerOffs++ },
		Reset:     func() { c.resets++ },
	}), c
}

func readEvent(p *Power, width int) uint32 {
	b := make([]byte, width)
	p.Read(RegEvent, b)
	var v uint32
	for i, c := range b {
		v |= uint32(c) << (8 * i)
	}
	return v
}

func TestPowerButton(t *testing.T) {
	t.Parallel()
	p, c := newTestPower()
	if v := readEvent(p, 4); v != 0 {
		t.Fatalf("events %#x before any press", v)
	}
	p.PressPowerButton()
	if c.interrupts != 1 {
		t.Errorf("%d interrupts after a press, want 1", c.interrupts)
	}
	if v := readEvent(p, 4); v != EventPowerButton {
		t.Errorf("event register %#x, want the power button", v)
	}
	if v := readEvent(p, 4); v != 0 {
		t.Errorf("event register %#x after it was read, want it cleared", v)
	}
	p.PressPowerButton()
	p.Write(RegEvent, []byte{0, 0, 0, 0}) // writes do not clear events
	if v := readEvent(p, 1); v != EventPowerButton {
		t.Errorf("byte read of the event register %#x, want the power button", v)
	}
	if c.powerOffs != 0 || c.resets != 0 {
		t.Errorf("a button press powered off (%d) or reset (%d)", c.powerOffs, c.resets)
	}
}

func TestPowerReadsElsewhereAreZero(t *testing.T) {
	t.Parallel()
	p, _ := newTestPower()
	p.PressPowerButton()
	for _, tc := range []struct {
		name   string
		offset uint64
		width  int
	}{
		{"event upper bytes", 1, 1}, {"event, 8 bytes", RegEvent, 8}, {"sleep control", RegSleepControl, 1},
		{"sleep status", RegSleepStatus, 1}, {"reset", RegReset, 1}, {"reserved", 7, 1}, {"past the block", 8, 4},
		{"far away", ^uint64(0), 4},
	} {
		b := []byte{0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa}[:tc.width]
		p.Read(tc.offset, b)
		for _, v := range b {
			if v != 0 {
				t.Errorf("%s: read % x, want zeros", tc.name, b)
				break
			}
		}
	}
	if v := readEvent(p, 4); v != EventPowerButton {
		t.Errorf("reads elsewhere cleared the event register: %#x", v)
	}
}

func TestPowerSleepAndReset(t *testing.T) {
	t.Parallel()
	s5 := byte(SleepTypeS5<<2 | 1<<5)
	tests := []struct {
		name              string
		offset            uint64
		data              []byte
		powerOffs, resets int
	}{
		{"S5 with SLP_EN", RegSleepControl, []byte{s5}, 1, 0},
		{"S5 with SLP_EN and reserved bits", RegSleepControl, []byte{s5 | 0xc3}, 1, 0},
		{"S5 without SLP_EN", RegSleepControl, []byte{SleepTypeS5 << 2}, 0, 0},
		{"SLP_EN with S3", RegSleepControl, []byte{3<<2 | 1<<5}, 0, 0},
		{"SLP_EN with S0", RegSleepControl, []byte{1 << 5}, 0, 0},
		{"S5 in a wide write from the control register", RegSleepControl, []byte{s5, 0x80, 0, 0}, 1, 0},
		{"clearing WAK_STS", RegSleepStatus, []byte{0x80}, 0, 0},
		{"reset value", RegReset, []byte{ResetValue}, 0, 1},
		{"other reset value", RegReset, []byte{ResetValue + 1}, 0, 0},
		{"reset value in a wide write", RegSleepControl, []byte{0, 0, ResetValue}, 0, 1},
		{"S5 value at the event register", RegEvent, []byte{s5, s5, s5, s5}, 0, 0},
		{"S5 value past the block", PowerBlockSize, []byte{s5, ResetValue}, 0, 0},
		{"write wrapping the offset", ^uint64(0), []byte{0, 0, 0, 0, 0, s5, 0, ResetValue}, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, c := newTestPower()
			p.Write(tc.offset, tc.data)
			if c.powerOffs != tc.powerOffs || c.resets != tc.resets {
				t.Errorf("%d power-offs, %d resets; want %d, %d", c.powerOffs, c.resets, tc.powerOffs, tc.resets)
			}
		})
	}
}

func TestPowerNilActions(t *testing.T) {
	t.Parallel()
	p := NewPower(PowerActions{})
	p.PressPowerButton()
	p.Write(RegSleepControl, []byte{SleepTypeS5<<2 | 1<<5})
	p.Write(RegReset, []byte{ResetValue})
}

// The actions run without the lock held: a power-off that reads the device
// (as a VMM stopping vCPUs might) does not deadlock.
func TestPowerActionsMayReenter(t *testing.T) {
	t.Parallel()
	var p *Power
	got := uint32(0xff)
	p = NewPower(PowerActions{
		Interrupt: func() { got = readEvent(p, 4) },
		PowerOff:  func() { p.PressPowerButton() },
	})
	p.Write(RegSleepControl, []byte{SleepTypeS5<<2 | 1<<5})
	if got != EventPowerButton {
		t.Errorf("re-entrant read %#x", got)
	}
}
