package control

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gluevmm/glue/test/hosttest"
)

func TestRuntimeDirSelection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		override string
		env      map[string]string
		euid     int
		want     string
	}{
		{"flag wins", "/srv/vms", map[string]string{EnvRuntimeDir: "/env", "XDG_RUNTIME_DIR": "/run/user/1000"}, 1000, "/srv/vms"},
		{"env over default", "", map[string]string{EnvRuntimeDir: "/env", "XDG_RUNTIME_DIR": "/run/user/1000"}, 1000, "/env"},
		{"env for root too", "", map[string]string{EnvRuntimeDir: "/env"}, 0, "/env"},
		{"root", "", map[string]string{"XDG_RUNTIME_DIR": "/run/user/0"}, 0, "/run/glue"},
		{"user", "", map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000"}, 1000, "/run/user/1000/glue"},
		{"user without XDG", "", nil, 1000, "/tmp/glue-1000"},
		{"relative made absolute", "", map[string]string{EnvRuntimeDir: "rel/dir"}, 1000, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := runtimeDir(tc.override, func(k string) string { return tc.env[k] }, tc.euid, "/tmp")
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if !filepath.IsAbs(got) || !strings.HasSuffix(got, "/rel/dir") {
					t.Fatalf("got %q, want an absolute path ending rel/dir", got)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestEnsureDir(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) // prepares dir (not yet there)
		err   string                         // "" means accepted
	}{
		{"created", func(*testing.T, string) {}, ""},
		{"existing 0700", func(t *testing.T, dir string) { mkdir(t, dir, 0o700) }, ""},
		{"group readable", func(t *testing.T, dir string) { mkdir(t, dir, 0o750) }, "mode 0750, want 0700"},
		{"world writable", func(t *testing.T, dir string) { mkdir(t, dir, 0o777) }, "mode 0777, want 0700"},
		{"owner without write", func(t *testing.T, dir string) { mkdir(t, dir, 0o500) }, "mode 0500, want 0700"},
		{"symlink to a good dir", func(t *testing.T, dir string) {
			real := dir + ".real"
			mkdir(t, real, 0o700)
			if err := os.Symlink(real, dir); err != nil {
				t.Fatal(err)
			}
		}, "is a symbolic link"},
		{"dangling symlink", func(t *testing.T, dir string) {
			if err := os.Symlink(dir+".nowhere", dir); err != nil {
				t.Fatal(err)
			}
		}, "is a symbolic link"},
		{"a file", func(t *testing.T, dir string) {
			if err := os.WriteFile(dir, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "not a directory"},
		{"missing parent", func(t *testing.T, dir string) {}, "no such file"},
		{"another owner", func(t *testing.T, dir string) {
			hosttest.Root(t, "chown to another owner")
			mkdir(t, dir, 0o700)
			if err := os.Chown(dir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}, "owned by uid 65534"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "run")
			if tc.name == "missing parent" {
				dir = filepath.Join(t.TempDir(), "no", "run")
			}
			tc.setup(t, dir)
			err := EnsureDir(dir)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				st, err := os.Lstat(dir)
				if err != nil || !st.IsDir() || st.Mode().Perm() != 0o700 {
					t.Fatalf("dir %v, %v; want a 0700 directory", st, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), "control: ") {
				t.Fatalf("EnsureDir: %v, want an error containing %q", err, tc.err)
			}
			// Listen refuses it too, and so do the clients.
			if _, err := Listen(dir, "x"); err == nil {
				t.Fatal("Listen accepted it")
			}
			// Clients are less strict (root may look into any user's
			// directory, and 0500 is still private), but not about
			// links, files or directories others can use.
			switch tc.name {
			case "group readable", "world writable", "symlink to a good dir", "a file":
				if _, err := List(t.Context(), dir); err == nil {
					t.Fatal("List accepted it")
				}
				if _, err := Dial(dir, "x"); err == nil {
					t.Fatal("Dial accepted it")
				}
			}
		})
	}
}

func mkdir(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

func TestSocketPathTooLong(t *testing.T) {
	t.Parallel()
	// t.TempDir's path grows with the test's name and TMPDIR; /tmp keeps
	// it short enough to pad up to the limit.
	base, err := os.MkdirTemp("/tmp", "glue-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	// A directory whose socket path is 108 bytes long: one over.
	name := "vm"
	pad := 108 - len(base) - len("/") - len("/"+name+".sock")
	dir := filepath.Join(base, strings.Repeat("d", pad))
	for _, f := range []struct {
		what string
		err  func() error
	}{
		{"Listen", func() error { _, err := Listen(dir, name); return err }},
		{"Dial", func() error { _, err := Dial(dir, name); return err }},
	} {
		err := f.err()
		if err == nil || !strings.Contains(err.Error(), "is 108 bytes; a Unix socket path holds at most 107") {
			t.Errorf("%s: %v, want the socket path length error", f.what, err)
		}
	}
	// One byte shorter fits.
	dir = filepath.Join(base, strings.Repeat("d", pad-1))
	s, err := Listen(dir, name)
	if err != nil {
		t.Fatalf("107-byte socket path: %v", err)
	}
	if len(s.SocketPath()) != 107 {
		t.Fatalf("socket path is %d bytes", len(s.SocketPath()))
	}
	s.Close()
}
