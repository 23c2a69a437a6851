package rtc

import (
	"sync"
	"time"
)

// CMOS register indexes.
const (
	regSeconds  = 0x00
	regMinutes  = 0x02
	regHours    = 0x04
	regWeekday  = 0x06
	regDay      = 0x07
	regMonth    = 0x08
	regYear     = 0x09
	regA        = 0x0a
	regB        = 0x0b
	regC        = 0x0c
	regD        = 0x0d
	regBaseLo   = 0x15 // base memory, KiB
	regExtLo    = 0x17 // memory from 1 MiB, KiB
	regCsumHi   = 0x2e // checksum of 0x10-0x2d
	regExt2Lo   = 0x30 // memory from 1 MiB, KiB (second copy)
	regCentury  = 0x32
	regMidLo    = 0x34 // memory from 16 MiB, 64 KiB blocks
	regHighLo   = 0x5b // memory from 4 GiB, 64 KiB blocks, 3 bytes
	csumFirst   = 0x10
	csumLast    = 0x2d
	ramSize     = 128
	indexMask   = ramSize - 1 // clears the NMI-disable bit
	portIndex   = 0
	portData    = 1
	noAccess    = 0xff
	nmiDisabled = 0x80
)

// Register A.
const (
	aUIP     = 0x80 // update in progress: never set
	aDefault = 0x26 // 32.768 kHz time base, 1024 Hz periodic rate
)

// Register B.
const (
	bSET     = 0x80 // updates stopped, time registers writable as bytes
	bUIE     = 0x10 // update-ended interrupt enable
	bBinary  = 0x04 // DM: binary instead of BCD
	b24Hour  = 0x02
	bDefault = b24Hour
)

// Register C and D.
const (
	cIRQF = 0x80
	cUF   = 0x10
	dVRT  = 0x80 // valid RAM and time
)

const (
	kib           = 1 << 10
	mib           = 1 << 20
	block         = 64 * kib
	baseMemoryKiB = 640
)

// timeRegs are the registers that follow the clock.
var timeRegs = [...]byte{regSeconds, regMinutes, regHours, regWeekday, regDay, regMonth, regYear, regCentury}

func isTimeReg(idx byte) bool {
	for _, r := range timeRegs {
		if r == idx {
			return true
		}
	}
	return false
}

// CMOS is an MC146818 real-time clock with its CMOS memory. Its zero value
// is not usable; call New.
type CMOS struct {
	mu    sync.Mutex
	clock func() time.Time

	index  byte
	ram    [ramSize]byte // all bytes; time registers hold values only while SET is on
	offset int64         // guest time minus clock time, seconds

	sample   time.Time // clock sample the time registers read from
	sampled  bool
	lastTick int64 // clock second at the last read of register C
}

// New returns a CMOS RTC showing clock (time.Now if nil) and reporting
// lowMem bytes of RAM from address 0 below 4 GiB and highMem bytes from
// 4 GiB. The VMM passes the sizes of the spans of x86.RAMSpans.
func New(clock func() time.Time, lowMem, highMem uint64) *CMOS {
	if clock == nil {
		clock = time.Now
	}
	c := &CMOS{clock: clock}
	c.ram[regA] = aDefault
	c.ram[regB] = bDefault
	c.ram[regD] = dVRT

	base := min(lowMem/kib, baseMemoryKiB)
	var ext, mid uint64
	if lowMem > mib {
		ext = min((lowMem-mib)/kib, 0xffff)
	}
	if lowMem > 16*mib {
		mid = min((lowMem-16*mib)/block, 0xffff)
	}
	high := min(highMem/block, 0xffffff)
	c.putLE(regBaseLo, base, 2)
	c.putLE(regExtLo, ext, 2)
	c.putLE(regExt2Lo, ext, 2)
	c.putLE(regMidLo, mid, 2)
	c.putLE(regHighLo, high, 3)

	var sum uint16
	for _, b := range c.ram[csumFirst : csumLast+1] {
		sum += uint16(b)
	}
	c.ram[regCsumHi] = byte(sum >> 8)
	c.ram[regCsumHi+1] = byte(sum)

	c.lastTick = clock().Unix()
	return c
}

func (c *CMOS) putLE(idx int, v uint64, n int) {
	for i := range n {
		c.ram[idx+i] = byte(v >> (8 * i))
	}
}

// Read reads the ports: offset 0 (index, write-only: 0xff) and 1 (data).
func (c *CMOS) Read(offset uint64, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range data {
		data[i] = noAccess
		if offset <= portData && uint64(i) == portData-offset {
			data[i] = c.readReg(c.index)
		}
	}
}

// Write writes the ports: offset 0 selects a register, offset 1 writes it.
func (c *CMOS) Write(offset uint64, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, v := range data {
		if offset > portData || uint64(i) > portData-offset {
			break
		}
		if offset+uint64(i) == portIndex {
			c.index = v & indexMask
		} else {
			c.writeReg(c.index, v)
		}
	}
}

func (c *CMOS) readReg(idx byte) byte {
	switch {
	case isTimeReg(idx) && c.ram[regB]&bSET == 0:
		return encodeReg(idx, c.guestTime(idx == regSeconds), c.ram[regB])
	case idx == regA:
		return c.ram[regA] &^ aUIP
	case idx == regC:
		return c.readC()
	case idx == regD:
		return dVRT
	}
	return c.ram[idx&indexMask] // idx is masked already; the mask keeps this provably in range
}

