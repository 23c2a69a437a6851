package vmm

import (
	"fmt"

	"github.com/gluevmm/glue/acpi"
	"github.com/gluevmm/glue/guestmem"
	"github.com/gluevmm/glue/x86"
)

// The device manager's ACPI side: the power device on the port bus (the
// guest's power-off and reset, the host's power button) and the tables
// that describe the machine, built from what the device manager placed.

// addPowerDevice puts the ACPI power register block at x86.ACPIPowerPort:
// a guest entering S5 ends the VM as powered off, a write to the reset
// register as reset, and PressPowerButton pulses the GED's GSI.
func (dm *deviceManager) addPowerDevice() error {
	dm.power = acpi.NewPower(acpi.PowerActions{
		Interrupt: dm.pulsePowerButtonLine,
		PowerOff:  dm.requestPowerOff,
		Reset:     dm.requestReset,
	})
	return dm.pio.Insert(x86.ACPIPowerPort, acpi.PowerBlockSize, dm.power)
}

// pulsePowerButtonLine raises and lowers the GED's edge-triggered line.
func (dm *deviceManager) pulsePowerButtonLine() {
	line := dm.irqLine(x86.PowerButtonGSI)
	line.SetLevel(true)
	line.SetLevel(false)
}

// requestPowerOff is the guest entering S5; idempotent like requestReset.
func (dm *deviceManager) requestPowerOff() {
	dm.powerOffOnce.Do(func() { close(dm.powerOff) })
}

// acpiMachine describes the machine for the ACPI tables: the vCPUs and the
// interrupt controllers as the MP table has them (vCPU n is APIC ID n, the
// IOAPIC the next ID, ISA IRQ n on pin n, so no overrides), the PCI host
// bridge, COM1, the virtio-mmio devices and the power device.
func (dm *deviceManager) acpiMachine(cpus int) acpi.Machine {
	m := acpi.Machine{
		LocalAPICAddr: uint32(x86.LAPICAddr),
		IOAPIC:        acpi.IOAPIC{ID: uint8(cpus), Addr: uint32(x86.IOAPICAddr)},
		DualPIC:       true,
		PCI:           dm.pci.describe(),
		Serial:        []acpi.SerialPort{{Port: x86.COM1Port, IRQ: x86.IRQCOM1}},
		VirtioMMIO:    dm.mmioDevices,
		Power:         acpi.PowerBlock{Space: acpi.SystemIO, Base: x86.ACPIPowerPort, GSI: x86.PowerButtonGSI},
		I8042:         true,
		CMOSRTC:       &acpi.CMOSRTC{Port: x86.RTCIndex},
	}
	for id := range cpus {
		m.CPUs = append(m.CPUs, acpi.CPU{APICID: uint32(id)})
	}
	return m
}

// buildACPI lays the tables for m out at x86.ACPITablesAddr.
func buildACPI(m acpi.Machine) (*acpi.Image, error) {
	tables, err := acpi.Build(m)
	if err != nil {
		return nil, fmt.Errorf("vmm: %w", err)
	}
	if n := tables.Size(); n > x86.ACPITablesSize {
		return nil, fmt.Errorf("vmm: ACPI tables are %d bytes, %d fit", n, x86.ACPITablesSize)
	}
	return tables.Layout(uint64(x86.ACPITablesAddr))
}

// bootDescription is what the guest's boot information says about the
// devices: command-line entries, where the RSDP is (0: no ACPI) and the
// address ranges e820 reports reserved.
type bootDescription struct {
	params   []string
	rsdp     guestmem.Addr
	reserved []guestmem.Span
}

// writeACPITables is the "write ACPI tables" step: unless cfg turns ACPI
// off, the tables describing dm's devices go into guest memory, and the
// boot information points at them; virtio-mmio devices are then on the
// command line only without ACPI (Linux would otherwise find them twice).
func writeACPITables(mem *guestmem.Memory, dm *deviceManager, cfg *Config) (bootDescription, error) {
	desc := bootDescription{reserved: []guestmem.Span{{Base: x86.ECAMBase, Size: x86.ECAMSize}}}
	if cfg.NoACPI {
		desc.params = dm.mmioParams
		return desc, nil
	}
	img, err := buildACPI(dm.acpiMachine(cfg.CPUs))
	if err != nil {
		return bootDescription{}, err
	}
	if err := mem.WriteAt(img.Blob, guestmem.Addr(img.Base)); err != nil {
		return bootDescription{}, fmt.Errorf("vmm: write ACPI tables: %w", err)
	}
	desc.rsdp = guestmem.Addr(img.RSDPAddr)
	return desc, nil
}
