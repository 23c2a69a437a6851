package hosttest

import (
	"os"
	"strconv"
	"time"
)

// SlowdownEnv, set to an integer N > 1, says the tests run on a machine
// about N times slower than the hosts their time bounds were chosen for:
// package emulated's machines, whose one CPU QEMU's TCG emulates. Unset,
// or anything else, means 1.
const SlowdownEnv = "GLUE_TEST_SLOWDOWN"

// EmulatedEnv set to "1" says the tests run inside one of package
// emulated's machines (which sets it), where a test that boots a stock
// Linux to its userspace would take many minutes of TCG: tier 4 runs
// there as package nested, whose scenarios are the same.
const EmulatedEnv = "GLUE_TEST_EMULATED"

// InEmulatedMachine reports whether EmulatedEnv is "1".
func InEmulatedMachine() bool { return os.Getenv(EmulatedEnv) == "1" }

// Timeout returns d scaled by SlowdownEnv: a bound on how long something
// may take, not a figure a test compares against (tests assert no timing).
func Timeout(d time.Duration) time.Duration {
	n, err := strconv.Atoi(os.Getenv(SlowdownEnv))
	if err != nil || n < 1 {
		return d
	}
	return d * time.Duration(n)
}