func (c *CMOS) writeReg(idx byte, v byte) {
	switch {
	case isTimeReg(idx):
		if c.ram[regB]&bSET != 0 {
			c.ram[idx&indexMask] = v // applied when SET is cleared
			return
		}
		now := c.clock()
		c.captureTime(now)
		c.ram[idx&indexMask] = v
		c.commitTime(now)
	case idx == regA:
		c.ram[regA] = v &^ aUIP
	case idx == regB:
		old := c.ram[regB]
		if v&bSET != 0 {
			v &^= bUIE // the part clears UIE while SET is on
		}
		c.ram[regB] = v
		switch {
		case old&bSET == 0 && v&bSET != 0:
			c.captureTime(c.clock())
		case old&bSET != 0 && v&bSET == 0:
			c.commitTime(c.clock())
		}
	case idx == regC, idx == regD:
		// Read-only.
	default:
		c.ram[idx&indexMask] = v
	}
}

// readC returns register C and clears it: UF when the clock has ticked
// since the last read, IRQF with it when UIE is set.
func (c *CMOS) readC() byte {
	now := c.clock().Unix()
	var v byte
	if now != c.lastTick && c.ram[regB]&bSET == 0 {
		v = cUF
		if c.ram[regB]&bUIE != 0 {
			v |= cIRQF
		}
	}
	c.lastTick = now
	return v
}

// guestTime returns the time the registers show, whole seconds, UTC. A
// read of the seconds register (refresh) samples the clock; other reads use
// the last sample while it is under a second old.
func (c *CMOS) guestTime(refresh bool) time.Time {
	now := c.clock()
	if refresh || !c.sampled || now.Before(c.sample) || now.Sub(c.sample) >= time.Second {
		c.sample, c.sampled = now, true
	}
	return time.Unix(c.sample.Unix()+c.offset, 0).UTC()
}

// captureTime copies the time the registers show at now into ram, in the
// current format.
func (c *CMOS) captureTime(now time.Time) {
	t := time.Unix(now.Unix()+c.offset, 0).UTC()
	for _, r := range timeRegs {
		c.ram[r] = encodeReg(r, t, c.ram[regB])
	}
	c.sample, c.sampled = now, true
}

// commitTime makes the time held in ram the time shown at now, if it is a
// valid date and time; otherwise the clock keeps its old offset.
func (c *CMOS) commitTime(now time.Time) {
	t, ok := decodeTime(&c.ram, c.ram[regB])
	if !ok {
		return
	}
	c.offset = t.Unix() - now.Unix()
	c.sample, c.sampled = now, true
}

// encodeReg returns time register idx for t in the format of register B.
func encodeReg(idx byte, t time.Time, b byte) byte {
	bin := b&bBinary != 0
	switch idx {
	case regSeconds:
		return toReg(t.Second(), bin)
	case regMinutes:
		return toReg(t.Minute(), bin)
	case regHours:
		h := t.Hour()
		if b&b24Hour != 0 {
			return toReg(h, bin)
		}
		h12 := h % 12
		if h12 == 0 {
			h12 = 12
		}
		v := toReg(h12, bin)
		if h >= 12 {
			v |= 0x80
		}
		return v
	case regWeekday:
		return toReg(int(t.Weekday())+1, bin)
	case regDay:
		return toReg(t.Day(), bin)
	case regMonth:
		return toReg(int(t.Month()), bin)
	case regYear:
		return toReg(mod(t.Year(), 100), bin)
	case regCentury:
		return toReg(mod(t.Year()/100, 100), bin)
	}
	return 0
}

// decodeTime reads the time registers held in ram in the format of
// register B and reports whether they form a valid date and time.
func decodeTime(ram *[ramSize]byte, b byte) (time.Time, bool) {
	bin := b&bBinary != 0
	sec, ok1 := fromReg(ram[regSeconds], bin)
	minute, ok2 := fromReg(ram[regMinutes], bin)
	day, ok3 := fromReg(ram[regDay], bin)
	month, ok4 := fromReg(ram[regMonth], bin)
	year, ok5 := fromReg(ram[regYear], bin)
	century, ok6 := fromReg(ram[regCentury], bin)
	hour, ok7 := fromReg(ram[regHours], bin)
	if b&b24Hour == 0 {
		hour, ok7 = fromReg(ram[regHours]&0x7f, bin)
		if hour < 1 || hour > 12 {
			ok7 = false
		}
		hour %= 12
		if ram[regHours]&0x80 != 0 {
			hour += 12
		}
	}
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) ||
		sec > 59 || minute > 59 || hour > 23 || month < 1 || month > 12 || year > 99 || century > 99 {
		return time.Time{}, false
	}
	fullYear := century*100 + year
	if day < 1 || day > daysIn(time.Month(month), fullYear) {
		return time.Time{}, false
	}
	return time.Date(fullYear, time.Month(month), day, hour, minute, sec, 0, time.UTC), true
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// toReg encodes v (0-99) in binary or BCD.
func toReg(v int, bin bool) byte {
	if bin {
		return byte(v)
	}
	return byte(v/10%10<<4 | v%10)
}

// fromReg decodes a binary or BCD register, reporting bad BCD digits.
func fromReg(v byte, bin bool) (int, bool) {
	if bin {
		return int(v), true
	}
	hi, lo := v>>4, v&0x0f
	if hi > 9 || lo > 9 {
		return 0, false
	}
	return int(hi)*10 + int(lo), true
}

// mod is the non-negative remainder, so years before 0 still encode.
func mod(a, n int) int {
	return (a%n + n) % n
}
