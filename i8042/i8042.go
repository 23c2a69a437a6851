package i8042

import "sync"

// Status register bits (read at the command port).
const (
	stOutFull  = 0x01 // output buffer holds a byte for the host
	stSystem   = 0x04 // system flag: set by self test or command byte bit 2
	stCommand  = 0x08 // the last write went to the command port
	stUnlocked = 0x10 // keyboard not inhibited by the keylock
	stAuxData  = 0x20 // the output byte came from the auxiliary port
)

// Command byte (controller RAM byte 0) bits.
const (
	cbKbdInt  = 0x01
	cbAuxInt  = 0x02
	cbSystem  = 0x04
	cbKbdOff  = 0x10
	cbAuxOff  = 0x20
	cbXlate   = 0x40
	cbDefault = cbXlate | cbSystem | cbKbdInt // as firmware leaves it after POST
)

// Controller commands.
const (
	cmdReadRAM      = 0x20 // 0x20-0x3f
	cmdWriteRAM     = 0x60 // 0x60-0x7f
	cmdAuxDisable   = 0xa7
	cmdAuxEnable    = 0xa8
	cmdAuxTest      = 0xa9
	cmdSelfTest     = 0xaa
	cmdKbdTest      = 0xab
	cmdKbdDisable   = 0xad
	cmdKbdEnable    = 0xae
	cmdReadOutPort  = 0xd0
	cmdWriteOutPort = 0xd1
	cmdWriteKbdOut  = 0xd2
	cmdWriteAuxOut  = 0xd3
	cmdWriteAux     = 0xd4
	cmdPulse        = 0xf0 // 0xf0-0xff: pulse the output port bits clear in the low nibble
)

const (
	selfTestOK  = 0x55
	portTestOK  = 0x00
	outPortInit = 0x03 // reset line released, A20 enabled
	outPortNRst = 0x01 // output port bit 0: the CPU reset line, active low
	noAccess    = 0xff
)

// Trigger sets the level of an interrupt line.
type Trigger interface {
	SetLevel(high bool)
}

// Config holds the controller's side effects. Reset is required for the
// controller to be useful; the interrupt lines are optional.
type Config struct {
	Reset       func() // called once per reset request, see the package documentation
	KeyboardIRQ Trigger
	AuxIRQ      Trigger
}

// Controller is an 8042. Its zero value is not usable; call New.
type Controller struct {
	mu  sync.Mutex
	cfg Config

	ram     [32]byte // controller RAM; ram[0] is the command byte
	sysFlag bool
	lastCmd bool // last write went to the command port
	outPort byte
	pending byte // command waiting for its data byte, 0 if none

	out     byte // output buffer (kept after it is read, as on hardware)
	outFull bool
	outAux  bool

	kbdLevel, auxLevel bool
}

// New returns a controller in the state firmware leaves it in: self test
// passed, keyboard interrupt and scancode translation enabled, output buffer
// empty.
func New(cfg Config) *Controller {
	c := &Controller{cfg: cfg, sysFlag: true, outPort: outPortInit}
	c.ram[0] = cbDefault
	return c
}

// Port is one of the controller's two I/O ports as a bus device. The zero
// Port is a port with nothing behind it.
type Port struct {
	c   *Controller
	cmd bool
}

// DataPort returns the data port, for the bus at 0x60 with size 1.
func (c *Controller) DataPort() Port { return Port{c: c} }

// CommandPort returns the command/status port, for the bus at 0x64 with
// size 1.
func (c *Controller) CommandPort() Port { return Port{c: c, cmd: true} }

// Read reads the port's register at offset 0: the output buffer (data port)
// or the status register (command port).
func (p Port) Read(offset uint64, data []byte) {
	for i := range data {
		data[i] = noAccess
	}
	if p.c == nil || offset != 0 || len(data) == 0 {
		return
	}
	c := p.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.cmd {
		data[0] = c.status()
		return
	}
	data[0] = c.out
	c.outFull = false
	c.update()
}

