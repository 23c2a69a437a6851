package vmm

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/gluevmm/glue/acpi"
	"github.com/gluevmm/glue/bus"
	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/pci"
	"github.com/gluevmm/glue/x86"
)

// pciBus is the device manager's PCI root complex: bus 0 behind CF8/CFC
// and ECAM, the slots and BAR addresses handed out from x86/layout.go, the
// four shared INTx lines, and the MSI GSIs (msix.go). Every BAR starts in
// the 32-bit window; the guest may move it anywhere inside either window
// that holds no RAM and no other BAR (package pci decides), and a move
// takes the BAR's region on the MMIO bus and its ioeventfds along.
type pciBus struct {
	root   *pci.Root
	mmio   *bus.Bus
	log    *slog.Logger
	intx   [x86.PCIINTxLines]*sharedLine
	mem32  pci.Range
	mem64  pci.Range
	next   uint8  // next free device number
	bar32  uint64 // next free address in the 32-bit window
	moved  map[*pci.Function]func(pci.BARMove)
	movedM sync.Mutex // guards moved (written at build, read on moves)

	rejected atomic.Uint64 // BAR moves refused, for rate-limited logging
}

// maxLoggedRejections is how many refused BAR moves are logged as warnings;
// a guest can cause them at will, so the rest go to the debug log.
const maxLoggedRejections = 16

// newPCIBus creates the root complex with its windows and puts its
// configuration mechanisms on the buses. ram are the guest's RAM spans,
// which no BAR may cover; setLine drives an IOAPIC input (KVM_IRQ_LINE).
func newPCIBus(setLine func(gsi uint32, high bool) error, pio, mmio *bus.Bus, ram []guestmem.Span, log *slog.Logger) (*pciBus, error) {
	var memBytes uint64
	for _, s := range ram {
		memBytes += s.Size
	}
	p := &pciBus{
		mmio:  mmio,
		log:   log,
		mem32: pci.Range{Base: uint64(x86.PCIMem32Base), Size: x86.PCIMem32Size},
		mem64: pci.Range{Base: uint64(x86.PCIMem64Base(memBytes)), Size: x86.PCIMem64Size},
		next:  x86.PCIFirstDevice,
		bar32: uint64(x86.PCIMem32Base),
		moved: map[*pci.Function]func(pci.BARMove){},
	}
	reserved := []pci.Range{
		{Base: uint64(x86.ECAMBase), Size: x86.ECAMSize},
		{Base: uint64(x86.VirtioMMIOBase), Size: uint64(x86.MaxVirtioDevices) * x86.VirtioMMIOSize},
	}
	for _, s := range ram {
		reserved = append(reserved, pci.Range{Base: uint64(s.Base), Size: s.Size})
	}
	root, err := pci.NewRoot(pci.RootConfig{
		Windows:     []pci.Range{p.mem32, p.mem64},
		Reserved:    reserved,
		BARMoved:    p.barMoved,
		BARRejected: p.barRejected,
	})
	if err != nil {
		return nil, err
	}
	p.root = root
	for i := range p.intx {
		gsi := x86.PCIINTxGSI(i)
		p.intx[i] = &sharedLine{set: func(high bool) {
			if err := setLine(gsi, high); err != nil {
				log.Warn("set PCI interrupt line", "gsi", gsi, "err", err)
			}
		}}
	}
	if err := pio.Insert(pci.ConfigAddressPort, pci.ConfigIOPorts, root.ConfigIO()); err != nil {
		return nil, err
	}
	if err := mmio.Insert(uint64(x86.ECAMBase), x86.ECAMSize, root.ECAM()); err != nil {
		return nil, err
	}
	return p, nil
}

// allocBAR returns the address of a new BAR of size bytes (a power of two)
// in the 32-bit window, naturally aligned as the sizing protocol requires.
func (p *pciBus) allocBAR(size uint64) (guestmem.Addr, error) {
	if size == 0 || size&(size-1) != 0 {
		return 0, fmt.Errorf("vmm: pci: BAR size %#x is not a power of two", size)
	}
	addr := (p.bar32 + size - 1) &^ (size - 1)
	if addr+size > p.mem32.Base+p.mem32.Size {
		return 0, fmt.Errorf("vmm: pci: no room for a %#x-byte BAR in the 32-bit window", size)
	}
	p.bar32 = addr + size
	return guestmem.Addr(addr), nil
}

// nextSlot returns the slot the next attach uses.
func (p *pciBus) nextSlot() (pci.Slot, error) {
	if int(p.next) >= x86.PCIFirstDevice+x86.MaxPCIDevices {
		return pci.Slot{}, configErr(FieldTransport, "more than %d PCI devices", x86.MaxPCIDevices)
	}
	return pci.Slot{Device: p.next}, nil
}

