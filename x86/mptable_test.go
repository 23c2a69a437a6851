package x86

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gluevmm/glue/guestmem"
)

// mpConfig is what a guest learns from the MP table.
type mpConfig struct {
	lapicAddr    uint32
	oemID        string
	cpus         []mpCPU
	buses        map[uint8]string
	ioapicID     uint8
	ioapicAddr   uint32
	ioapicCount  int
	irqToPin     map[uint8]uint8 // ISA IRQ -> IOAPIC pin, vectored entries
	extINTPins   []uint8
	localInts    map[uint8]uint8 // LINT# -> interrupt type
	entryCount   int
	tableAddress uint32
}

type mpCPU struct {
	apicID, version uint8
	enabled, bsp    bool
}

// parseMPTable finds and decodes the MP table the way a guest kernel does:
// it scans the first KiB of the EBDA for the floating pointer, checks both
// checksums and walks the entries by type.
func parseMPTable(mem *guestmem.Memory) (*mpConfig, error) {
	ebda := make([]byte, 1024)
	if err := mem.ReadAt(ebda, EBDAStart); err != nil {
		return nil, err
	}
	var fp []byte
	for off := 0; off+16 <= len(ebda); off += 16 {
		if c := ebda[off : off+16]; string(c[:4]) == "_MP_" && c[8] == 1 && sum(c) == 0 {
			fp = c
			break
		}
	}
	if fp == nil {
		return nil, errors.New("no valid _MP_ floating pointer in the EBDA")
	}
	if fp[9] != 4 {
		return nil, fmt.Errorf("floating pointer spec rev %d, want 4", fp[9])
	}
	if fp[11] != 0 {
		return nil, fmt.Errorf("feature byte 1 = %d: a default configuration, not a table", fp[11])
	}
	cfg := &mpConfig{
		tableAddress: u32(fp, 4),
		buses:        map[uint8]string{},
		irqToPin:     map[uint8]uint8{},
		localInts:    map[uint8]uint8{},
	}
	hdr := make([]byte, mpHeaderSize)
	if err := mem.ReadAt(hdr, guestmem.Addr(cfg.tableAddress)); err != nil {
		return nil, err
	}
	if string(hdr[:4]) != "PCMP" || hdr[6] != 4 {
		return nil, fmt.Errorf("config table header %q rev %d", hdr[:4], hdr[6])
	}
	table := make([]byte, u16(hdr, 4))
	if err := mem.ReadAt(table, guestmem.Addr(cfg.tableAddress)); err != nil {
		return nil, err
	}
	if s := sum(table); s != 0 {
		return nil, fmt.Errorf("config table checksum leaves %#x", s)
	}
	if u16(table, 40) != 0 {
		return nil, errors.New("unexpected extended table")
	}
	cfg.oemID = string(table[8:16])
	cfg.entryCount = int(u16(table, 34))
	cfg.lapicAddr = u32(table, 36)

	entries := table[mpHeaderSize:]
	for n := 0; n < cfg.entryCount; n++ {
		if len(entries) == 0 {
			return nil, fmt.Errorf("table ends after %d of %d entries", n, cfg.entryCount)
		}
		size := mpEntrySize
		if entries[0] == mpEntryProcessor {
			size = mpProcessorEntrySize
		}
		if len(entries) < size {
			return nil, fmt.Errorf("entry %d truncated", n)
		}
		e := entries[:size]
		entries = entries[size:]
		switch e[0] {
		case mpEntryProcessor:
			cfg.cpus = append(cfg.cpus, mpCPU{apicID: e[1], version: e[2], enabled: e[3]&1 != 0, bsp: e[3]&2 != 0})
		case mpEntryBus:
			cfg.buses[e[1]] = string(e[2:8])
		case mpEntryIOAPIC:
			if e[3]&1 == 0 {
				return nil, fmt.Errorf("IOAPIC %d disabled", e[1])
			}
			cfg.ioapicCount++
			cfg.ioapicID, cfg.ioapicAddr = e[1], u32(e, 4)
		case mpEntryIOInterrupt:
			if u16(e, 2) != 0 {
				return nil, fmt.Errorf("IRQ %d flags %#x, want conforming to the bus", e[5], u16(e, 2))
			}
			if bus, ok := cfg.buses[e[4]]; !ok || bus != "ISA   " {
				return nil, fmt.Errorf("IRQ %d on unknown bus %d", e[5], e[4])
			}
			if e[6] != cfg.ioapicID {
				return nil, fmt.Errorf("IRQ %d to IOAPIC %d, not %d", e[5], e[6], cfg.ioapicID)
			}
			switch e[1] {
			case mpIntINT:
				if _, dup := cfg.irqToPin[e[5]]; dup {
					return nil, fmt.Errorf("IRQ %d assigned twice", e[5])
				}
				cfg.irqToPin[e[5]] = e[7]
			case mpIntExtINT:
				cfg.extINTPins = append(cfg.extINTPins, e[7])
			}
		case mpEntryLocalInterrupt:
			if e[6] != 0xff {
				return nil, fmt.Errorf("LINT%d only for APIC %d", e[7], e[6])
			}
			cfg.localInts[e[7]] = e[1]
		default:
			return nil, fmt.Errorf("entry %d has unknown type %d", n, e[0])
		}
	}
	if len(entries) != 0 {
		return nil, fmt.Errorf("%d bytes after the last entry", len(entries))
	}
	return cfg, nil
}

