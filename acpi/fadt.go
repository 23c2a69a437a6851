package acpi

import "encoding/binary"

// FADT (ACPI 6.5 §5.2.9), revision 6: 276 bytes. The machine is
// hardware-reduced (no PM1/GPE blocks, no SMI, no FACS), so most fields
// stay zero; power-off and reset go through the sleep control and reset
// registers of the power device.
const (
	fadtRevision      = 6
	fadtMinorRevision = 5 // ACPI 6.5
	fadtSize          = 276

	offFADTBootArch     = 109 // IAPC_BOOT_ARCH
	offFADTFlags        = 112
	offFADTResetReg     = 116
	offFADTResetValue   = 128
	offFADTMinor        = 131
	offFADTXDSDT        = 140
	offFADTSleepControl = 244
	offFADTSleepStatus  = 256
	offFADTHypervisorID = 268
)

// FADT flags.
const (
	fadtPowerButton = 1 << 4  // PWR_BUTTON: the power button is a control method device
	fadtSleepButton = 1 << 5  // SLP_BUTTON: no sleep button as a fixed feature
	fadtResetReg    = 1 << 10 // RESET_REG_SUP
	fadtHWReduced   = 1 << 20 // HW_REDUCED_ACPI
)

// IA-PC boot architecture flags.
const (
	bootLegacyDevices = 1 << 0 // ISA devices the OS may not find through ACPI
	boot8042          = 1 << 1
	bootNoVGA         = 1 << 2
	bootNoCMOSRTC     = 1 << 5
)

var hypervisorID = [8]byte{'G', 'L', 'U', 'E', 'V', 'M', 'M', ' '}

// buildFADT returns the FADT with X_DSDT left zero: Layout fills it in.
func buildFADT(m *Machine) []byte {
	t := newTable("FACP", fadtRevision, fadtSize)
	le := binary.LittleEndian
	var boot uint16
	if m.I8042 {
		boot |= bootLegacyDevices | boot8042
	}
	if !m.VGA {
		boot |= bootNoVGA
	}
	if m.CMOSRTC == nil {
		boot |= bootNoCMOSRTC
	}
	le.PutUint16(t[offFADTBootArch:], boot)
	le.PutUint32(t[offFADTFlags:], fadtHWReduced|fadtPowerButton|fadtSleepButton|fadtResetReg)
	p := m.Power
	putGAS(t[offFADTResetReg:], p.Space, 8, gasAccessByte, p.Base+RegReset)
	t[offFADTResetValue] = ResetValue
	t[offFADTMinor] = fadtMinorRevision
	putGAS(t[offFADTSleepControl:], p.Space, 8, gasAccessByte, p.Base+RegSleepControl)
	putGAS(t[offFADTSleepStatus:], p.Space, 8, gasAccessByte, p.Base+RegSleepStatus)
	copy(t[offFADTHypervisorID:], hypervisorID[:])
	seal(t)
	return t
}
