package integration

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/control"
)

// glue stop presses the ACPI power button: the own guest sees the GED's
// interrupt and event, enters S5 through the FADT's sleep control register,
// and glue ends with status 0 as "guest powered off", not stopped by force.
func TestPowerButtonPowersOff(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	s := startGlue(t, "-v", "--runtime-dir", dir, "run", "-n", "pwr", "-m", "64", "-p", "glue.test=acpi glue.end=poweroff")
	s.waitFor("GLUE-READY power", time.Minute)
	glueIn(t, dir, "stop", "-n", "pwr", "--timeout", "1m")
	if code := s.wait(time.Minute); code != 0 {
		t.Fatalf("exit %d after stop, want 0:\n%s", code, s.output())
	}
	out := s.output()
	if power := markers(t, out)["power"]; !strings.HasPrefix(power, "via=ged") || field(power, "event") != "0x1" {
		t.Errorf("power: %q, want the GED's power button event", power)
	}
	if !strings.Contains(out, `reason="guest powered off"`) {
		t.Errorf("glue did not end as powered off by the guest:\n%s", out)
	}
}

// A guest that enters S5 on its own ends glue with status 0, as powered off.
func TestPowerGuestEntersS5(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	res := runGlue(t, nil, "-v", "run", "-m", "64", "-p", "glue.test=acpi glue.end=s5")
	if res.code != 0 || !strings.Contains(res.stderr, `reason="guest powered off"`) {
		t.Fatalf("exit %d, want 0 and a guest power-off: %s", res.code, res.stderr)
	}
}

// While the guest has its --timeout to power off, glue list shows the VM
// stopping; a guest that ignores the button is stopped when a stop with
// --timeout 0 comes (or the timeout ends), with status 0.
func TestPowerStopWaitsInStopping(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	dir := vmDir(t)
	s := startGlue(t, "-v", "--runtime-dir", dir, "run", "-n", "deaf", "-m", "64", "-p", "glue.test=counter")
	s.waitFor("GLUE-COUNT 1\n", time.Minute)
	graceful := exec.Command(glueBin, "--runtime-dir", dir, "stop", "-n", "deaf", "--timeout", "10m")
	if err := graceful.Start(); err != nil {
		t.Fatal(err)
	}
	// Running until the first stop's request arrives, then stopping.
	for deadline := time.Now().Add(time.Minute); listJSON(t, dir)["deaf"].State != control.StateStopping; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("deaf is %q, want %q", listJSON(t, dir)["deaf"].State, control.StateStopping)
		}
	}
	glueIn(t, dir, "stop", "-n", "deaf", "--timeout", "0")
	if code := s.wait(time.Minute); code != 0 {
		t.Fatalf("exit %d, want 0", code)
	}
	if err := graceful.Wait(); err != nil {
		t.Errorf("the first glue stop: %v", err)
	}
	if out := s.output(); !strings.Contains(out, "power button pressed") || !strings.Contains(out, `reason=stopped`) {
		t.Errorf("want a button press, then a forced stop:\n%s", out)
	}
}
