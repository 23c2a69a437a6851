package pci_test

import (
	"encoding/binary"
	"fmt"

	"github.com/gluevmm/glue/pci"
)

// printSink stands in for the VMM's KVM GSI routing and irqfds.
type printSink struct{}

func (printSink) Route(v int, m pci.Message) {
	fmt.Printf("VMM: route vector %d to %#x data %#x (KVM_SET_GSI_ROUTING)\n", v, m.Address, m.Data)
}
func (printSink) Signal(v int) { fmt.Printf("VMM: signal vector %d (irqfd)\n", v) }

// The VMM builds a root complex, attaches a function with a 64-bit BAR that
// holds its MSI-X table, and registers ConfigIO at port 0xcf8. A guest then
// discovers the function through CF8/CFC, sizes its BAR, walks the
// capability list, enables decoding and MSI-X, programs vector 0 and gets
// an interrupt from the device side.
func Example() {
	root, _ := pci.NewRoot(pci.RootConfig{
		Windows:  []pci.Range{{Base: 0xc000_0000, Size: 0x1000_0000}, {Base: 1 << 40, Size: 1 << 36}},
		Reserved: []pci.Range{{Base: 0, Size: 0xc000_0000}},
		BARMoved: func(m pci.BARMove) { fmt.Printf("VMM: move BAR %d from %#x to %#x\n", m.BAR, m.Old, m.New) },
	})
	fn := pci.NewFunction(pci.Header{VendorID: 0x1af4, DeviceID: 0x1041, Revision: 1, Class: 0x020000, InterruptPin: pci.PinA})
	_ = fn.AddBAR(0, pci.BAR{Size: 0x4000, Is64: true, Addr: 1 << 40})
	_ = fn.AddMSIX(pci.MSIXConfig{Vectors: 2, TableBAR: 0, TableOffset: 0x2000, PBABAR: 0, PBAOffset: 0x3000}, printSink{})
	_ = root.Attach(pci.Slot{Device: 3}, fn, nil)
	cfgio := root.ConfigIO() // the VMM puts this on the port bus at 0xcf8

	// The guest's configuration accessors, as a kernel writes them.
	sel := func(dev, reg uint32) {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], 1<<31|dev<<11|reg&0xfc)
		cfgio.Write(0, b[:]) // outl to 0xcf8
	}
	read32 := func(dev, reg uint32) uint32 {
		var b [4]byte
		sel(dev, reg)
		cfgio.Read(4, b[:]) // inl from 0xcfc
		return binary.LittleEndian.Uint32(b[:])
	}
	write32 := func(dev, reg, v uint32) {
		var b [4]byte
		binary.LittleEndian.PutUint32(b[:], v)
		sel(dev, reg)
		cfgio.Write(4, b[:])
	}
	write16 := func(dev, reg uint32, v uint16) {
		var b [2]byte
		binary.LittleEndian.PutUint16(b[:], v)
		sel(dev, reg)
		cfgio.Write(4+uint64(reg&3), b[:]) // outw to 0xcfc + (reg & 3)
	}

	var dev uint32
	for d := range uint32(32) {
		id := read32(d, 0x00)
		if id == 0xffff_ffff {
			continue
		}
		fmt.Printf("00:%02x.0 %04x:%04x class %06x\n", d, id&0xffff, id>>16, read32(d, 0x08)>>8)
		if id&0xffff == 0x1af4 {
			dev = d
		}
	}

	// Size BAR0 (64-bit) with decoding off, as Linux does, and restore it.
	lo, hi := read32(dev, 0x10), read32(dev, 0x14)
	write32(dev, 0x10, 0xffff_ffff)
	write32(dev, 0x14, 0xffff_ffff)
	size := ^(uint64(read32(dev, 0x14))<<32 | uint64(read32(dev, 0x10)&^0xf)) + 1
	write32(dev, 0x10, lo)
	write32(dev, 0x14, hi)
	fmt.Printf("BAR0 at %#x, %#x bytes, 64-bit %v\n", uint64(hi)<<32|uint64(lo&^0xf), size, lo&0x6 == 0x4)

	// Walk the capability list.
	var msix uint32
	for p := read32(dev, 0x34) & 0xff; p != 0; p = read32(dev, p) >> 8 & 0xff {
		fmt.Printf("capability %#02x at %#x\n", read32(dev, p)&0xff, p)
		if read32(dev, p)&0xff == 0x11 {
			msix = p
		}
	}
	ctrl := read32(dev, msix) >> 16
	table := read32(dev, msix+4)
	fmt.Printf("MSI-X: %d vectors, table in BAR%d at %#x\n", ctrl&0x7ff+1, table&7, table&^7)

	// Move the BAR, enable memory decoding and bus mastering.
	write32(dev, 0x10, lo+0x10000)
	write16(dev, 0x04, 0x6)

	// Program and unmask vector 0 through the BAR (MMIO), then enable MSI-X.
	bar := fn.BARRegion(0) // the VMM has this on its MMIO bus at the BAR
	entry := uint64(table &^ 7)
	var q [8]byte
	binary.LittleEndian.PutUint64(q[:], 0xfee0_0000)
	bar.Write(entry, q[:])                    // address, 8-byte write
	bar.Write(entry+8, []byte{0x41, 0, 0, 0}) // data: vector 0x41
	bar.Write(entry+12, []byte{0, 0, 0, 0})   // unmask
	write16(dev, msix+2, uint16(ctrl|0x8000)) // MSI-X enable
	fmt.Println("MSI-X enabled:", fn.MSIXEnabled())

	fn.Notify(0) // the device side: "queue used"
	fn.Notify(0)
	// Output:
	// 00:00.0 1b36:0008 class 060000
	// 00:03.0 1af4:1041 class 020000
	// BAR0 at 0x10000000000, 0x4000 bytes, 64-bit true
	// capability 0x11 at 0x40
	// MSI-X: 2 vectors, table in BAR0 at 0x2000
	// VMM: move BAR 0 from 0x10000000000 to 0x10000010000
	// MSI-X enabled: true
	// VMM: route vector 0 to 0xfee00000 data 0x41 (KVM_SET_GSI_ROUTING)
	// VMM: signal vector 0 (irqfd)
	// VMM: signal vector 0 (irqfd)
}
