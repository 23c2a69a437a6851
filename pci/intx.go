package pci

// Pin is a function's INTx interrupt pin, as in the Interrupt Pin register.
type Pin uint8

const (
	PinNone Pin = iota
	PinA
	PinB
	PinC
	PinD
)

// Line is the level-triggered interrupt input a function's INTx pin is wired
// to. The VMM implements it with KVM_IRQ_LINE (or a resample irqfd) on the
// IOAPIC input Swizzle chooses.
type Line interface {
	SetLevel(high bool)
}

// LineFunc adapts a function to Line.
type LineFunc func(high bool)

// SetLevel calls l(high).
func (l LineFunc) SetLevel(high bool) { l(high) }

// Swizzle returns which of the four interrupt inputs reserved for PCI
// (0 to 3) the pin of a function in slot device drives: (device + pin - 1)
// mod 4, the rotation of the PCI-to-PCI Bridge Architecture that QEMU's
// boards also use on the root bus, so that neighbouring slots spread over
// all four inputs. The VMM maps the result onto its four IOAPIC inputs and
// writes the same mapping into the ACPI _PRT (one entry per device and pin).
// It returns -1 for PinNone or an invalid pin.
func Swizzle(device uint8, pin Pin) int {
	if pin < PinA || pin > PinD {
		return -1
	}
	return (int(device) + int(pin) - 1) % 4
}

// SetINTx sets the function's interrupt request, as a device model does on
// an INTx-only path (virtio-pci: high when it sets an ISR bit, low when the
// driver reads the ISR). The line follows the request unless the guest set
// Interrupt Disable or enabled MSI-X; the Interrupt Status bit always shows
// the request.
func (f *Function) SetINTx(level bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.setINTx(level)
}

func (f *Function) setINTx(level bool) {
	f.level = level
	if level {
		f.space.value[regStatus] |= statusINTx
	} else {
		f.space.value[regStatus] &^= statusINTx
	}
	f.updateLine()
}

// updateLine drives the Line when the effective level changes. f.mu is held.
func (f *Function) updateLine() {
	high := f.level && f.space.value[regInterruptPin] != 0 &&
		f.command()&CommandINTxDisable == 0 && !(f.msix != nil && f.msix.enabled())
	if high == f.line {
		return
	}
	f.line = high
	if f.intx != nil {
		f.intx.SetLevel(high)
	}
}

// Notify raises the function's interrupt for vector: an MSI-X message when
// MSI-X is enabled (held pending while masked), otherwise the INTx request,
// which the device model lowers again with SetINTx(false). A vector outside
// the MSI-X table is ignored.
func (f *Function) Notify(vector int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.msix != nil && f.msix.enabled() {
		f.msix.notify(vector)
		return
	}
	f.setINTx(true)
}
