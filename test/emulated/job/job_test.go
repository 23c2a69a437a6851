package job

import "testing"

// A path in or under a directory the init mounts over is hidden from the
// machine; one that only shares a prefix of its name is not.
func TestHiddenBy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path, want string // want: the hiding mount's directory, "" for none
	}{
		{"/tmp", "/tmp"},
		{"/tmp/ci/kvm", "/tmp"},
		{"/dev/shm/x", "/dev"},
		{"/run/glue", "/run"},
		{"/work/ci/kvm", ""},
		{"/var/tmp/glue-emulated-1", ""},
		{"/tmpx/kvm", ""},
		{"/", ""},
	} {
		m, hidden := HiddenBy(tc.path)
		if got := map[bool]string{true: m.Dir}[hidden]; got != tc.want {
			t.Errorf("HiddenBy(%q) = %q, %v; want %q", tc.path, m.Dir, hidden, tc.want)
		}
	}
}
