package pci

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"
)

// NumBARs is the number of BAR registers in a type-0 header.
const NumBARs = 6

// ErrAttached is returned by the Add methods once the function is on a Root:
// the layout of its configuration space is fixed from then on.
var ErrAttached = errors.New("pci: function already attached")

// Region is the register file behind a BAR, addressed by the offset into the
// BAR. It has the shape of glue's bus.Device.
type Region interface {
	Read(offset uint64, data []byte)
	Write(offset uint64, data []byte)
}

// BAR describes a memory BAR the device model asks for.
type BAR struct {
	Size         uint64 // a power of two, at least 16; at most 2 GiB for a 32-bit BAR
	Is64         bool   // a 64-bit BAR also takes the next register
	Prefetchable bool
	Addr         uint64 // initial address, aligned to Size; chosen by the VMM
	Region       Region // nil when the BAR holds only MSI-X structures
}

type barState struct {
	BAR
	mapped uint64 // where the BAR is decoded: starts at Addr, follows valid moves
}

// Function is one PCI function: a type-0 configuration space, its BARs,
// capabilities and interrupt state. A device model builds it with NewFunction
// and the Add methods, then the VMM attaches it to a Root.
//
// mu guards everything below it. Capability callbacks run without mu held.
type Function struct {
	mu    sync.Mutex
	space *space
	bars  [NumBARs]*barState
	caps  []placedCap
	msix  *MSIX
	intx  Line
	level bool // the function's INTx request (status bit 3)
	line  bool // the level last given to intx
	root  *Root
	slot  Slot
}

type placedCap struct {
	off int
	cap Capability
}

// NewFunction returns an unattached function with the given identity, no
// BARs and no capabilities. Decoding and bus mastering start disabled.
func NewFunction(h Header) *Function {
	return &Function{space: newSpace(h)}
}

// AddBAR declares BAR index (0-5). A 64-bit BAR uses index and index+1.
func (f *Function) AddBAR(index int, b BAR) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.root != nil {
		return ErrAttached
	}
	last := index
	if b.Is64 {
		last++
	}
	if index < 0 || last >= NumBARs {
		return fmt.Errorf("pci: add BAR %d: index out of range", index)
	}
	for i := index; i <= last; i++ {
		if f.barOwner(i) >= 0 {
			return fmt.Errorf("pci: add BAR %d: register %d already in use", index, i)
		}
	}
	if b.Size < 16 || bits.OnesCount64(b.Size) != 1 || (!b.Is64 && b.Size > 1<<31) {
		return fmt.Errorf("pci: add BAR %d: size %#x is not a power of two in range", index, b.Size)
	}
	if b.Addr&(b.Size-1) != 0 || (!b.Is64 && b.Addr+b.Size > 1<<32) {
		return fmt.Errorf("pci: add BAR %d: address %#x not aligned to its size or out of range", index, b.Addr)
	}
	f.bars[index] = &barState{BAR: b, mapped: b.Addr}
	off := regBAR0 + 4*index
	flags := uint32(0)
	if b.Is64 {
		flags |= barMem64
	}
	if b.Prefetchable {
		flags |= barPrefetchable
	}
	mask := ^(b.Size - 1) // Size >= 16 keeps the flag bits 3:0 read-only
	f.space.put32(off, uint32(b.Addr)|flags)
	f.space.setWritable32(off, uint32(mask))
	if b.Is64 {
		f.space.put32(off+4, uint32(b.Addr>>32))
		f.space.setWritable32(off+4, uint32(mask>>32))
	}
	return nil
}

// barOwner returns the BAR whose registers include register i, or -1.
func (f *Function) barOwner(i int) int {
	if f.bars[i] != nil {
		return i
	}
	if i > 0 && f.bars[i-1] != nil && f.bars[i-1].Is64 {
		return i - 1
	}
	return -1
}

// AddCapability appends c to the capability list, at the next free 4-byte
// aligned offset from 0x40. It returns that offset.
func (f *Function) AddCapability(c Capability) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.addCapability(c)
}

func (f *Function) addCapability(c Capability) (int, error) {
	if f.root != nil {
		return 0, ErrAttached
	}
	off := headerSize
	if n := len(f.caps); n > 0 {
		prev := f.caps[n-1]
		off = (prev.off + prev.cap.Len() + 3) &^ 3
	}
	if c.Len() < 2 || off+c.Len() > configSize {
		return 0, fmt.Errorf("pci: add capability %#x of %d bytes: no room in configuration space", c.ID(), c.Len())
	}
	if n := len(f.caps); n > 0 {
		f.space.value[f.caps[n-1].off+1] = byte(off)
	} else {
		f.space.value[regCapabilityPtr] = byte(off)
		f.space.value[regStatus] |= statusCapabilities
	}
	f.space.value[off] = c.ID()
	f.caps = append(f.caps, placedCap{off: off, cap: c})
	return off, nil
}

