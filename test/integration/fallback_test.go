package integration

import (
	"strings"
	"testing"
)

// glue says so when it does something the user may not have meant, rather
// than falling back silently (issue 12, "no silent fallbacks").

// A --net tap that did not exist is created, and announced: a typo in its
// name would otherwise give the guest a NIC connected to nothing.
func TestCLIAnnouncesCreatedTap(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	ns := newNetns(t)
	ns.tap(t, "tap0", "192.0.2.1/24")
	const announcement = "did not exist, so glue created it"
	tests := []struct {
		name     string
		tap      string
		announce bool
	}{
		{"existing tap", "tap0", false},
		{"missing tap", "tap-typo", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := runBinary(t, "ip", nil, "netns", "exec", string(ns), glueBin, "run", "-m", "64", "--net", "tap="+tc.tap, "-p", "glue.test=cmdline")
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.rawStderr)
			}
			if got := strings.Contains(res.rawStderr, announcement) && strings.Contains(res.rawStderr, tc.tap); got != tc.announce {
				t.Errorf("stderr %q: announcement of a created tap: %v, want %v", res.rawStderr, got, tc.announce)
			}
		})
	}
}

// --console virtio with a kernel command line that names no console warns:
// such a kernel may print nothing at all.
func TestCLIWarnsVirtioConsoleWithoutConsoleParam(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	const warning = "names no console"
	kernel := "../../guest/glue-guest.elf" // a kernel file, so the check applies
	tests := []struct {
		name   string
		params string
		warn   bool
	}{
		{"no console=", "glue.test=cmdline", true},
		{"console=hvc0", "console=hvc0 glue.test=cmdline", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := runGlue(t, nil, "run", "-m", "64", "-k", kernel, "--console", "virtio", "-p", tc.params)
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.rawStderr)
			}
			if got := strings.Contains(res.rawStderr, warning); got != tc.warn {
				t.Errorf("stderr %q: warning: %v, want %v", res.rawStderr, got, tc.warn)
			}
		})
	}
}

// A --console file that stops taking writes (here /dev/full, a device, so
// not probed at start) is reported with the bytes lost, not dropped
// silently; the VM itself is unaffected.
func TestCLIConsoleFileWriteFailureIsReported(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	res := runGlue(t, nil, "run", "-m", "64", "--console", "file=/dev/full", "-p", "glue.test=cmdline")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.rawStderr)
	}
	for _, want := range []string{"writing the guest's output failed", "no space left on device", "guest output not written"} {
		if !strings.Contains(res.rawStderr, want) {
			t.Errorf("stderr %q lacks %q", res.rawStderr, want)
		}
	}
}
