package pci

// Offsets and bits of the type-0 configuration header (PCI Local Bus
// Specification 3.0, section 6.1), spelled as in Linux's pci_regs.h.
const (
	regVendorID      = 0x00
	regDeviceID      = 0x02
	regCommand       = 0x04
	regStatus        = 0x06
	regRevision      = 0x08
	regClassProgIF   = 0x09
	regCacheLine     = 0x0c
	regHeaderType    = 0x0e
	regBAR0          = 0x10
	regSubsysVendor  = 0x2c
	regSubsysID      = 0x2e
	regCapabilityPtr = 0x34
	regInterruptLine = 0x3c
	regInterruptPin  = 0x3d

	headerSize = 0x40  // first byte of the capability area
	configSize = 0x100 // conventional configuration space
	// ExtendedConfigSize is what ECAM decodes per function; bytes from
	// configSize up read as zero (no extended capabilities).
	ExtendedConfigSize = 0x1000
)

// Command register bits.
const (
	CommandIO             = 1 << 0 // hard-wired 0: glue's functions have no I/O BARs
	CommandMemory         = 1 << 1
	CommandBusMaster      = 1 << 2
	CommandParity         = 1 << 6
	CommandSERR           = 1 << 8
	CommandINTxDisable    = 1 << 10
	commandWritable       = CommandMemory | CommandBusMaster | CommandParity | CommandSERR | CommandINTxDisable
	statusINTx            = 1 << 3
	statusCapabilities    = 1 << 4
	statusReceivedMAbort  = 1 << 13
	statusWriteOneToClear = statusReceivedMAbort
	headerTypeMultiFunc   = 0x80
)

// BAR register flag bits (memory BARs).
const (
	barMem64        = 0x4
	barPrefetchable = 0x8
	barFlagBits     = 0xf
)

// Class is the 24-bit class code: base class, sub-class, programming
// interface, e.g. 0x060000 for a host bridge.
type Class uint32

// Header holds a function's identity: the fields the guest reads but cannot
// change.
type Header struct {
	VendorID, DeviceID uint16
	Revision           uint8
	Class              Class
	SubsystemVendorID  uint16
	SubsystemID        uint16
	InterruptPin       Pin // PinNone for a function without INTx
}

// space is the byte image of the configuration header and capability
// headers with, per byte, the bits the guest may write and the bits it
// clears by writing one. Everything else is read-only.
type space struct {
	value    [configSize]byte
	writable [configSize]byte
	w1c      [configSize]byte
}

func (s *space) put16(off int, v uint16) { s.value[off], s.value[off+1] = byte(v), byte(v>>8) }

func (s *space) put32(off int, v uint32) {
	s.put16(off, uint16(v))
	s.put16(off+2, uint16(v>>16))
}

func (s *space) get16(off int) uint16 { return uint16(s.value[off]) | uint16(s.value[off+1])<<8 }

func (s *space) get32(off int) uint32 { return uint32(s.get16(off)) | uint32(s.get16(off+2))<<16 }

func (s *space) setWritable32(off int, mask uint32) {
	for i := range 4 {
		s.writable[off+i] = byte(mask >> (8 * i))
	}
}

// write applies one guest byte: writable bits take the new value, W1C bits
// set in v are cleared, all other bits keep their value.
func (s *space) write(off int, v byte) {
	old := s.value[off]
	s.value[off] = (old &^ s.writable[off]) | (v & s.writable[off])
	s.value[off] &^= v & s.w1c[off]
}

func newSpace(h Header) *space {
	s := &space{}
	s.put16(regVendorID, h.VendorID)
	s.put16(regDeviceID, h.DeviceID)
	s.value[regRevision] = h.Revision
	s.value[regClassProgIF] = byte(h.Class)
	s.value[regClassProgIF+1] = byte(h.Class >> 8)
	s.value[regClassProgIF+2] = byte(h.Class >> 16)
	s.put16(regSubsysVendor, h.SubsystemVendorID)
	s.put16(regSubsysID, h.SubsystemID)
	s.value[regInterruptPin] = byte(h.InterruptPin)
	s.writable[regCommand] = byte(commandWritable & 0xff)
	s.writable[regCommand+1] = byte(commandWritable >> 8)
	s.w1c[regStatus+1] = byte(statusWriteOneToClear >> 8)
	s.writable[regCacheLine] = 0xff
	s.writable[regInterruptLine] = 0xff
	return s
}
