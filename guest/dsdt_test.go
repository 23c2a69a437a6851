package guest_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gluevmm/glue/acpi"
	"github.com/gluevmm/glue/test/hosttest"
)

// The guest reads the DSDT with a pattern reader of its own (src/aml.c,
// src/acpi_dev.c). These tests build that C code for the host with the
// address and undefined-behaviour sanitizers (testdata/dsdtcheck.c feeds
// it a DSDT body from stdin, in a buffer exactly that long) and check what
// it finds in glue's DSDT and in QEMU microvm's, and that no input makes it
// read out of bounds.

var (
	checkerOnce sync.Once
	checkerPath string
	checkerErr  error
)

// dsdtChecker builds testdata/dsdtcheck.c once per test binary.
func dsdtChecker(t testing.TB) string {
	t.Helper()
	gcc := hosttest.LookPath(t, "gcc")
	checkerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dsdtcheck")
		if err != nil {
			checkerErr = err
			return
		}
		checkerPath = filepath.Join(dir, "dsdtcheck")
		out, err := exec.Command(gcc, "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O1", "-g",
			"-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-Isrc", "-o", checkerPath,
			"testdata/dsdtcheck.c", "src/aml.c", "src/acpi_dev.c").CombinedOutput()
		if err != nil {
			checkerErr = &buildError{err, string(out)}
		}
	})
	if checkerErr != nil {
		t.Fatalf("build the DSDT checker: %v", checkerErr)
	}
	return checkerPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

// readDSDT runs the checker on an AML body and returns its lines; a
// sanitizer report (or any other failure) fails the test.
func readDSDT(t testing.TB, body []byte) []string {
	t.Helper()
	cmd := exec.Command(dsdtChecker(t))
	cmd.Stdin = bytes.NewReader(body)
	cmd.Env = append(os.Environ(), "ASAN_OPTIONS=detect_leaks=0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the guest's DSDT reader failed on %d bytes: %v\n%s", len(body), err, stderr.String())
	}
	return strings.Split(strings.TrimSpace(stdout.String()), "\n")
}

func wantLines(t *testing.T, got, want []string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("the guest's DSDT reader did not find %q; it found:\n%s", w, strings.Join(got, "\n"))
		}
	}
}

// glueDSDT is the AML body of the DSDT glue's acpi package builds for a
// machine like glue's own: two PCI routes, two virtio-mmio transports.
func glueDSDT(t testing.TB) []byte {
	t.Helper()
	tables, err := acpi.Build(acpi.Machine{
		CPUs:          []acpi.CPU{{APICID: 0}},
		LocalAPICAddr: 0xfee0_0000,
		IOAPIC:        acpi.IOAPIC{ID: 1, Addr: 0xfec0_0000},
		PCI: &acpi.PCIHostBridge{
			ECAMBase:    0xe000_0000,
			ConfigPorts: true,
			Mem32:       acpi.Window{Base: 0xc000_0000, Size: 0x1000_0000},
			Mem64:       acpi.Window{Base: 0x10_0000_0000, Size: 1 << 36},
			Routes:      []acpi.PCIRoute{{Device: 1, Pin: 0, GSI: 16}, {Device: 2, Pin: 1, GSI: 18}},
		},
		Serial: []acpi.SerialPort{{Port: 0x3f8, IRQ: 4}},
		VirtioMMIO: []acpi.MMIODevice{
			{Base: 0xd000_0000, Size: 0x1000, IRQ: acpi.Interrupt{GSI: 5}},
			{Base: 0xd000_1000, Size: 0x1000, IRQ: acpi.Interrupt{GSI: 6, Level: true}},
		},
		Power: acpi.PowerBlock{Space: acpi.SystemIO, Base: 0x600, GSI: 9},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tables.DSDT[acpi.HeaderSize:]
}

func qemuDSDT(t testing.TB) []byte {
	t.Helper()
	dsdt, err := os.ReadFile("testdata/qemu-microvm-dsdt.aml")
	if err != nil {
		t.Fatal(err)
	}
	return dsdt[acpi.HeaderSize:]
}

// glue's DSDT: the 32-bit window first, each _PRT entry a GSI (level,
// active low), no other slot routed, both LNRO0005 devices; no _CBA (glue
// has an MCFG).
func TestDSDTPatternsGlue(t *testing.T) {
	t.Parallel()
	got := readDSDT(t, glueDSDT(t))
	wantLines(t, got, []string{
		"window 0xc0000000 0x10000000", "window 0x1000000000 0x1000000000",
		"route 1 0 16 1 1", "route 2 1 18 1 1",
		"mmio 0xd0000000 0x1000 5", "mmio 0xd0001000 0x1000 6",
	})
	if got[0] != "window 0xc0000000 0x10000000" {
		t.Errorf("first line %q: the window below 4 GiB must come first", got[0])
	}
	for _, l := range got {
		if strings.HasPrefix(l, "cba ") || (strings.HasPrefix(l, "route ") && !slices.Contains([]string{"route 1 0 16 1 1", "route 2 1 18 1 1"}, l)) {
			t.Errorf("unexpected %q", l)
		}
	}
}

// QEMU 7.2's microvm (pcie=on, acpi=on, one virtio-mmio device): ECAM in
// _CBA, routes through the link devices GSI0-GSI3 (level, active high,
// GSIs 16-19 swizzled by slot), the one transport in use.
func TestDSDTPatternsQEMU(t *testing.T) {
	t.Parallel()
	got := readDSDT(t, qemuDSDT(t))
	wantLines(t, got, []string{
		"cba 0xe0000000", "window 0xc0000000 0x20000000",
		"route 0 0 16 1 0", "route 1 0 17 1 0", "route 1 3 16 1 0", "route 31 3 18 1 0",
		"mmio 0xfeb02e00 0x200 47",
	})
}

// FuzzDSDTPatterns: whatever the VMM puts in its DSDT, the guest's reader
// stays inside it (the sanitizers abort the checker otherwise).
func FuzzDSDTPatterns(f *testing.F) {
	for _, body := range [][]byte{glueDSDT(f), qemuDSDT(f)} {
		f.Add(body)
		f.Add(body[:len(body)/2])
		f.Add(body[:len(body)-1])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		readDSDT(t, body)
	})
}
