package serial

import (
	"io"
	"sync"
)

// FIFOSize is the depth of the 16550A's receive and transmit FIFOs.
const FIFOSize = 16

// Register offsets from the UART's base. With LCR.DLAB set, offsets 0 and 1
// are the divisor latch (DLL, DLM) instead.
const (
	regData  = 0 // read: RBR, write: THR
	regIER   = 1
	regIIR   = 2 // read: IIR, write: FCR
	regLCR   = 3
	regMCR   = 4
	regLSR   = 5
	regMSR   = 6
	regSCR   = 7
	numRegs  = 8
	noAccess = 0xff // what a read outside the register file returns
)

// IER: interrupt enables.
const (
	ierRDA  = 0x01 // received data available
	ierTHRE = 0x02 // transmitter holding register empty
	ierRLS  = 0x04 // receiver line status
	ierMS   = 0x08 // modem status
	ierMask = 0x0f // bits 4-7 read as zero on a 16550A
)

// IIR: interrupt identification, highest priority first.
const (
	iirNone    = 0x01 // bit 0 set: no interrupt pending
	iirRLS     = 0x06
	iirRDA     = 0x04
	iirTHRE    = 0x02
	iirMS      = 0x00
	iirFIFOsOn = 0xc0 // bits 6-7: FIFOs enabled
)

// FCR: FIFO control.
const (
	fcrEnable  = 0x01
	fcrClearRX = 0x02
	fcrClearTX = 0x04
	fcrStored  = 0xc9 // enable, DMA mode, receiver trigger level
)

const lcrDLAB = 0x80

// MCR: modem control.
const (
	mcrDTR  = 0x01
	mcrRTS  = 0x02
	mcrOUT1 = 0x04
	mcrOUT2 = 0x08 // gates the interrupt output on a PC
	mcrLoop = 0x10
	mcrMask = 0x1f
)

// LSR: line status.
const (
	lsrDR     = 0x01
	lsrOE     = 0x02
	lsrErrors = 0x1e // OE, PE, FE, BI: cleared by reading LSR
	lsrTHRE   = 0x20
	lsrTEMT   = 0x40
)

// MSR: modem status. The low nibble holds the delta bits.
const (
	msrDCTS   = 0x01
	msrDDSR   = 0x02
	msrTERI   = 0x04
	msrDDCD   = 0x08
	msrDeltas = 0x0f
	msrCTS    = 0x10
	msrDSR    = 0x20
	msrRI     = 0x40
	msrDCD    = 0x80
)

// Trigger sets the level of the UART's interrupt line. See the package
// documentation for when it is called and how a VMM maps it onto KVM.
type Trigger interface {
	SetLevel(high bool)
}

// TriggerFunc adapts a function to Trigger.
type TriggerFunc func(high bool)

// SetLevel calls f(high).
func (f TriggerFunc) SetLevel(high bool) { f(high) }

// UART is a 16550A. Its zero value is not usable; call New.
type UART struct {
	mu      sync.Mutex
	out     io.Writer
	irq     Trigger
	drained chan struct{}

	ier, lcr, mcr, fcr, scr byte
	dll, dlm                byte
	lsrErr                  byte // LSR error bits (OE); the rest of LSR is computed
	msr                     byte // delta bits | modem inputs
	rbr                     byte // last byte read from the receiver
	thrPending              bool // THRE interrupt latched, not yet cleared by IIR read or THR write
	level                   bool // last level given to irq
	wantRoom                bool // an Enqueue was refused input; signal drained when the FIFO empties

	rx     [FIFOSize]byte // ring buffer
	rxHead int
	rxLen  int

	tx [1]byte // THR byte handed to out, kept here so writing does not allocate
}

// New returns a UART in its power-on state with the modem inputs CTS, DSR
// and DCD asserted, as if a terminal with carrier were attached. Bytes the
// guest transmits are written to out, which must not block (see the package
// documentation); level changes of the interrupt output go to irq. Either
// may be nil: output is then discarded and the interrupt line unconnected.
func New(out io.Writer, irq Trigger) *UART {
	if out == nil {
		out = io.Discard
	}
	u := &UART{
		out:     out,
		irq:     irq,
		drained: make(chan struct{}, 1),
		lcr:     0x03, // 8N1
		dll:     0x0c, // 9600 baud from the PC's 1.8432 MHz clock
	}
	u.msr = u.modemInputs()
	return u
}

