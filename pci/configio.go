package pci

import "encoding/binary"

// Configuration mechanism #1 (PCI Local Bus Specification 3.0, 3.2.2.3.2):
// a dword CONFIG_ADDRESS register at port 0xcf8 selects the target, the
// CONFIG_DATA window at 0xcfc-0xcff carries the access.
const (
	ConfigAddressPort = 0xcf8
	ConfigIOPorts     = 8 // 0xcf8-0xcff, the size to register ConfigIO with

	addressEnable = 1 << 31
	// addressMask keeps the enable bit, bus, device, function, the dword
	// register number and, in bits 27:24, register bits 11:8 (the AMD
	// extension Linux's PCI_CONF1_ADDRESS also encodes).
	addressMask = addressEnable | 0x0fff_fffc
)

// ConfigIO is the port-I/O device for 0xcf8-0xcff; register it on the
// port bus at ConfigAddressPort with size ConfigIOPorts. CONFIG_ADDRESS
// (offsets 0-3) takes dword accesses only; other widths read all ones and
// are dropped, as a chipset would pass them on to other devices (0xcf9 is
// the reset control register on PC chipsets: the VMM may claim it in front
// of this device). CONFIG_DATA (offsets 4-7) takes 1-, 2- and 4-byte
// accesses inside its dword; one that crosses 0xcff, or arrives while the
// enable bit is clear, reads all ones and is dropped.
type ConfigIO struct{ r *Root }

// ConfigIO returns the port-I/O configuration mechanism of r.
func (r *Root) ConfigIO() *ConfigIO { return &ConfigIO{r: r} }

func (c *ConfigIO) Read(offset uint64, data []byte) {
	if offset == 0 && len(data) == 4 {
		c.r.mu.Lock()
		binary.LittleEndian.PutUint32(data, c.r.address)
		c.r.mu.Unlock()
		return
	}
	c.data(offset, data, false)
}

func (c *ConfigIO) Write(offset uint64, data []byte) {
	if offset == 0 && len(data) == 4 {
		c.r.mu.Lock()
		c.r.address = binary.LittleEndian.Uint32(data) & addressMask
		c.r.mu.Unlock()
		return
	}
	c.data(offset, data, true)
}

func (c *ConfigIO) data(offset uint64, data []byte, write bool) {
	if offset < 4 || offset > 7 { // crossing 0xcff: Root.access refuses it
		if !write {
			fillOnes(data)
		}
		return
	}
	c.r.mu.Lock()
	a := c.r.address
	c.r.mu.Unlock()
	if a&addressEnable == 0 {
		if !write {
			fillOnes(data)
		}
		return
	}
	reg := (a>>16)&0xf00 | a&0xfc | uint32(offset-4)
	c.r.access(a>>16&0xff, a>>11&0x1f, a>>8&7, reg, data, write)
}

// ECAMBusSize is the ECAM window of one bus: 32 devices x 8 functions x
// 4 KiB.
const ECAMBusSize = 1 << 20

// ECAM is the memory-mapped configuration space (PCI Express Base
// Specification, "Enhanced Configuration Access Mechanism"): offset
// bus<<20 | device<<15 | function<<12 | register. Register it on the MMIO bus
// with size ECAMBusSize times the number of buses the MCFG table
// announces; buses other than 0 have no functions and read all ones.
// Accesses of 1, 2 and 4 bytes inside one dword are carried out; an aligned
// 8-byte access is split into two dword accesses, low dword first; any
// other access reads all ones and is dropped. Registers 0x100-0xfff of an
// existing function read as zero: no extended capabilities.
type ECAM struct{ r *Root }

// ECAM returns the memory-mapped configuration mechanism of r.
func (r *Root) ECAM() *ECAM { return &ECAM{r: r} }

func (e *ECAM) Read(offset uint64, data []byte)  { e.do(offset, data, false) }
func (e *ECAM) Write(offset uint64, data []byte) { e.do(offset, data, true) }

func (e *ECAM) do(offset uint64, data []byte, write bool) {
	if len(data) == 8 && offset%8 == 0 {
		e.do(offset, data[:4], write)
		e.do(offset+4, data[4:], write)
		return
	}
	if offset >= 256*ECAMBusSize {
		if !write {
			fillOnes(data)
		}
		return
	}
	o := uint32(offset)
	e.r.access(o>>20, o>>15&0x1f, o>>12&7, o&0xfff, data, write)
}