// Write writes the port's register at offset 0: a command (command port) or
// a command's parameter or a byte for the keyboard (data port).
func (p Port) Write(offset uint64, data []byte) {
	if p.c == nil || offset != 0 || len(data) == 0 {
		return
	}
	if p.c.write(p.cmd, data[0]) && p.c.cfg.Reset != nil {
		p.c.cfg.Reset()
	}
}

// write handles one byte written to a port and reports whether it requested
// a reset; the caller invokes Reset once the lock is released.
func (c *Controller) write(cmd bool, v byte) (reset bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.update()
	c.lastCmd = cmd
	if cmd {
		return c.command(v)
	}
	p := c.pending
	c.pending = 0
	switch {
	case p >= cmdWriteRAM && p <= cmdWriteRAM+0x1f:
		c.ram[p&0x1f] = v
		if p == cmdWriteRAM {
			c.sysFlag = v&cbSystem != 0
		}
	case p == cmdWriteOutPort:
		c.outPort = v
		return v&outPortNRst == 0
	case p == cmdWriteKbdOut:
		c.respond(v, false)
	case p == cmdWriteAuxOut:
		c.respond(v, true)
	default:
		// cmdWriteAux or no command: a byte for the mouse or the keyboard,
		// neither of which is attached.
	}
	return false
}

// command executes a byte written to the command port.
func (c *Controller) command(v byte) (reset bool) {
	c.pending = 0
	switch {
	case v >= cmdReadRAM && v <= cmdReadRAM+0x1f:
		c.respond(c.ram[v&0x1f], false)
	case v >= cmdWriteRAM && v <= cmdWriteRAM+0x1f:
		c.pending = v
	case v == cmdAuxDisable:
		c.ram[0] |= cbAuxOff
	case v == cmdAuxEnable:
		c.ram[0] &^= cbAuxOff
	case v == cmdAuxTest, v == cmdKbdTest:
		c.respond(portTestOK, false)
	case v == cmdSelfTest:
		c.sysFlag = true
		c.respond(selfTestOK, false)
	case v == cmdKbdDisable:
		c.ram[0] |= cbKbdOff
	case v == cmdKbdEnable:
		c.ram[0] &^= cbKbdOff
	case v == cmdReadOutPort:
		c.respond(c.outPort, false)
	case v == cmdWriteOutPort, v == cmdWriteKbdOut, v == cmdWriteAuxOut, v == cmdWriteAux:
		c.pending = v
	case v >= cmdPulse:
		// Bits clear in the low nibble are pulsed low; bit 0 is reset.
		return v&outPortNRst == 0
	}
	return false
}

// respond puts a byte in the output buffer, replacing any unread one.
func (c *Controller) respond(v byte, aux bool) {
	c.out = v
	c.outFull = true
	c.outAux = aux
}

func (c *Controller) status() byte {
	s := byte(stUnlocked)
	if c.outFull {
		s |= stOutFull
		if c.outAux {
			s |= stAuxData
		}
	}
	if c.sysFlag {
		s |= stSystem
	}
	if c.lastCmd {
		s |= stCommand
	}
	return s
}

// update drives the interrupt lines after every access.
func (c *Controller) update() {
	kbd := c.outFull && !c.outAux && c.ram[0]&cbKbdInt != 0
	aux := c.outFull && c.outAux && c.ram[0]&cbAuxInt != 0
	if kbd != c.kbdLevel {
		c.kbdLevel = kbd
		if c.cfg.KeyboardIRQ != nil {
			c.cfg.KeyboardIRQ.SetLevel(kbd)
		}
	}
	if aux != c.auxLevel {
		c.auxLevel = aux
		if c.cfg.AuxIRQ != nil {
			c.cfg.AuxIRQ.SetLevel(aux)
		}
	}
}