// Read implements the guest's register reads. offset is relative to the
// UART's base; each byte of data is a read of the register at offset+i.
func (u *UART) Read(offset uint64, data []byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for i := range data {
		if offset >= numRegs || uint64(i) >= numRegs-offset {
			data[i] = noAccess
			continue
		}
		data[i] = u.readReg(offset + uint64(i))
	}
	u.update()
}

// Write implements the guest's register writes. offset is relative to the
// UART's base; each byte of data is a write to the register at offset+i.
func (u *UART) Write(offset uint64, data []byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for i, v := range data {
		if offset >= numRegs || uint64(i) >= numRegs-offset {
			break
		}
		u.writeReg(offset+uint64(i), v)
	}
	u.update()
}

// Enqueue hands bytes from the host to the receiver and returns how many it
// accepted: at most Room, so input is never lost to an overrun. If it
// accepts fewer than len(p), Drained is signalled once the guest has emptied
// the receive FIFO; retry the rest then.
func (u *UART) Enqueue(p []byte) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := min(len(p), u.room())
	for _, b := range p[:n] {
		u.push(b)
	}
	if n < len(p) {
		u.wantRoom = true
	}
	u.update()
	return n
}

// Room returns how many bytes Enqueue would accept now: the free space in
// the receive FIFO, or zero in loopback mode, where the receiver listens to
// the transmitter only.
func (u *UART) Room() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.room()
}

// Drained returns a channel that receives a value when the guest has emptied
// the receive FIFO after an Enqueue that accepted less than it was given.
// The channel has a buffer of one, so a signal sent before the input
// goroutine waits is not lost; a stale signal costs at most one Enqueue that
// accepts nothing.
func (u *UART) Drained() <-chan struct{} { return u.drained }

func (u *UART) readReg(reg uint64) byte {
	switch reg {
	case regData:
		if u.lcr&lcrDLAB != 0 {
			return u.dll
		}
		if u.rxLen > 0 {
			u.rbr = u.rx[u.rxHead]
			u.rxHead = (u.rxHead + 1) % FIFOSize
			u.rxLen--
		}
		return u.rbr
	case regIER:
		if u.lcr&lcrDLAB != 0 {
			return u.dlm
		}
		return u.ier
	case regIIR:
		id := u.interruptID()
		if id == iirTHRE {
			// Reading IIR clears the THRE interrupt when it is the one reported.
			u.thrPending = false
		}
		if u.fcr&fcrEnable != 0 {
			id |= iirFIFOsOn
		}
		return id
	case regLCR:
		return u.lcr
	case regMCR:
		return u.mcr
	case regLSR:
		v := u.lsrErr | lsrTHRE | lsrTEMT
		if u.rxLen > 0 {
			v |= lsrDR
		}
		u.lsrErr = 0
		return v
	case regMSR:
		v := u.msr
		u.msr &^= msrDeltas
		return v
	case regSCR:
		return u.scr
	}
	return noAccess
}

func (u *UART) writeReg(reg uint64, v byte) {
	switch reg {
	case regData:
		if u.lcr&lcrDLAB != 0 {
			u.dll = v
			return
		}
		u.transmit(v)
	case regIER:
		if u.lcr&lcrDLAB != 0 {
			u.dlm = v
			return
		}
		old := u.ier
		u.ier = v & ierMask
		switch {
		case u.ier&ierTHRE == 0:
			u.thrPending = false
		case old&ierTHRE == 0:
			// Enabling the THRE interrupt while THR is empty (it always
			// is) raises it, even if an IIR read had cleared it before:
			// Linux's 8250 driver tests for exactly this at startup.
			u.thrPending = true
		}
	case regIIR:
		u.writeFCR(v)
	case regLCR:
		u.lcr = v
	case regMCR:
		old := u.msr &^ msrDeltas
		u.mcr = v & mcrMask
		u.setModemInputs(old, u.modemInputs())
	case regLSR, regMSR:
		// Read-only (factory test registers on real parts): dropped.
	case regSCR:
		u.scr = v
	}
}

func (u *UART) writeFCR(v byte) {
	if (v^u.fcr)&fcrEnable != 0 {
		// Switching between FIFO and 16450 mode empties the FIFOs.
		u.clearRX()
	}
	if v&fcrEnable == 0 {
		// The other bits are programmed only together with the enable bit.
		u.fcr = 0
		return
	}
	u.fcr = v & fcrStored
	if v&fcrClearRX != 0 {
		u.clearRX()
	}
	// fcrClearTX: the transmit FIFO is always empty.
}