// capAt returns the capability whose body holds configuration byte off.
// Capability headers (ID and next pointer) belong to the plain space.
func (f *Function) capAt(off int) (placedCap, bool) {
	for _, c := range f.caps {
		if off >= c.off+2 && off < c.off+c.cap.Len() {
			return c, true
		}
	}
	return placedCap{}, false
}

// readConfig fills data from configuration offset off. The caller (the Root)
// has checked that the access lies inside one dword.
func (f *Function) readConfig(off int, data []byte) {
	if off >= configSize {
		clear(data)
		return
	}
	f.eachSegment(off, len(data), func(c *placedCap, at, i, n int) {
		if c != nil {
			c.cap.ReadCapability(at-c.off, data[i:i+n])
			return
		}
		f.mu.Lock()
		copy(data[i:i+n], f.space.value[at:at+n])
		f.mu.Unlock()
	})
}

// writeConfig applies a guest write at off and reports whether the BARs must
// be placed again: memory decoding was just enabled, or a BAR register
// changed while it is enabled.
func (f *Function) writeConfig(off int, data []byte) (replace bool) {
	if off >= configSize {
		return false
	}
	f.eachSegment(off, len(data), func(c *placedCap, at, i, n int) {
		if c != nil {
			c.cap.WriteCapability(at-c.off, data[i:i+n])
			return
		}
		f.mu.Lock()
		for j := range n {
			replace = f.writeByte(at+j, data[i+j]) || replace
		}
		f.mu.Unlock()
	})
	return replace
}

// eachSegment splits the access [off, off+n) into runs owned by one
// capability body (c != nil) or by the plain space (c == nil) and calls fn
// for each with its configuration offset at, its index i into the access and
// its length.
func (f *Function) eachSegment(off, n int, fn func(c *placedCap, at, i, n int)) {
	for i := 0; i < n; {
		if c, ok := f.capAt(off + i); ok {
			m := min(n-i, c.off+c.cap.Len()-(off+i))
			fn(&c, off+i, i, m)
			i += m
			continue
		}
		j := i + 1
		for j < n {
			if _, ok := f.capAt(off + j); ok {
				break
			}
			j++
		}
		fn(nil, off+i, i, j-i)
		i = j
	}
}

// writeByte applies one guest byte to the plain space and its side effects.
// f.mu is held.
func (f *Function) writeByte(off int, v byte) (replace bool) {
	oldCmd := f.command()
	old := f.space.value[off]
	f.space.write(off, v)
	switch {
	case off == regCommand || off == regCommand+1:
		f.commandChanged(oldCmd)
		return oldCmd&CommandMemory == 0 && f.memoryEnabled()
	case off >= regBAR0 && off < regBAR0+4*NumBARs:
		return f.space.value[off] != old && f.memoryEnabled()
	}
	return false
}

// commandChanged applies the side effects of a command register write.
// f.mu is held.
func (f *Function) commandChanged(old uint16) {
	f.updateLine()
	if f.msix != nil && old&CommandBusMaster == 0 && f.busMaster() {
		f.msix.flushPending()
	}
}

func (f *Function) command() uint16     { return f.space.get16(regCommand) }
func (f *Function) memoryEnabled() bool { return f.command()&CommandMemory != 0 }
func (f *Function) busMaster() bool     { return f.command()&CommandBusMaster != 0 }

// MemoryEnabled reports whether the guest enabled memory decoding (command
// bit 1): BAR regions answer only then.
func (f *Function) MemoryEnabled() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.memoryEnabled()
}

// BusMaster reports whether the guest allowed the function to master the
// bus (command bit 2). A device model must not touch guest memory (DMA)
// while it is clear; MSI-X messages are held pending meanwhile.
func (f *Function) BusMaster() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.busMaster()
}

// Slot returns where the function is attached (zero before Attach).
func (f *Function) Slot() Slot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.slot
}

func (f *Function) slotOf() Slot { return f.Slot() }

// BARAddress returns where BAR index is decoded now: its initial address or
// the last valid address the guest moved it to. ok is false for an unused
// index.
func (f *Function) BARAddress(index int) (addr uint64, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if index < 0 || index >= NumBARs || f.bars[index] == nil {
		return 0, false
	}
	return f.bars[index].mapped, true
}

// programmedBARs returns, per BAR index, the range the guest's register
// values describe (Size 0 for unused indices).
func (f *Function) programmedBARs() [NumBARs]Range {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [NumBARs]Range
	for i, b := range f.bars {
		if b == nil {
			continue
		}
		addr := uint64(f.space.get32(regBAR0+4*i) &^ barFlagBits)
		if b.Is64 {
			addr |= uint64(f.space.get32(regBAR0+4*i+4)) << 32
		}
		out[i] = Range{Base: addr, Size: b.Size}
	}
	return out
}

// mappedBARs returns, per BAR index, the range the BAR is decoded at.
func (f *Function) mappedBARs() [NumBARs]Range {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [NumBARs]Range
	for i, b := range f.bars {
		if b != nil {
			out[i] = Range{Base: b.mapped, Size: b.Size}
		}
	}
	return out
}

func (f *Function) setMapped(index int, addr uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bars[index].mapped = addr
}
