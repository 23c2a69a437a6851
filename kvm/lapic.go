package kvm

import "encoding/binary"

// Reg reads the 32-bit local APIC register at byte offset off of the
// register page (for example 0x350 for LVT LINT0; registers sit on 16-byte
// boundaries). off is always a VMM constant, so one past the page panics
// like any index out of range.
func (s *LAPICState) Reg(off int) uint32 {
	var b [4]byte
	for i := range b {
		b[i] = byte(s.Regs[off+i])
	}
	return binary.LittleEndian.Uint32(b[:])
}

// SetReg writes the 32-bit local APIC register at byte offset off.
func (s *LAPICState) SetReg(off int, v uint32) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], v)
	for i := range b {
		s.Regs[off+i] = int8(b[i])
	}
}