// transmit sends the byte written to THR. Transmission is immediate, so THR
// is empty again at once and, with the THRE interrupt enabled, that
// interrupt is pending again; a vCPU writing several bytes in a row sees
// the line stay high rather than pulse once per byte.
func (u *UART) transmit(b byte) {
	u.thrPending = false
	if u.mcr&mcrLoop != 0 {
		u.receive(b)
	} else {
		u.tx[0] = b
		_, _ = u.out.Write(u.tx[:]) // the guest cannot act on a host-side error
	}
	if u.ier&ierTHRE != 0 {
		u.thrPending = true
	}
}

// receive delivers a byte from the serial line (in loopback mode, from our
// own transmitter). A full receiver sets OE: in FIFO mode the new byte is
// lost, in 16450 mode it replaces the unread one.
func (u *UART) receive(b byte) {
	if u.rxLen < u.capacity() {
		u.push(b)
		return
	}
	u.lsrErr |= lsrOE
	if u.fcr&fcrEnable == 0 && u.rxLen > 0 {
		u.rx[u.rxHead] = b
	}
}

// push appends b to the receive FIFO; callers have checked for room.
func (u *UART) push(b byte) {
	u.rx[(u.rxHead+u.rxLen)%FIFOSize] = b
	u.rxLen++
}

func (u *UART) clearRX() {
	u.rxHead = 0
	u.rxLen = 0
}

func (u *UART) capacity() int {
	if u.fcr&fcrEnable != 0 {
		return FIFOSize
	}
	return 1
}

func (u *UART) room() int {
	if u.mcr&mcrLoop != 0 {
		return 0
	}
	return u.capacity() - u.rxLen
}

// modemInputs returns MSR's status bits: fixed (carrier, data set ready,
// clear to send) with a terminal attached, or MCR's outputs looped back.
func (u *UART) modemInputs() byte {
	if u.mcr&mcrLoop == 0 {
		return msrDCD | msrDSR | msrCTS
	}
	var s byte
	if u.mcr&mcrDTR != 0 {
		s |= msrDSR
	}
	if u.mcr&mcrRTS != 0 {
		s |= msrCTS
	}
	if u.mcr&mcrOUT1 != 0 {
		s |= msrRI
	}
	if u.mcr&mcrOUT2 != 0 {
		s |= msrDCD
	}
	return s
}

// setModemInputs records new modem inputs and latches MSR's delta bits for
// those that changed (for RI, only its trailing edge).
func (u *UART) setModemInputs(old, cur byte) {
	changed := old ^ cur
	d := u.msr & msrDeltas
	if changed&msrCTS != 0 {
		d |= msrDCTS
	}
	if changed&msrDSR != 0 {
		d |= msrDDSR
	}
	if changed&msrDCD != 0 {
		d |= msrDDCD
	}
	if old&msrRI != 0 && cur&msrRI == 0 {
		d |= msrTERI
	}
	u.msr = d | cur
}

// interruptID returns IIR bits 0-3: the highest-priority enabled interrupt
// condition, or iirNone.
func (u *UART) interruptID() byte {
	switch {
	case u.ier&ierRLS != 0 && u.lsrErr != 0:
		return iirRLS
	case u.ier&ierRDA != 0 && u.rxLen > 0:
		return iirRDA
	case u.ier&ierTHRE != 0 && u.thrPending:
		return iirTHRE
	case u.ier&ierMS != 0 && u.msr&msrDeltas != 0:
		return iirMS
	}
	return iirNone
}

// update runs after every access: it drives the interrupt line and tells a
// waiting input goroutine that the receiver has been drained.
func (u *UART) update() {
	level := u.interruptID() != iirNone && u.mcr&(mcrOUT2|mcrLoop) == mcrOUT2
	if level != u.level {
		u.level = level
		if u.irq != nil {
			u.irq.SetLevel(level)
		}
	}
	if u.wantRoom && u.rxLen == 0 && u.mcr&mcrLoop == 0 {
		u.wantRoom = false
		select {
		case u.drained <- struct{}{}:
		default: // a signal is already waiting
		}
	}
}
