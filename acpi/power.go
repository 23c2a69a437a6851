package acpi

import (
	"encoding/binary"
	"sync"
)

// The power device's register block, PowerBlockSize bytes at
// Machine.Power.Base in its address space. The DSDT's GED reads the event
// register; the FADT points the OS at the sleep and reset registers.
const (
	// RegEvent (32 bits, read-only) holds the pending events, Event* bits.
	// A read returns them and clears those it returned; the GED's _EVT
	// method reads it once per interrupt.
	RegEvent = 0x0
	// RegSleepControl (8 bits, write-only): writing SLP_EN (bit 5) with
	// SLP_TYP (bits 2-4) = SleepTypeS5 powers the machine off. Reads 0.
	RegSleepControl = 0x4
	// RegSleepStatus (8 bits): WAK_STS (bit 7) never set, since the
	// machine never wakes from a sleep state; writes (the OS clears
	// WAK_STS before it sleeps) are ignored.
	RegSleepStatus = 0x5
	// RegReset (8 bits, write-only): writing ResetValue resets the machine.
	RegReset = 0x6

	PowerBlockSize = 8
)

// EventPowerButton is the RegEvent bit of a power button press.
const EventPowerButton = 1 << 0

const (
	// SleepTypeS5 is the SLP_TYP value of the soft-off state, the one
	// sleep state the DSDT offers (its \_S5 package).
	SleepTypeS5 = 5
	// ResetValue is the FADT's RESET_VALUE.
	ResetValue = 0x01

	sleepTypeShift = 2
	sleepTypeMask  = 0x7 << sleepTypeShift
	sleepEnable    = 1 << 5
)

// PowerActions are the side effects of the power device, each called
// without the device's lock held so it may call back into the device.
type PowerActions struct {
	// Interrupt pulses the GED's GSI (Machine.Power.GSI): an event became
	// pending.
	Interrupt func()
	// PowerOff is called when the guest enters S5.
	PowerOff func()
	// Reset is called when the guest writes the reset register.
	Reset func()
}

// Power models the register block of a hardware-reduced ACPI machine: the
// Generic Event Device's event register and the sleep control, sleep status
// and reset registers. It implements bus.Device; every access of every width
// at every offset is defined, and none panics. It is safe for concurrent use.
type Power struct {
	actions PowerActions

	mu      sync.Mutex
	pending uint32 // Event* bits not yet read by the guest
}

// NewPower returns the power device; nil actions are skipped.
func NewPower(actions PowerActions) *Power {
	return &Power{actions: actions}
}

// PressPowerButton latches a power button event and interrupts the guest,
// whose GED then notifies the power button device (Linux then shuts down
// and enters S5).
func (p *Power) PressPowerButton() {
	p.mu.Lock()
	p.pending |= EventPowerButton
	p.mu.Unlock()
	call(p.actions.Interrupt)
}

// Read handles a guest read at offset in the block. A read of up
// to 4 bytes at RegEvent returns and clears the events that fit in it; every
// other byte reads as zero.
func (p *Power) Read(offset uint64, data []byte) {
	clear(data)
	if offset != RegEvent || len(data) > 4 {
		return
	}
	var buf [4]byte
	mask := uint32(1)<<(8*len(data)) - 1
	p.mu.Lock()
	binary.LittleEndian.PutUint32(buf[:], p.pending&mask)
	p.pending &^= mask
	p.mu.Unlock()
	copy(data, buf[:])
}

// Write handles a guest write at offset in the block, byte by byte as an
// 8-bit register file decodes it.
func (p *Power) Write(offset uint64, data []byte) {
	for i, v := range data {
		if offset+uint64(i) < offset { // wrapped
			return
		}
		switch offset + uint64(i) {
		case RegSleepControl:
			if v&sleepEnable != 0 && (v&sleepTypeMask)>>sleepTypeShift == SleepTypeS5 {
				call(p.actions.PowerOff)
			}
		case RegReset:
			if v == ResetValue {
				call(p.actions.Reset)
			}
		}
	}
}

func call(f func()) {
	if f != nil {
		f()
	}
}
