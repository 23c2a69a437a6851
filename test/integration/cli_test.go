package integration

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gluevmm/glue/test/hosttest"
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

// checkBadInput insists on exit status 2 and one line on stderr that names
// flag and says reason: no "VM name" line (no VM exists), and none of
// glue's package prefixes ("loader: ...").
func checkBadInput(t *testing.T, res result, flag, reason string) {
	t.Helper()
	if res.code != 2 {
		t.Fatalf("exit %d, want 2\nstderr: %s", res.code, res.rawStderr)
	}
	lines := strings.Split(strings.TrimSpace(res.rawStderr), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], flag) || !strings.Contains(lines[0], reason) {
		t.Fatalf("stderr %q: want one line naming %q and saying %q", res.rawStderr, flag, reason)
	}
	for _, pkg := range []string{"control", "loader", "vmm", "kvm", "x86", "guestmem", "tap", "blk"} {
		if strings.Contains(lines[0], " "+pkg+": ") {
			t.Errorf("stderr %q: the message carries glue's package prefix %q", lines[0], pkg+":")
		}
	}
	if res.stdout != "" {
		t.Errorf("stdout not empty: %q", res.stdout)
	}
}

// Every subcommand answers bad flags and bad input with status 2 and one
// line naming the flag: the exit-status contract of `glue help`.
func TestCLIBadInputEverySubcommand(t *testing.T) {
	t.Parallel()
	requireKVM(t) // run's cases get as far as KVM's limits
	dir := t.TempDir()
	notADir := dir + "/file"
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cpuLimit := min(maxVCPUs(t), 254) // KVM's, or the boot tables' 254
	// A sparse 1 GiB "kernel": refused from its size, never read.
	huge := dir + "/huge"
	if err := os.WriteFile(huge, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, 1<<30); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		want   string // the flag the line names
		reason string // and, if not empty, what it says
	}{
		{"glue: unknown flag", []string{"--frobnicate"}, "frobnicate", ""},
		{"glue: unknown subcommand", []string{"frob"}, "frob", ""},

		{"run: runtime dir is a file", []string{"--runtime-dir", notADir, "run"}, "--runtime-dir", "not a directory"},
		{"run --detach: runtime dir is a file", []string{"--runtime-dir", notADir, "run", "--detach"}, "--runtime-dir", "not a directory"},
		{"run: runtime dir under a file", []string{"--runtime-dir", notADir + "/x", "run"}, "--runtime-dir", ""},
		{"run: cpus over the limit that applies", []string{"run", "-c", strconv.Itoa(cpuLimit + 1)}, "--cpus", "at most " + strconv.Itoa(cpuLimit)},
		{"run: kernel file larger than guest memory", []string{"run", "-m", "64", "-k", huge}, "--mem", "larger than guest RAM"},
		{"run: empty kernel", []string{"run", "-k", ""}, "--kernel", "empty"},
		{"run: empty name", []string{"run", "-n", ""}, "--name", "empty"},
		{"run: empty initrd", []string{"run", "--initrd", ""}, "--initrd", "empty"},
		{"run: console word that is no device", []string{"run", "--console", "bogus"}, "--console", "file=FILE"},
		{"run: console file= with no file", []string{"run", "--console", "file="}, "--console", "no file"},
		{"run: console file that takes no writes", []string{"run", "--console", "file=/proc/version"}, "--console", "/proc/version"},
		{"run: console file in a missing dir", []string{"run", "--console", "file=" + dir + "/no/such"}, "--console", "no such file"},
		{"run: bad disk spec", []string{"run", "--disk", "path=,ro=on"}, "--disk", ""},
		{"run: bad net spec", []string{"run", "--net", "mac=02:00:00:00:00:01"}, "--net", "tap=NAME"},

		{"list: runtime dir is a file", []string{"--runtime-dir", notADir, "list"}, "--runtime-dir", "not a directory"},
		{"list: stray argument", []string{"list", "extra"}, "extra", ""},
		{"list: unknown flag", []string{"list", "--frobnicate"}, "frobnicate", ""},

		{"console: no name", []string{"console"}, "--name", ""},
		{"console: bad name", []string{"console", "-n", "bad name"}, "--name", "not allowed"},
		{"console: runtime dir is a file", []string{"--runtime-dir", notADir, "console", "-n", "x"}, "--runtime-dir", "not a directory"},
		{"console: stray argument", []string{"console", "-n", "x", "extra"}, "extra", ""},
		{"console: reply timeout not positive", []string{"--reply-timeout", "0s", "console", "-n", "x"}, "--reply-timeout", "positive"},

		{"run: empty log", []string{"run", "--log", ""}, "--log", "empty"},
		{"run: log in a missing dir", []string{"run", "--log", dir + "/no/such.log"}, "--log", "no such file"},
		{"stop: bad reply timeout", []string{"--reply-timeout", "soon", "stop", "-n", "x"}, "reply-timeout", ""},

		{"logs: no name", []string{"logs"}, "--name", ""},
		{"logs: empty name", []string{"logs", "-n", ""}, "--name", "empty"},
		{"logs: bad name", []string{"logs", "-n", "bad name"}, "--name", "not allowed"},
		{"logs: runtime dir is a file", []string{"--runtime-dir", notADir, "logs", "-n", "x"}, "--runtime-dir", "not a directory"},
		{"logs: stray argument", []string{"logs", "-n", "x", "extra"}, "extra", ""},

		{"rm: no name", []string{"rm"}, "--name", ""},
		{"rm: empty name", []string{"rm", "-n", ""}, "--name", "empty"},
		{"rm: bad name", []string{"rm", "-n", "bad name"}, "--name", "not allowed"},
		{"rm: name and --all", []string{"rm", "-n", "x", "--all"}, "--all", ""},
		{"rm: runtime dir is a file", []string{"--runtime-dir", notADir, "rm", "--all"}, "--runtime-dir", "not a directory"},
	}
	for _, op := range []string{"pause", "resume", "stop"} {
		tests = append(tests, []struct {
			name   string
			args   []string
			want   string
			reason string
		}{
			{op + ": no name", []string{op}, "--name", ""},
			{op + ": bad name", []string{op, "-n", "bad name"}, "--name", "not allowed"},
			{op + ": empty name", []string{op, "-n", ""}, "--name", "empty"},
			{op + ": name and --all", []string{op, "-n", "x", "--all"}, "--all", ""},
			{op + ": runtime dir is a file", []string{"--runtime-dir", notADir, op, "-n", "x"}, "--runtime-dir", "not a directory"},
			{op + ": runtime dir is a file, --all", []string{"--runtime-dir", notADir, op, "--all"}, "--runtime-dir", "not a directory"},
			{op + ": unknown flag", []string{op, "--frobnicate"}, "frobnicate", ""},
		}...)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkBadInput(t, runGlue(t, nil, tc.args...), tc.want, tc.reason)
		})
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
	setpriv := hosttest.LookPath(t, "setpriv") // Debian: util-linux
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

// A kernel file much larger than --mem is refused from its size, before it
// is read: a sparse 1 GiB file for a 64 MiB VM costs glue a stat, not 1 GiB
// of memory (the bound on its peak RSS is generous; it is ~10 MiB).
func TestCLIKernelFileLargerThanMemory(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	path := filepath.Join(t.TempDir(), "vmlinux")
	if err := os.WriteFile(path, []byte("\x7fELF"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 1<<30); err != nil {
		t.Fatal(err)
	}
	code, stderr, peak := runPeakRSS(t, "run", "-k", path, "-m", "64")
	if code != 2 || !strings.Contains(stderr, "--mem") || !strings.Contains(stderr, "larger than guest RAM") {
		t.Fatalf("exit %d, stderr %q: want exit 2 naming --mem and the file larger than guest RAM", code, stderr)
	}
	if peak > 64<<20 {
		t.Errorf("glue's peak RSS was %d MiB refusing a 1 GiB kernel for a 64 MiB VM", peak>>20)
	}
	t.Logf("peak RSS %d KiB", peak>>10)
}
