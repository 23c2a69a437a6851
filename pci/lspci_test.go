package pci_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gluevmm/glue/pci"
	"github.com/gluevmm/glue/test/hosttest"
)

// TestLspciDecodes hands configuration space, read through ECAM as a guest
// would, to pciutils' own decoder (lspci -F reads an `lspci -x` dump), an
// oracle independent of this package.
func TestLspciDecodes(t *testing.T) {
	t.Parallel()
	lspci := hosttest.LookPath(t, "lspci") // Debian: pciutils
	r := newRig(t)
	r.enable(pci.CommandMemory | pci.CommandBusMaster | pci.CommandINTxDisable)
	r.write(devSlot, 0x3c, 1, 11)
	r.write(devSlot, r.msixCapOffset(t)+2, 2, ctrlEnable|ctrlMask)

	var dump strings.Builder
	ecam := r.root.ECAM()
	for _, s := range []pci.Slot{{}, devSlot} {
		fmt.Fprintf(&dump, "%v Device\n", s)
		for line := 0; line < 0x100; line += 16 {
			fmt.Fprintf(&dump, "%02x:", line)
			for i := range 16 {
				b := make([]byte, 1)
				ecam.Read(uint64(s.Device)<<15|uint64(line+i), b)
				fmt.Fprintf(&dump, " %02x", b[0])
			}
			dump.WriteString("\n")
		}
		dump.WriteString("\n")
	}
	file := filepath.Join(t.TempDir(), "dump")
	must(t, os.WriteFile(file, []byte(dump.String()), 0o644))
	out, err := exec.Command(lspci, "-F", file, "-vvv", "-nn").CombinedOutput()
	if err != nil {
		t.Fatalf("lspci: %v\n%s", err, out)
	}
	for _, want := range []string{
		"00:00.0 Host bridge [0600]: Red Hat, Inc.",
		"[1b36:0008]",
		"00:01.0 SCSI storage controller [0100]: Red Hat, Inc.",
		"[1af4:1042] (rev 01)",
		"Subsystem: Red Hat, Inc. Device [1af4:0002]",
		"Control: I/O- Mem+ BusMaster+ ",
		"DisINTx+",
		"Status: Cap+ ",
		"Interrupt: pin A routed to IRQ 11",
		"Region 0: Memory at c0000000 (32-bit, non-prefetchable)",
		"Region 2: Memory at 10000000000 (64-bit, prefetchable)",
		"Capabilities: [40] Vendor Specific Information: Len=06",
		"Capabilities: [48] MSI-X: Enable+ Count=3 Masked+",
		"Vector table: BAR=2 offset=00002000",
		"PBA: BAR=2 offset=00003000",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("lspci output lacks %q:\n%s", want, out)
		}
	}
}
