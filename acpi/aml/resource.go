package aml

import "fmt"

// Resource data types (ACPI 6.5 §6.4). A small descriptor's tag byte is
// type<<3 | length; a large one's is 0x80 | type, then a 16-bit length.
const (
	smallIRQ          = 0x04
	smallIO           = 0x08
	smallEndTag       = 0x0f
	largeMemory32Fix  = 0x86
	largeDWordAddress = 0x87
	largeWordAddress  = 0x88
	largeExtendedIRQ  = 0x89
	largeQWordAddress = 0x8a
)

// A Descriptor is one resource descriptor of a ResourceTemplate.
type Descriptor interface {
	appendResource(b []byte) ([]byte, error)
}

type descriptorFunc func(b []byte) ([]byte, error)

func (f descriptorFunc) appendResource(b []byte) ([]byte, error) { return f(b) }

// ResourceTemplate is the buffer constant holding descriptors and the end
// tag, whose checksum byte makes the bytes of the template sum to zero.
func ResourceTemplate(descriptors ...Descriptor) Term {
	return termFunc(func(b []byte) ([]byte, error) {
		var data []byte
		for i, d := range descriptors {
			if d == nil {
				return nil, fmt.Errorf("aml: resource template: descriptor %d is nil", i)
			}
			var err error
			if data, err = d.appendResource(data); err != nil {
				return nil, fmt.Errorf("aml: resource template: %w", err)
			}
		}
		data = append(data, smallEndTag<<3|1)
		var sum byte
		for _, c := range data {
			sum += c
		}
		data = append(data, -sum)
		return Buffer(data).appendAML(b)
	})
}

// Memory32Fixed is a fixed range of 32-bit memory the device decodes.
func Memory32Fixed(writable bool, base, length uint32) Descriptor {
	return descriptorFunc(func(b []byte) ([]byte, error) {
		if uint64(base)+uint64(length) > 1<<32 {
			return nil, fmt.Errorf("Memory32Fixed %#x+%#x: crosses 4 GiB", base, length)
		}
		b = append(b, largeMemory32Fix, 9, 0, boolBit(writable, 0))
		b = appendLE(b, uint64(base), 4)
		return appendLE(b, uint64(length), 4), nil
	})
}

// IO is a range of I/O ports decoded with 16 address lines: length ports at
// a base from min to max, aligned to align.
func IO(min, max uint16, align, length uint8) Descriptor {
	return descriptorFunc(func(b []byte) ([]byte, error) {
		if min > max {
			return nil, fmt.Errorf("IO %#x-%#x: minimum above maximum", min, max)
		}
		b = append(b, smallIO<<3|7, 1) // decodes 16 address lines
		b = appendLE(b, uint64(min), 2)
		b = appendLE(b, uint64(max), 2)
		return append(b, align, length), nil
	})
}

// IRQNoFlags is the short ISA interrupt descriptor: edge-triggered, active
// high, exclusive, for lines 0-15.
func IRQNoFlags(irqs ...uint8) Descriptor {
	return descriptorFunc(func(b []byte) ([]byte, error) {
		var mask uint16
		for _, irq := range irqs {
			if irq > 15 {
				return nil, fmt.Errorf("IRQNoFlags: IRQ %d above 15", irq)
			}
			mask |= 1 << irq
		}
		b = append(b, smallIRQ<<3|2)
		return appendLE(b, uint64(mask), 2), nil
	})
}

// Trigger is an interrupt's trigger mode.
type Trigger bool

const (
	Level Trigger = false
	Edge  Trigger = true
)

// Polarity is an interrupt's active level.
type Polarity bool

const (
	ActiveHigh Polarity = false
	ActiveLow  Polarity = true
)

// Interrupt is the extended interrupt descriptor for global system
// interrupts the device consumes, not shared with other devices.
func Interrupt(trigger Trigger, polarity Polarity, gsis ...uint32) Descriptor {
	return descriptorFunc(func(b []byte) ([]byte, error) {
		if len(gsis) == 0 || len(gsis) > 0xff {
			return nil, fmt.Errorf("Interrupt: %d interrupts, want 1 to 255", len(gsis))
		}
		flags := byte(1) | boolBit(bool(trigger), 1) | boolBit(bool(polarity), 2) // bit 0: consumer
		b = appendLE(append(b, largeExtendedIRQ), uint64(2+4*len(gsis)), 2)
		b = append(b, flags, byte(len(gsis)))
		for _, g := range gsis {
			b = appendLE(b, uint64(g), 4)
		}
		return b, nil
	})
}

// AddressType is the resource an address space descriptor describes.
type AddressType byte

const (
	MemoryRange    AddressType = 0
	IORange        AddressType = 1
	BusNumberRange AddressType = 2
)

// Memory type-specific flags of an address space descriptor.
const (
	memReadWrite   = 1 << 0
	memCacheable   = 1 << 1 // _MEM = 1
	ioEntireRange  = 3      // _RNG: ISA and non-ISA ports
	generalMinFix  = 1 << 2 // _MIF
	generalMaxFix  = 1 << 3 // _MAF
	generalConsume = 1 << 0
)

// AddressSpace is a window a bridge produces (Producer) or a range a device
// consumes: the addresses [Min, Max], both fixed, decoded positively,
// translated by nothing. Memory is read-write, Cacheable or not; I/O covers
// ISA and non-ISA ports.
type AddressSpace struct {
	Type      AddressType
	Consumer  bool
	Min, Max  uint64
	Cacheable bool
}

// WordAddress is the 16-bit address space descriptor for a.
func WordAddress(a AddressSpace) Descriptor { return addressSpace(a, largeWordAddress, 2) }

// DWordAddress is the 32-bit address space descriptor for a.
func DWordAddress(a AddressSpace) Descriptor { return addressSpace(a, largeDWordAddress, 4) }

// QWordAddress is the 64-bit address space descriptor for a.
func QWordAddress(a AddressSpace) Descriptor { return addressSpace(a, largeQWordAddress, 8) }

func addressSpace(a AddressSpace, tag byte, size int) Descriptor {
	return descriptorFunc(func(b []byte) ([]byte, error) {
		limit := uint64(1)<<(8*size) - 1
		if size == 8 {
			limit = ^uint64(0)
		}
		switch {
		case a.Min > a.Max:
			return nil, fmt.Errorf("address space %#x-%#x: minimum above maximum", a.Min, a.Max)
		case a.Max > limit:
			return nil, fmt.Errorf("address space %#x-%#x: beyond %d-bit descriptor", a.Min, a.Max, 8*size)
		case a.Min == 0 && a.Max == limit:
			return nil, fmt.Errorf("address space %#x-%#x: length does not fit %d bits", a.Min, a.Max, 8*size)
		case a.Type > BusNumberRange:
			return nil, fmt.Errorf("address space type %d unknown", a.Type)
		}
		var specific byte
		switch a.Type {
		case MemoryRange:
			specific = memReadWrite
			if a.Cacheable {
				specific |= memCacheable
			}
		case IORange:
			specific = ioEntireRange
		}
		general := byte(generalMinFix | generalMaxFix)
		if a.Consumer {
			general |= generalConsume
		}
		b = appendLE(append(b, tag), uint64(3+5*size), 2)
		b = append(b, byte(a.Type), general, specific)
		b = appendLE(b, 0, size) // granularity
		b = appendLE(b, a.Min, size)
		b = appendLE(b, a.Max, size)
		b = appendLE(b, 0, size) // translation offset
		return appendLE(b, a.Max-a.Min+1, size), nil
	})
}

func boolBit(v bool, bit uint) byte {
	if v {
		return 1 << bit
	}
	return 0
}