// attach puts f in the next slot with its INTx pin on the swizzled shared
// line, and its BARs (index -> size, at the addresses allocBAR gave) on
// the MMIO bus. onMove, if set, runs after each of f's BARs moved (the
// transport's ioeventfds follow it).
func (p *pciBus) attach(f *pci.Function, pin pci.Pin, bars map[int]uint64, onMove func(pci.BARMove)) (pci.Slot, error) {
	slot, err := p.nextSlot()
	if err != nil {
		return pci.Slot{}, err
	}
	var line pci.Line
	if n := pci.Swizzle(slot.Device, pin); n >= 0 {
		line = &lineInput{shared: p.intx[n]}
	}
	if err := p.root.Attach(slot, f, line); err != nil {
		return pci.Slot{}, err
	}
	p.next++
	for i, size := range bars {
		addr, ok := f.BARAddress(i)
		region := f.BARRegion(i)
		if !ok || region == nil {
			return pci.Slot{}, fmt.Errorf("vmm: pci %v: BAR %d is not set up", slot, i)
		}
		if err := p.mmio.Insert(addr, size, region); err != nil {
			return pci.Slot{}, fmt.Errorf("vmm: pci %v: BAR %d: %w", slot, i, err)
		}
	}
	if onMove != nil {
		p.movedM.Lock()
		p.moved[f] = onMove
		p.movedM.Unlock()
	}
	return slot, nil
}

// barMoved follows a move the root accepted: the region moves on the MMIO
// bus, then the function's own hook runs. It runs under the root's lock,
// on the vCPU that wrote the BAR.
func (p *pciBus) barMoved(mv pci.BARMove) {
	if err := p.mmio.Move(mv.Old, mv.New); err != nil {
		// The root checked the windows and the other BARs; only a
		// non-PCI device in a window could be in the way, and none is.
		p.log.Error("pci BAR move on the MMIO bus", "slot", mv.Slot, "bar", mv.BAR, "err", err)
		return
	}
	p.log.Debug("pci BAR moved", "slot", mv.Slot, "bar", mv.BAR, "from", fmt.Sprintf("%#x", mv.Old), "to", fmt.Sprintf("%#x", mv.New))
	p.movedM.Lock()
	hook := p.moved[mv.Function]
	p.movedM.Unlock()
	if hook != nil {
		hook(mv)
	}
}

// barRejected logs a refused move; the BAR stays where it was.
func (p *pciBus) barRejected(mv pci.BARMove, err error) {
	if p.rejected.Add(1) <= maxLoggedRejections {
		p.log.Warn("guest BAR move ignored", "slot", mv.Slot, "bar", mv.BAR, "err", err)
		return
	}
	p.log.Debug("guest BAR move ignored", "slot", mv.Slot, "bar", mv.BAR, "err", err)
}

// describe returns the host bridge as the ACPI tables present it: ECAM
// for bus 0, CF8/CFC, both windows, and a _PRT entry for every pin of
// every device slot, swizzled as attach wires them.
func (p *pciBus) describe() *acpi.PCIHostBridge {
	hb := &acpi.PCIHostBridge{
		ECAMBase:    uint64(x86.ECAMBase),
		ConfigPorts: true,
		Mem32:       acpi.Window{Base: p.mem32.Base, Size: p.mem32.Size},
		Mem64:       acpi.Window{Base: p.mem64.Base, Size: p.mem64.Size},
	}
	for dev := uint8(x86.PCIFirstDevice); dev < x86.PCIFirstDevice+x86.MaxPCIDevices; dev++ {
		for pin := pci.PinA; pin <= pci.PinD; pin++ {
			hb.Routes = append(hb.Routes, acpi.PCIRoute{
				Device: dev,
				Pin:    uint8(pin - pci.PinA),
				GSI:    x86.PCIINTxGSI(pci.Swizzle(dev, pin)),
			})
		}
	}
	return hb
}

// sharedLine is one of the four level-triggered INTx lines: the wired OR
// of the functions on it, driven through set (KVM_IRQ_LINE). KVM's IOAPIC
// takes the level as "asserted" whatever polarity the guest programs, so
// the ACPI's active-low needs no inversion here; while the line stays high
// after an EOI, the IOAPIC delivers again.
type sharedLine struct {
	set func(high bool)

	mu   sync.Mutex
	high int // functions asserting it
}

func (l *sharedLine) change(up bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	was := l.high > 0
	if up {
		l.high++
	} else if l.high > 0 {
		l.high--
	}
	if now := l.high > 0; now != was {
		l.set(now)
	}
}

// lineInput is one function's input to a shared line; it counts only its
// own changes of level.
type lineInput struct {
	shared *sharedLine
	mu     sync.Mutex
	level  bool
}

func (in *lineInput) SetLevel(high bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if high == in.level {
		return
	}
	in.level = high
	in.shared.change(high)
}
