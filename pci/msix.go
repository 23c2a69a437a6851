package pci

import (
	"encoding/binary"
	"fmt"
)

// MSI-X layout (PCI Local Bus Specification 3.0, 6.8.2).
const (
	MaxMSIXVectors = 2048
	msixCapLen     = 12
	msixEntrySize  = 16
	msixCtrlEnable = 1 << 15
	msixCtrlMask   = 1 << 14
	msixVectorMask = 1 // vector control bit 0

	entryAddrLo, entryAddrHi, entryData, entryControl = 0, 1, 2, 3
)

// Message is an MSI-X message: the guest-physical address and the data the
// function writes to raise the vector.
type Message struct {
	Address uint64
	Data    uint32
}

// MSIXSink delivers MSI-X messages for the VMM. Its methods are called with
// the function's lock held, so one function's calls arrive in order; they
// must not call back into the function. Sinks of different functions are
// called concurrently: a VMM that keeps one KVM routing table for all of
// them serialises its updates itself.
type MSIXSink interface {
	// Route tells the VMM the message vector now carries, before the first
	// Signal that uses it (KVM: update the vector's GSI route with
	// KVM_SET_GSI_ROUTING). It is called only when the message changed
	// since the last Route of that vector.
	Route(vector int, msg Message)
	// Signal sends the vector's message (KVM: write the vector's irqfd).
	Signal(vector int)
}

// MSIXConfig places the MSI-X table and pending bit array (PBA) in the
// function's BARs. Offsets are from the start of the BAR, 8-byte aligned.
type MSIXConfig struct {
	Vectors     int // 1 to MaxMSIXVectors
	TableBAR    int
	TableOffset uint64
	PBABAR      int
	PBAOffset   uint64
}

// MSIX is a function's MSI-X capability with its table and PBA. All state is
// guarded by the function's lock.
type MSIX struct {
	f       *Function
	cfg     MSIXConfig
	sink    MSIXSink
	control uint16 // enable and function mask bits of Message Control
	table   [][4]uint32
	pending []uint64
	routed  []*Message // last message given to Route, per vector
}

// AddMSIX adds an MSI-X capability whose table and PBA live in BARs already
// added. Every vector starts masked, as after reset.
func (f *Function) AddMSIX(cfg MSIXConfig, sink MSIXSink) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.msix != nil {
		return fmt.Errorf("pci: add MSI-X: function already has MSI-X")
	}
	if sink == nil {
		return fmt.Errorf("pci: add MSI-X: no sink")
	}
	if cfg.Vectors < 1 || cfg.Vectors > MaxMSIXVectors {
		return fmt.Errorf("pci: add MSI-X: %d vectors, want 1 to %d", cfg.Vectors, MaxMSIXVectors)
	}
	table := Range{Base: cfg.TableOffset, Size: uint64(cfg.Vectors) * msixEntrySize}
	pba := Range{Base: cfg.PBAOffset, Size: uint64(pbaQwords(cfg.Vectors)) * 8}
	for _, s := range []struct {
		name string
		bar  int
		r    Range
	}{{"table", cfg.TableBAR, table}, {"PBA", cfg.PBABAR, pba}} {
		if s.bar < 0 || s.bar >= NumBARs || f.bars[s.bar] == nil {
			return fmt.Errorf("pci: add MSI-X: %s in BAR %d, which does not exist", s.name, s.bar)
		}
		if s.r.Base%8 != 0 || s.r.Base >= 1<<32 || !(Range{Size: f.bars[s.bar].Size}).contains(s.r) {
			return fmt.Errorf("pci: add MSI-X: %s at %v does not fit BAR %d or is misaligned", s.name, s.r, s.bar)
		}
	}
	if cfg.TableBAR == cfg.PBABAR && table.overlaps(pba) {
		return fmt.Errorf("pci: add MSI-X: table %v and PBA %v overlap", table, pba)
	}
	m := &MSIX{
		f: f, cfg: cfg, sink: sink,
		table:   make([][4]uint32, cfg.Vectors),
		pending: make([]uint64, pbaQwords(cfg.Vectors)),
		routed:  make([]*Message, cfg.Vectors),
	}
	for i := range m.table {
		m.table[i][entryControl] = msixVectorMask
	}
	if _, err := f.addCapability(msixCap{m}); err != nil {
		return fmt.Errorf("pci: add MSI-X: %w", err)
	}
	f.msix = m
	return nil
}

func pbaQwords(vectors int) int { return (vectors + 63) / 64 }

// MSIXEnabled reports whether the guest enabled MSI-X.
func (f *Function) MSIXEnabled() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msix != nil && f.msix.enabled()
}

func (m *MSIX) enabled() bool { return m.control&msixCtrlEnable != 0 }

