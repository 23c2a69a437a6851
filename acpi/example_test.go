package acpi_test

import (
	"fmt"
	"log"

	"github.com/gluevmm/glue/acpi"
)

// A VMM describes its machine as plain data, builds the tables, lays them
// out in the BIOS scan area and copies the blob into guest RAM; the RSDP's
// address goes into the zero page for Linux.
func Example() {
	m := acpi.Machine{
		CPUs:          []acpi.CPU{{APICID: 0}, {APICID: 1}},
		LocalAPICAddr: 0xfee0_0000,
		IOAPIC:        acpi.IOAPIC{ID: 2, Addr: 0xfec0_0000},
		PCI: &acpi.PCIHostBridge{
			BusEnd:      0,
			ECAMBase:    0xe000_0000,
			ConfigPorts: true,
			Mem32:       acpi.Window{Base: 0xc000_0000, Size: 0x1000_0000},
			Mem64:       acpi.Window{Base: 0x1_0000_0000 + 1<<30, Size: 1 << 36},
			Routes:      []acpi.PCIRoute{{Device: 1, Pin: 0, GSI: 16}},
		},
		Serial:     []acpi.SerialPort{{Port: 0x3f8, IRQ: 4}},
		VirtioMMIO: []acpi.MMIODevice{{Base: 0xd000_0000, Size: 0x1000, IRQ: acpi.Interrupt{GSI: 5}}},
		Power:      acpi.PowerBlock{Space: acpi.SystemMemory, Base: 0xfeb0_0000, GSI: 23},
		I8042:      true,
		CMOSRTC:    true,
	}
	tables, err := acpi.Build(m)
	if err != nil {
		log.Fatal(err)
	}
	img, err := tables.Layout(acpi.ScanAreaStart)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("RSDP at %#x, %d bytes in all\n", img.RSDPAddr, len(img.Blob))
	for _, t := range img.Tables {
		fmt.Printf("%s %#x %d\n", t.Signature, t.Addr, t.Size)
	}
	// Output:
	// RSDP at 0xe0000, 1140 bytes in all
	// RSDP 0xe0000 36
	// XSDT 0xe0028 60
	// FACP 0xe0068 276
	// DSDT 0xe0180 611
	// APIC 0xe03e8 78
	// MCFG 0xe0438 60
}
