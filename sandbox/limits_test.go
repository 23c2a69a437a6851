package sandbox

import (
	"testing"

	"golang.org/x/sys/unix"
)

// RLIMIT_NPROC binds everyone but the initial user namespace's root and
// holders of CAP_SYS_RESOURCE or CAP_SYS_ADMIN there (kernel/fork.c).
func TestNprocApplies(t *testing.T) {
	t.Parallel()
	const initial = "         0          0 4294967295\n"
	const nested = "         0     100000      65536\n"
	const resource, admin = uint64(1) << unix.CAP_SYS_RESOURCE, uint64(1) << unix.CAP_SYS_ADMIN
	for _, tt := range []struct {
		name      string
		uid       int
		effective uint64
		uidMap    string
		want      bool
	}{
		{"root", 0, ^uint64(0), initial, false},
		{"root without capabilities", 0, 0, initial, false},
		{"user", 1000, 0, initial, true},
		{"user with CAP_SYS_RESOURCE", 1000, resource, initial, false},
		{"user with CAP_SYS_ADMIN", 1000, admin, initial, false},
		{"user with other capabilities", 1000, ^(resource | admin), initial, true},
		{"root of a user namespace", 0, ^uint64(0), nested, true},
		{"unreadable map", 0, ^uint64(0), "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := nprocApplies(tt.uid, tt.effective, []byte(tt.uidMap)); got != tt.want {
				t.Errorf("nprocApplies(%d, %#x, %q) = %v, want %v", tt.uid, tt.effective, tt.uidMap, got, tt.want)
			}
		})
	}
}
