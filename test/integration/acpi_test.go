package integration

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// acpiTableLine is Linux's early line for each ACPI table it found, e.g.
// "ACPI: MCFG 0x00000000000E09F8 00003C (v01 GLUE ...".
var acpiTableLine = regexp.MustCompile(`ACPI: (RSDP|XSDT|FACP|DSDT|APIC|MCFG) 0x([0-9A-F]+) ([0-9A-F]+) \(v\d+ GLUE`)

// Debian's stock kernel finds glue's ACPI tables, lists every one, takes
// its CPUs from the MADT (not from the MP table, which is there too) and
// counts exactly --cpus of them, and sees the ECAM range reserved in e820.
// It would find the RSDP without the zero page's acpi_rsdp_addr too, by
// scanning 0xe0000-0xfffff, where glue puts the tables: that field is
// checked by x86's boot-information tests, not here.
func TestBasicLinuxACPITables(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	kernel := testKernel(t)
	const cpus = 3
	params := "console=ttyS0 earlyprintk=serial,ttyS0,115200 reboot=k panic=1"
	s := startGlue(t, "run", "-k", kernel, "-m", "300", "-c", strconv.Itoa(cpus), "--rng", "-p", params)

	s.waitFor("ACPI: Using ACPI (MADT) for SMP configuration information", linuxMarkerTimeout)
	out := s.waitFor(fmt.Sprintf("smpboot: Allowing %d CPUs", cpus), linuxMarkerTimeout)

	found := map[string]bool{}
	for _, m := range acpiTableLine.FindAllStringSubmatch(out, -1) {
		found[m[1]] = true
	}
	for _, sig := range []string{"RSDP", "XSDT", "FACP", "DSDT", "APIC", "MCFG"} {
		if !found[sig] {
			t.Errorf("Linux printed no %q table line", "ACPI: "+sig)
		}
	}
	if !strings.Contains(out, "BIOS-e820: [mem 0x00000000e0000000-0x00000000e00fffff] reserved") {
		t.Error("e820 does not reserve the ECAM range 0xe0000000-0xe00fffff")
	}
	// With ACPI, a virtio-mmio device would be in the DSDT only; this one
	// is on PCI, so the command line has nothing of glue's.
	if cmdline := regexp.MustCompile(`Command line: (.*)`).FindStringSubmatch(out); cmdline == nil ||
		strings.TrimRight(cmdline[1], "\r") != params {
		t.Errorf("Linux saw command line %q, want %q", cmdline, params)
	}
}

// With --acpi=off Linux finds no RSDP and uses the MP table, and the
// virtio-mmio devices are announced on the command line instead; with ACPI
// they are not (the DSDT has them).
func TestBasicLinuxACPIOff(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	kernel := testKernel(t)
	params := "console=ttyS0 earlyprintk=serial,ttyS0,115200 reboot=k panic=1"
	tests := []struct {
		name        string
		acpi        string
		wantMMIO    bool   // virtio_mmio.device= on the command line
		wantSMPFrom string // Linux's line naming where it found the CPUs
	}{
		{"off", "off", true, "Intel MultiProcessor Specification"},
		{"on", "on", false, "ACPI: Using ACPI (MADT) for SMP configuration information"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startGlue(t, "run", "-k", kernel, "-m", "256", "-c", "2", "--acpi", tc.acpi,
				"--rng=transport=mmio", "-p", params)
			s.waitFor(tc.wantSMPFrom, linuxMarkerTimeout)
			out := s.waitFor("smpboot: Allowing 2 CPUs", linuxMarkerTimeout)
			cmdline := regexp.MustCompile(`Command line: (.*)`).FindStringSubmatch(out)
			if cmdline == nil {
				t.Fatal("no command line in Linux's output")
			}
			if got := strings.Contains(cmdline[1], "virtio_mmio.device=4K@0xd0000000:5"); got != tc.wantMMIO {
				t.Errorf("command line %q: virtio_mmio.device= present %v, want %v", cmdline[1], got, tc.wantMMIO)
			}
			if got, want := strings.Contains(out, "ACPI: RSDP"), tc.acpi == "on"; got != want {
				t.Errorf("ACPI: RSDP printed %v with --acpi=%s", got, tc.acpi)
			}
		})
	}
}