// deliverable reports whether vector v's message may be sent now: MSI-X
// enabled, neither the function nor the vector masked, bus mastering on.
func (m *MSIX) deliverable(v int) bool {
	return m.enabled() && m.control&msixCtrlMask == 0 &&
		m.table[v][entryControl]&msixVectorMask == 0 && m.f.busMaster()
}

func (m *MSIX) notify(v int) {
	if v < 0 || v >= len(m.table) {
		return
	}
	if m.deliverable(v) {
		m.send(v)
		return
	}
	m.pending[v/64] |= 1 << (v % 64)
}

func (m *MSIX) send(v int) {
	e := m.table[v]
	msg := Message{Address: uint64(e[entryAddrHi])<<32 | uint64(e[entryAddrLo]), Data: e[entryData]}
	if m.routed[v] == nil || *m.routed[v] != msg {
		m.routed[v] = &msg
		m.sink.Route(v, msg)
	}
	m.sink.Signal(v)
}

// flushPending sends every pending vector that has become deliverable and
// clears its bit.
func (m *MSIX) flushPending() {
	for q, word := range m.pending {
		for word != 0 {
			b := 0
			for word&(1<<b) == 0 {
				b++
			}
			word &^= 1 << b
			v := q*64 + b
			if m.deliverable(v) {
				m.pending[q] &^= 1 << b
				m.send(v)
			}
		}
	}
}

// msixCap is the capability in configuration space: Message Control, Table
// Offset/BIR, PBA Offset/BIR.
type msixCap struct{ m *MSIX }

func (msixCap) ID() uint8 { return CapabilityMSIX }
func (msixCap) Len() int  { return msixCapLen }

func (c msixCap) ReadCapability(offset int, data []byte) {
	m := c.m
	m.f.mu.Lock()
	var img [msixCapLen]byte
	binary.LittleEndian.PutUint16(img[2:], uint16(m.cfg.Vectors-1)|m.control)
	m.f.mu.Unlock()
	binary.LittleEndian.PutUint32(img[4:], uint32(m.cfg.TableOffset)|uint32(m.cfg.TableBAR))
	binary.LittleEndian.PutUint32(img[8:], uint32(m.cfg.PBAOffset)|uint32(m.cfg.PBABAR))
	copy(data, img[offset:])
}

// WriteCapability changes the enable and function mask bits; everything
// else in the capability is read-only.
func (c msixCap) WriteCapability(offset int, data []byte) {
	m := c.m
	m.f.mu.Lock()
	defer m.f.mu.Unlock()
	for i, v := range data {
		if offset+i == 3 { // Message Control bits 15:8
			m.control = uint16(v&byte((msixCtrlEnable|msixCtrlMask)>>8)) << 8
		}
	}
	m.f.updateLine()
	m.flushPending()
}

// tableAccess serves a table or PBA access at offset into BAR bar and
// reports whether the access belonged to them; f.mu is held. Only 4- and
// 8-byte aligned accesses are defined (6.8.2); others touching the table or
// PBA read all ones and are dropped.
func (m *MSIX) tableAccess(bar int, offset uint64, data []byte, write bool) bool {
	n := uint64(len(data))
	table := Range{Base: m.cfg.TableOffset, Size: uint64(len(m.table)) * msixEntrySize}
	pba := Range{Base: m.cfg.PBAOffset, Size: uint64(len(m.pending)) * 8}
	acc := Range{Base: offset, Size: n}
	inTable := bar == m.cfg.TableBAR && table.overlaps(acc)
	inPBA := bar == m.cfg.PBABAR && pba.overlaps(acc)
	if !inTable && !inPBA {
		return false
	}
	if (n != 4 && n != 8) || offset%n != 0 || (inTable && !table.contains(acc)) || (inPBA && !pba.contains(acc)) {
		if !write {
			fillOnes(data)
		}
		return true
	}
	for i := uint64(0); i < n; i += 4 {
		switch {
		case inTable:
			m.tableDword(offset+i-table.Base, data[i:i+4], write)
		case !write:
			w := (offset + i - pba.Base) / 4
			binary.LittleEndian.PutUint32(data[i:], uint32(m.pending[w/2]>>(32*(w%2))))
		}
	}
	return true
}

func (m *MSIX) tableDword(off uint64, data []byte, write bool) {
	v, field := int(off/msixEntrySize), int(off%msixEntrySize/4)
	e := &m.table[v]
	if !write {
		binary.LittleEndian.PutUint32(data, e[field])
		return
	}
	val := binary.LittleEndian.Uint32(data)
	switch field {
	case entryAddrLo:
		e[field] = val &^ 3 // dword-aligned address: bits 1:0 read as zero
	case entryControl:
		e[field] = val & msixVectorMask
		m.flushPending()
	default:
		e[field] = val
	}
}
