package acpi

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gluevmm/glue/acpi/aml"
	"github.com/gluevmm/glue/acpi/internal/iasltest"
	"github.com/gluevmm/glue/test/hosttest"
)

// TestACPIExecPowerButton runs the DSDT in ACPICA's own interpreter
// (acpiexec, from the same acpica-tools as iasl), with a test SSDT whose
// methods set the GED's event register as the power device would and then
// run _EVT as Linux's GED driver does: a pending power button event must
// notify PWRB with 0x80, no event must notify nothing.
func TestACPIExecPowerButton(t *testing.T) {
	t.Parallel()
	iasltest.Path(t)
	acpiexec := hosttest.LookPath(t, "acpiexec") // Debian: acpica-tools, as iasl
	m := testMachine(2)
	tables, err := Build(m)
	if err != nil {
		t.Fatal(err)
	}
	gsi := aml.Int(uint64(m.Power.GSI))
	body, err := aml.Encode(
		aml.Method("PRES", 0, false,
			aml.Store(aml.Int(EventPowerButton), aml.Path(`\_SB.GED0.ESEL`)),
			aml.Path(`\_SB.GED0._EVT`), gsi), // a method invocation: name, then its argument
		aml.Method("NONE", 0, false,
			aml.Store(aml.Int(0), aml.Path(`\_SB.GED0.ESEL`)),
			aml.Path(`\_SB.GED0._EVT`), gsi),
	)
	if err != nil {
		t.Fatal(err)
	}
	ssdt := newTable("SSDT", dsdtRevision, HeaderSize+len(body))
	copy(ssdt[HeaderSize:], body)
	seal(ssdt)

	dir := t.TempDir()
	for name, b := range map[string][]byte{"dsdt.dat": tables.DSDT, "ssdt.dat": ssdt} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(method string) string {
		t.Helper()
		cmd := exec.Command(acpiexec, "-b", `evaluate \`+method, "dsdt.dat", "ssdt.dat")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("acpiexec %s: %v\n%s", method, err, out)
		}
		if strings.Contains(string(out), "AE_") {
			t.Errorf("acpiexec %s reports an exception:\n%s", method, out)
		}
		return string(out)
	}
	if out := run("PRES"); !strings.Contains(out, "Notify on [PWRB]") || !strings.Contains(out, "Value 0x80") {
		t.Errorf("a power button event did not notify PWRB with 0x80:\n%s", out)
	}
	if out := run("NONE"); strings.Contains(out, "Notify") {
		t.Errorf("no event, yet a notification:\n%s", out)
	}
}
