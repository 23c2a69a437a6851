package x86

import (
	"encoding/binary"
	"fmt"

	"github.com/gluevmm/glue/guestmem"
)

// The MP table (Intel MultiProcessor Specification 1.4, chapter 4) tells a
// guest without ACPI how many CPUs it has and how interrupt lines reach the
// IOAPIC. Its floating pointer sits at the start of the EBDA, [0x9fc00,
// 0xa0000), one of the places a guest scans for "_MP_"; the configuration
// table follows it.
//
// Interrupt routing: ISA IRQ n goes to IOAPIC pin n for every pin of KVM's
// in-kernel IOAPIC (24), as KVM's default GSI routing does. The in-kernel PIT
// raises GSI 0, which that routing delivers to pin 0, so IRQ0 is on pin 0 and
// there is no PC-style "IRQ0 on pin 2" override. Pins 16-23 are listed too,
// because virtio-mmio devices use them (see VirtioIRQ) and Linux only sets
// up pins the table names. All lines conform to the ISA bus: edge-triggered,
// active high. The 8259 PIC reaches the CPUs through LINT0 (ExtINT, virtual
// wire mode), NMIs through LINT1.

const (
	mpFloatingPointerSize = 16
	mpHeaderSize          = 44
	mpProcessorEntrySize  = 20
	mpEntrySize           = 8 // bus, IOAPIC, I/O and local interrupt entries

	mpSpecRev = 4 // version 1.4

	mpEntryProcessor      = 0
	mpEntryBus            = 1
	mpEntryIOAPIC         = 2
	mpEntryIOInterrupt    = 3
	mpEntryLocalInterrupt = 4

	mpIntINT    = 0 // vectored interrupt, vector from the IOAPIC redirection entry
	mpIntNMI    = 1
	mpIntExtINT = 3 // vector from the 8259 PIC

	mpCPUEnabled        = 1 << 0
	mpCPUBootProcessor  = 1 << 1
	mpIOAPICEnabled     = 1 << 0
	mpFlagsConformToBus = 0 // polarity and trigger mode of the source bus

	lapicVersion  = 0x14 // integrated xAPIC, as KVM's in-kernel LAPIC reports
	ioapicVersion = 0x11 // 82093AA-compatible IOAPIC, as KVM's in-kernel one reports
	ioapicPins    = 24   // KVM_IOAPIC_NUM_PINS

	// A processor entry's CPU signature and feature flags are informational
	// (guests take the real values from CPUID); glue reports family 6 with
	// an FPU and an APIC (CPUID.1:EDX bits 0 and 9).
	mpCPUSignature = 6 << 8
	mpCPUFeatures  = 1<<0 | 1<<9

	isaBusID      = 0
	allLocalAPICs = 0xff
)

var (
	mpOEMID     = [8]byte{'G', 'L', 'U', 'E', ' ', ' ', ' ', ' '}
	mpProductID = [12]byte{'G', 'L', 'U', 'E', ' ', 'V', 'M', ' ', ' ', ' ', ' ', ' '}
	mpISABus    = [6]byte{'I', 'S', 'A', ' ', ' ', ' '}
)

// mpTableSize returns the size in bytes of the MP table for numCPUs CPUs.
func mpTableSize(numCPUs int) int {
	return mpFloatingPointerSize + mpHeaderSize + numCPUs*mpProcessorEntrySize +
		mpEntrySize*(1+1+ioapicPins+2) // bus, IOAPIC, I/O interrupts, LINT0 and LINT1
}

// WriteMPTable writes the MP floating pointer and configuration table for
// numCPUs vCPUs (1 to MaxCPUs) at MPTableAddr. CPU 0 is the bootstrap
// processor; vCPU n must have APIC ID n, and the IOAPIC gets ID numCPUs.
func WriteMPTable(mem *guestmem.Memory, numCPUs int) error {
	b, err := mpTableBlob(numCPUs)
	if err != nil {
		return err
	}
	return writeBlobs(mem, b)
}

func mpTableBlob(numCPUs int) (blob, error) {
	if numCPUs < 1 || numCPUs > MaxCPUs {
		return blob{}, fmt.Errorf("x86: MP table: %d CPUs, want 1 to %d", numCPUs, MaxCPUs)
	}
	size := mpTableSize(numCPUs)
	if uint64(MPTableAddr)+uint64(size) > uint64(HighMemStart) {
		return blob{}, fmt.Errorf("x86: MP table: %d bytes for %d CPUs run past %#x", size, numCPUs, HighMemStart)
	}
	return blob{what: "MP table", addr: MPTableAddr, data: encodeMPTable(numCPUs)}, nil
}

// encodeMPTable lays the table out for MPTableAddr; numCPUs is in range.
func encodeMPTable(numCPUs int) []byte {
	le := binary.LittleEndian
	ioapicID := uint8(numCPUs)

	// The configuration table: header first, entries appended.
	cfg := make([]byte, mpHeaderSize, mpTableSize(numCPUs)-mpFloatingPointerSize)
	for i := range numCPUs {
		e := make([]byte, mpProcessorEntrySize)
		e[0] = mpEntryProcessor
		e[1] = uint8(i) // APIC ID
		e[2] = lapicVersion
		e[3] = mpCPUEnabled
		if i == 0 {
			e[3] |= mpCPUBootProcessor
		}
		le.PutUint32(e[4:], mpCPUSignature)
		le.PutUint32(e[8:], mpCPUFeatures)
		cfg = append(cfg, e...)
	}
	cfg = append(cfg, mpEntryBus, isaBusID)
	cfg = append(cfg, mpISABus[:]...)
	cfg = append(cfg, mpEntryIOAPIC, ioapicID, ioapicVersion, mpIOAPICEnabled)
	cfg = le.AppendUint32(cfg, uint32(IOAPICAddr))
	for pin := range uint8(ioapicPins) {
		cfg = append(cfg, mpEntryIOInterrupt, mpIntINT)
		cfg = le.AppendUint16(cfg, mpFlagsConformToBus)
		cfg = append(cfg, isaBusID, pin, ioapicID, pin)
	}
	for lint, kind := range []uint8{mpIntExtINT, mpIntNMI} {
		cfg = append(cfg, mpEntryLocalInterrupt, kind)
		cfg = le.AppendUint16(cfg, mpFlagsConformToBus)
		cfg = append(cfg, isaBusID, 0, allLocalAPICs, uint8(lint))
	}

	copy(cfg[0:], "PCMP")
	le.PutUint16(cfg[4:], uint16(len(cfg))) // base table length
	cfg[6] = mpSpecRev
	copy(cfg[8:], mpOEMID[:])
	copy(cfg[16:], mpProductID[:])
	le.PutUint16(cfg[34:], uint16(numCPUs+1+1+ioapicPins+2)) // entry count
	le.PutUint32(cfg[36:], uint32(LAPICAddr))
	cfg[7] = checksum(cfg)

	fp := make([]byte, mpFloatingPointerSize, mpTableSize(numCPUs))
	copy(fp[0:], "_MP_")
	le.PutUint32(fp[4:], uint32(MPTableAddr)+mpFloatingPointerSize)
	fp[8] = 1 // length in 16-byte units
	fp[9] = mpSpecRev
	// Feature bytes stay 0: a configuration table is present, and the
	// IMCR is absent (virtual wire mode).
	fp[10] = checksum(fp)
	return append(fp, cfg...)
}

// checksum returns the byte that makes the sum of b plus it zero; the
// checksum field in b must still be zero.
func checksum(b []byte) uint8 {
	var sum uint8
	for _, c := range b {
		sum += c
	}
	return -sum
}