func sum(b []byte) uint8 {
	var s uint8
	for _, c := range b {
		s += c
	}
	return s
}

func TestWriteMPTable(t *testing.T) {
	t.Parallel()
	for _, numCPUs := range []int{1, 2, 4, MaxCPUs} {
		t.Run(fmt.Sprintf("%d CPUs", numCPUs), func(t *testing.T) {
			t.Parallel()
			mem := newTestMemory(t, 64<<20)
			if err := WriteMPTable(mem, numCPUs); err != nil {
				t.Fatal(err)
			}
			cfg, err := parseMPTable(mem)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.tableAddress != uint32(MPTableAddr)+16 {
				t.Errorf("config table at %#x, want right after the floating pointer", cfg.tableAddress)
			}
			if end := uint64(MPTableAddr) + uint64(mpTableSize(numCPUs)); end > uint64(HighMemStart) {
				t.Errorf("table ends at %#x, past %#x", end, HighMemStart)
			}
			if cfg.oemID != "GLUE    " {
				t.Errorf("OEM ID %q", cfg.oemID)
			}
			if cfg.lapicAddr != uint32(LAPICAddr) {
				t.Errorf("LAPIC address %#x, want %#x", cfg.lapicAddr, LAPICAddr)
			}
			if want := numCPUs + 1 + 1 + 24 + 2; cfg.entryCount != want {
				t.Errorf("%d entries, want %d", cfg.entryCount, want)
			}
			if len(cfg.cpus) != numCPUs {
				t.Fatalf("%d processor entries, want %d", len(cfg.cpus), numCPUs)
			}
			for i, cpu := range cfg.cpus {
				want := mpCPU{apicID: uint8(i), version: 0x14, enabled: true, bsp: i == 0}
				if cpu != want {
					t.Errorf("CPU %d = %+v, want %+v", i, cpu, want)
				}
			}
			if cfg.ioapicCount != 1 || cfg.ioapicID != uint8(numCPUs) || cfg.ioapicAddr != uint32(IOAPICAddr) {
				t.Errorf("%d IOAPICs, last ID %d at %#x; want one, ID %d at %#x",
					cfg.ioapicCount, cfg.ioapicID, cfg.ioapicAddr, numCPUs, IOAPICAddr)
			}
			for irq := range uint8(24) {
				if pin, ok := cfg.irqToPin[irq]; !ok || pin != irq {
					t.Errorf("IRQ %d on pin %d (listed %v), want pin %d", irq, pin, ok, irq)
				}
			}
			if len(cfg.extINTPins) != 0 {
				t.Errorf("ExtINT on IOAPIC pins %v, want the PIC on LINT0 only", cfg.extINTPins)
			}
			if cfg.localInts[0] != mpIntExtINT || cfg.localInts[1] != mpIntNMI || len(cfg.localInts) != 2 {
				t.Errorf("local interrupts %v, want LINT0 ExtINT and LINT1 NMI", cfg.localInts)
			}
		})
	}
}

// Every line a virtio-mmio device may use must be described to the guest.
func TestMPTableListsVirtioIRQs(t *testing.T) {
	t.Parallel()
	mem := newTestMemory(t, 64<<20)
	if err := WriteMPTable(mem, 1); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseMPTable(mem)
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; ; n++ {
		irq, ok := VirtioIRQ(n)
		if !ok {
			break
		}
		if pin, ok := cfg.irqToPin[uint8(irq)]; !ok || uint32(pin) != irq {
			t.Errorf("virtio IRQ %d on pin %d (listed %v)", irq, pin, ok)
		}
	}
}

func TestWriteMPTableRejects(t *testing.T) {
	t.Parallel()
	mem := newTestMemory(t, 64<<20)
	for _, numCPUs := range []int{-1, 0, MaxCPUs + 1, 1024} {
		err := WriteMPTable(mem, numCPUs)
		if err == nil || !strings.HasPrefix(err.Error(), "x86: MP table: ") {
			t.Errorf("WriteMPTable(%d CPUs) = %v, want an x86: MP table error", numCPUs, err)
		}
	}
	ebda := make([]byte, 16)
	if err := mem.ReadAt(ebda, MPTableAddr); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ebda, make([]byte, 16)) {
		t.Error("a rejected MP table was written")
	}
}

func TestChecksum(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"zero", []byte{0, 0}},
		{"wraps", []byte{0xff, 0xff, 0x03, 0}},
		{"signature", []byte("_MP_\x00\x00\x00\x00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if s := sum(tt.in) + checksum(tt.in); s != 0 {
				t.Errorf("sum with checksum = %#x, want 0", s)
			}
		})
	}
}
