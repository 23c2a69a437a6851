package pci

import (
	"fmt"
	"sync"
)

// Host bridge identity at 00:00.0: Red Hat's ID for a generic PCIe host
// bridge (QEMU's gpex), which Linux binds no quirk to.
const (
	HostBridgeVendorID = 0x1b36
	HostBridgeDeviceID = 0x0008
	ClassHostBridge    = Class(0x060000)
)

// Geometry of bus 0.
const (
	NumDevices   = 32
	NumFunctions = 8
)

// Slot is a device and function number on bus 0, the only bus.
type Slot struct {
	Device, Function uint8
}

func (s Slot) String() string { return fmt.Sprintf("00:%02x.%d", s.Device, s.Function) }

// RootConfig is what the VMM decides about the root complex.
type RootConfig struct {
	// Windows are the guest-physical ranges BARs may be decoded in, e.g. a
	// 32-bit window below 4 GiB and a 64-bit window above RAM.
	Windows []Range
	// Reserved ranges never hold a BAR even inside a window: RAM, the ECAM
	// window, the interrupt controllers.
	Reserved []Range
	// BARMoved is told of every valid move, after it took effect: the VMM
	// moves the BAR's region (and any ioeventfds in it) from Old to New.
	BARMoved func(BARMove)
	// BARRejected is told of every refused move, with the reason (one of
	// the Err variables, wrapped); the BAR stays decoded at Old. A guest
	// can cause these at will, so the VMM rate-limits what it logs.
	BARRejected func(BARMove, error)
}

// Root is the root complex: bus 0 with a host bridge at 00:00.0 and the
// functions the VMM attaches, reached through ConfigIO and ECAM.
//
// mu serialises configuration accesses (and so BAR placement) and guards the
// slot table and CONFIG_ADDRESS. Lock order: Root.mu, then Function.mu.
type Root struct {
	mu      sync.Mutex
	cfg     RootConfig
	slots   [NumDevices][NumFunctions]*Function
	address uint32 // CONFIG_ADDRESS
}

// NewRoot returns a root complex with its host bridge attached.
func NewRoot(cfg RootConfig) (*Root, error) {
	for _, w := range append(append([]Range(nil), cfg.Windows...), cfg.Reserved...) {
		if !w.valid() {
			return nil, fmt.Errorf("pci: new root: range %v is empty or wraps", w)
		}
	}
	r := &Root{cfg: cfg}
	bridge := NewFunction(Header{VendorID: HostBridgeVendorID, DeviceID: HostBridgeDeviceID, Class: ClassHostBridge})
	bridge.root, bridge.slot = r, Slot{}
	r.slots[0][0] = bridge
	return r, nil
}

// HostBridge returns the function at 00:00.0.
func (r *Root) HostBridge() *Function { return r.slots[0][0] }

// Attach puts f at slot s, with its INTx pin wired to intx (nil when the
// VMM gives it no line). Device numbers 1-31 are the VMM's to allocate; a
// function other than 0 needs function 0 of its device first, which then
// reports itself multi-function. Every BAR's initial address must be a valid
// placement.
func (r *Root) Attach(s Slot, f *Function, intx Line) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f == nil {
		return fmt.Errorf("pci: attach at %v: no function", s)
	}
	if s.Device == 0 || s.Device >= NumDevices || s.Function >= NumFunctions {
		return fmt.Errorf("pci: attach at %v: no such slot for a device", s)
	}
	if r.slots[s.Device][s.Function] != nil {
		return fmt.Errorf("pci: attach at %v: slot in use", s)
	}
	fn0 := r.slots[s.Device][0]
	if s.Function != 0 && fn0 == nil {
		return fmt.Errorf("pci: attach at %v: function 0 of the device is missing", s)
	}
	f.mu.Lock()
	attached := f.root != nil
	f.mu.Unlock()
	if attached {
		return fmt.Errorf("pci: attach at %v: %w", s, ErrAttached)
	}
	for i, b := range f.mappedBARs() {
		if b.Size == 0 {
			continue
		}
		if err := r.checkPlacement(f, i, b); err != nil {
			return fmt.Errorf("pci: attach at %v: BAR %d: %w", s, i, err)
		}
	}
	f.mu.Lock()
	f.root, f.slot, f.intx = r, s, intx
	f.mu.Unlock()
	r.slots[s.Device][s.Function] = f
	if s.Function != 0 {
		fn0.mu.Lock()
		fn0.space.value[regHeaderType] |= headerTypeMultiFunc
		fn0.mu.Unlock()
	}
	return nil
}

// functions lists the attached functions. The caller holds r.mu.
func (r *Root) functions() []*Function {
	var out []*Function
	for d := range r.slots {
		for _, f := range r.slots[d] {
			if f != nil {
				out = append(out, f)
			}
		}
	}
	return out
}

// lookup returns the function at bus/device/function, or nil. The caller
// holds r.mu. A miss counts as a master abort seen by the host bridge.
func (r *Root) lookup(bus, dev, fn uint32) *Function {
	if bus == 0 && dev < NumDevices && fn < NumFunctions {
		if f := r.slots[dev][fn]; f != nil {
			return f
		}
	}
	hb := r.slots[0][0]
	hb.mu.Lock()
	hb.space.value[regStatus+1] |= statusReceivedMAbort >> 8
	hb.mu.Unlock()
	return nil
}

// withinDword reports whether an access of n bytes at off is one a
// configuration transaction can carry: 1, 2 or 4 bytes inside one dword.
func withinDword(off uint32, n int) bool {
	return (n == 1 || n == 2 || n == 4) && int(off&3)+n <= 4
}

// access performs one configuration access on bus/dev/fn at reg. Accesses
// that are not inside one dword, and reads of absent functions, return all
// ones; writes to them are dropped.
func (r *Root) access(bus, dev, fn, reg uint32, data []byte, write bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var f *Function
	if withinDword(reg, len(data)) && reg < ExtendedConfigSize {
		f = r.lookup(bus, dev, fn)
	}
	switch {
	case f == nil && !write:
		fillOnes(data)
	case f == nil:
	case write:
		if f.writeConfig(int(reg), data) {
			r.placeBARs(f)
		}
	default:
		f.readConfig(int(reg), data)
	}
}

// ReadConfig reads configuration space of slot s on bus 0 directly, as
// ConfigIO and ECAM do for the guest.
func (r *Root) ReadConfig(s Slot, reg int, data []byte) {
	r.access(0, uint32(s.Device), uint32(s.Function), uint32(reg), data, false)
}

// WriteConfig writes configuration space of slot s on bus 0 directly.
func (r *Root) WriteConfig(s Slot, reg int, data []byte) {
	r.access(0, uint32(s.Device), uint32(s.Function), uint32(reg), data, true)
}

func fillOnes(data []byte) {
	for i := range data {
		data[i] = 0xff
	}
}
