package integration

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Bad input gets one line naming the flag, and exit status 2.
func TestCLIBadInput(t *testing.T) {
	t.Parallel()
	requireKVM(t) // the limits come from KVM
	dir := t.TempDir()
	garbage := dir + "/garbage"
	os.WriteFile(garbage, []byte("this is not a kernel"), 0o644)
	unreadable := dir + "/unreadable"
	os.WriteFile(unreadable, []byte{0x7f, 'E', 'L', 'F'}, 0o000)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"zero cpus", []string{"run", "-c", "0"}, "--cpus"},
		{"too many cpus", []string{"run", "-c", strconv.Itoa(maxVCPUs(t) + 1)}, "--cpus"},
		{"cpus not a number", []string{"run", "-c", "two"}, "--cpus"},
		{"memory too small", []string{"run", "-m", "1"}, "--mem"},
		{"memory not a size", []string{"run", "-m", "lots"}, "--mem"},
		{"memory larger than the host", []string{"run", "-m", "100000G"}, "--mem"},
		{"missing kernel", []string{"run", "-k", dir + "/nope"}, "--kernel"},
		{"kernel is a directory", []string{"run", "-k", dir}, "--kernel"},
		{"kernel is garbage", []string{"run", "-k", garbage}, "--kernel"},
		{"missing initrd", []string{"run", "--initrd", dir + "/nope"}, "--initrd"},
		{"command line too long", []string{"run", "-p", strings.Repeat("x", 3000)}, "--params"},
		{"bad name", []string{"run", "-n", "no spaces"}, "--name"},
		{"bad boot protocol", []string{"run", "--boot", "bios"}, "--boot"},
		{"unknown flag", []string{"run", "--frobnicate"}, "frobnicate"},
		{"stray argument", []string{"run", "extra"}, "extra"},
		{"unknown subcommand", []string{"frob"}, "frob"},
	}
	if os.Getuid() != 0 {
		tests = append(tests, struct {
			name string
			args []string
			want string
		}{"unreadable kernel", []string{"run", "-k", unreadable}, "--kernel"})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := runGlue(t, nil, tc.args...)
			if res.code != 2 {
				t.Fatalf("exit %d, want 2\nstderr: %s", res.code, res.stderr)
			}
			lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Fatalf("stderr %q: want one line naming %q", res.stderr, tc.want)
			}
			if res.stdout != "" {
				t.Errorf("stdout not empty: %q", res.stdout)
			}
		})
	}
}

// A kernel that does not fit in --mem is a --mem error, found before boot.
func TestCLIKernelTooBigForMemory(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	kernel := testKernel(t)
	res := runGlue(t, nil, "run", "-k", kernel, "-m", "8")
	if res.code != 2 || !strings.Contains(res.stderr, "--mem") {
		t.Fatalf("exit %d, stderr %q: want exit 2 naming --mem", res.code, res.stderr)
	}
}

func TestCLIVersionAndHelp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"-V", []string{"-V"}, []string{"glue ", "go1."}},
		{"--version", []string{"--version"}, []string{"glue "}},
		{"help", []string{"help"}, []string{"run", "Exit status"}},
		{"-h", []string{"-h"}, []string{"--verbose", "--version"}},
		{"run --help", []string{"run", "--help"}, []string{"--cpus", "--mem", "--kernel", "--params", "--name", "--initrd", "--console", "Ctrl-a x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := runGlue(t, nil, tc.args...)
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(res.stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, res.stdout)
				}
			}
		})
	}
}
