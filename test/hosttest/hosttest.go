// Package hosttest holds the one way a glue test may skip because the host
// lacks something: KVM, hardware virtualization, root, a tool, a network
// namespace, a Linux kernel package.
//
// Such a test calls Skip (or LookPath, Root, Kernel, which call it) with a
// Reason. Where GLUE_REQUIRE_KVM=1 (as in CI) the skip fails the test
// instead, unless GLUE_ALLOW_SKIP, a comma-separated list of reason keys,
// names its reason: a broken host cannot pass for a green run, and every
// skip CI accepts is written down by name.
package hosttest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	// RequireEnv set to "1" turns every skip into a failure...
	RequireEnv = "GLUE_REQUIRE_KVM"
	// ...except those whose reason key AllowEnv lists (comma-separated).
	AllowEnv = "GLUE_ALLOW_SKIP"
	// KernelEnv names the Linux bzImage the Linux tests boot, inside an
	// unpacked Debian linux-image package (its modules and config beside it).
	KernelEnv = "GLUE_TEST_KERNEL"
)

// Reason is the key of why a test skips, as GLUE_ALLOW_SKIP names it.
type Reason string

// The reasons a test may skip. Tools have one key each: Tool("ping").
const (
	ReasonKVM         Reason = "kvm"          // /dev/kvm cannot be opened, or lacks what the test needs
	ReasonHardwareKVM Reason = "hardware-kvm" // /dev/kvm is PVM: no VMX/SVM, so stock kernels stop in early boot
	ReasonKernel      Reason = "kernel"       // no GLUE_TEST_KERNEL, or its package lacks a part the test needs
	// The kernel lacks a build option the test needs (Debian's has no
	// CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES).
	ReasonKernelConfig Reason = "kernel-config"
	ReasonRoot         Reason = "root"       // the test needs uid 0
	ReasonNetns        Reason = "netns"      // no tun device, or no new network namespace
	ReasonRegenerate   Reason = "regenerate" // a generator of committed test data, run only on request
	ReasonLeftOut      Reason = "left-out"   // the build's tags leave out a component the test needs
	// Inside package emulated's machine (InEmulatedMachine), a tier-4 test:
	// package nested runs its scenarios in the same kind of machine.
	ReasonTier4Nested Reason = "tier4-nested"
)

// ReasonTool is the reason for a missing program: "tool:NAME".
func ReasonTool(name string) Reason { return Reason("tool:" + name) }

// Required reports whether skips fail (GLUE_REQUIRE_KVM=1; only "1" counts,
// so a typo cannot silently require everything).
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Allowed reports whether GLUE_ALLOW_SKIP names r.
func Allowed(r Reason) bool {
	return slices.Contains(strings.Split(os.Getenv(AllowEnv), ","), string(r))
}

// Skip skips t, saying why and under which reason; where skips are
// Required and r is not Allowed it fails t instead.
func Skip(t testing.TB, r Reason, why string) {
	t.Helper()
	if Required() && !Allowed(r) {
		t.Fatalf("%s [skip reason %q: %s=1 forbids it; %s=%s would allow it]", why, r, RequireEnv, AllowEnv, r)
	}
	t.Skipf("%s [skip reason %q]", why, r)
}

// LookPath returns the path of the program name, looked up in PATH and
// then in /usr/sbin and /sbin (often missing from a user's PATH), or skips
// t with the reason ReasonTool(name).
func LookPath(t testing.TB, name string) string {
	t.Helper()
	path, err := lookPath(name)
	if err != nil {
		Skip(t, ReasonTool(name), err.Error())
	}
	return path
}

// LookPathOptional is LookPath for a program a test or benchmark can do
// without (a side-by-side with QEMU): where it is missing it logs so and
// returns false, and where skips are Required it fails t unless the
// reason ReasonTool(name) is Allowed, as a skip would.
func LookPathOptional(t testing.TB, name string) (string, bool) {
	t.Helper()
	path, err := lookPath(name)
	if err == nil {
		return path, true
	}
	r := ReasonTool(name)
	if Required() && !Allowed(r) {
		t.Fatalf("%v [missing tool %q: %s=1 forbids leaving out what needs it; %s=%s would allow it]", err, name, RequireEnv, AllowEnv, r)
	}
	t.Logf("%v: what needs it is left out [skip reason %q]", err, r)
	return "", false
}

func lookPath(name string) (string, error) {
	path, err := exec.LookPath(name)
	if err == nil || !errors.Is(err, exec.ErrNotFound) {
		return path, err
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p, err2 := exec.LookPath(filepath.Join(dir, name)); err2 == nil {
			return p, nil
		}
	}
	return "", err
}

// Root skips t unless the test runs as uid 0.
func Root(t testing.TB, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, ReasonRoot, "needs root: "+what)
	}
}

// Kernel returns the path in GLUE_TEST_KERNEL, failing t if it names no
// file, or skips t with ReasonKernel where it is unset.
func Kernel(t testing.TB) string {
	t.Helper()
	path := os.Getenv(KernelEnv)
	if path == "" {
		Skip(t, ReasonKernel, KernelEnv+" is not set (the path of a bzImage in an unpacked linux-image package; .ci/run downloads Debian's)")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s: %v", KernelEnv, err)
	}
	return path
}
