package integration

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
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

// Bad input gets one line naming the flag (and, where given, why), and
// exit status 2.
func TestCLIBadInput(t *testing.T) {
	t.Parallel()
	requireKVM(t) // the limits come from KVM
	dir := t.TempDir()
	garbage := dir + "/garbage"
	os.WriteFile(garbage, []byte("this is not a kernel"), 0o644)
	// A FIFO with no writer: opening it to read would block forever, so
	// glue must refuse it from its type, before any open.
	fifo := dir + "/fifo"
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		want   string // the flag the line names
		reason string // and, if not empty, what it says
	}{
		{"zero cpus", []string{"run", "-c", "0"}, "--cpus", ""},
		{"too many cpus", []string{"run", "-c", strconv.Itoa(maxVCPUs(t) + 1)}, "--cpus", ""},
		{"cpus not a number", []string{"run", "-c", "two"}, "--cpus", ""},
		{"memory too small", []string{"run", "-m", "1"}, "--mem", ""},
		{"memory not a size", []string{"run", "-m", "lots"}, "--mem", ""},
		{"memory larger than the host", []string{"run", "-m", "100000G"}, "--mem", ""},
		{"missing kernel", []string{"run", "-k", dir + "/nope"}, "--kernel", "no such file"},
		{"kernel is a directory", []string{"run", "-k", dir}, "--kernel", "directory"},
		{"kernel is a FIFO", []string{"run", "-k", fifo}, "--kernel", "not a regular file"},
		{"kernel is garbage", []string{"run", "-k", garbage}, "--kernel", ""},
		{"missing initrd", []string{"run", "--initrd", dir + "/nope"}, "--initrd", "no such file"},
		{"initrd is a FIFO", []string{"run", "--initrd", fifo}, "--initrd", "not a regular file"},
		{"command line too long", []string{"run", "-p", strings.Repeat("x", 3000)}, "--params", ""},
		{"bad name", []string{"run", "-n", "no spaces"}, "--name", ""},
		{"bad boot protocol", []string{"run", "--boot", "bios"}, "--boot", ""},
		{"unknown flag", []string{"run", "--frobnicate"}, "frobnicate", ""},
		{"stray argument", []string{"run", "extra"}, "extra", ""},
		{"unknown subcommand", []string{"frob"}, "frob", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkBadInput(t, runGlue(t, nil, tc.args...), tc.want, tc.reason)
		})
	}
	t.Run("unreadable kernel", func(t *testing.T) {
		t.Parallel()
		unreadable := dir + "/unreadable"
		if err := os.WriteFile(unreadable, []byte{0x7f, 'E', 'L', 'F'}, 0o000); err != nil {
			t.Fatal(err)
		}
		checkBadInput(t, runWithoutFileAccessOverride(t, "run", "-k", unreadable), "--kernel", "permission denied")
	})
}

func checkBadInput(t *testing.T, res result, flag, reason string) {
	t.Helper()
	if res.code != 2 {
		t.Fatalf("exit %d, want 2\nstderr: %s", res.code, res.stderr)
	}
	lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], flag) || !strings.Contains(lines[0], reason) {
		t.Fatalf("stderr %q: want one line naming %q and saying %q", res.stderr, flag, reason)
	}
	if res.stdout != "" {
		t.Errorf("stdout not empty: %q", res.stdout)
	}
}

// runWithoutFileAccessOverride runs glue so that file permissions apply
// to it: as root (CI) it runs under setpriv without the capabilities that
// let root read any file (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH); still
// uid 0, it keeps /dev/kvm (root's, mode 0600), which a dropped uid would
// not have. Other users are subject to permissions anyway.
func runWithoutFileAccessOverride(t *testing.T, args ...string) result {
	t.Helper()
	if os.Geteuid() != 0 {
		return runGlue(t, nil, args...)
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Fatalf("setpriv (util-linux) not installed: %v", err)
	}
	return runBinary(t, setpriv, nil, append([]string{"--bounding-set", "-dac_override,-dac_read_search", glueBin}, args...)...)
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
