package integration

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/x86"
)

// The built-in guest, booted with no --kernel, is what a new user sees first.
func TestBasicBuiltinGuestDemo(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	res := runGlue(t, nil, "run")
	if res.code != 0 {
		t.Fatalf("exit %d, want 0 (guest reset)\n%s%s", res.code, res.stdout, res.stderr)
	}
	m := markers(t, res.stdout)
	for _, name := range []string{"cmdline", "mem", "cpus", "rtc", "demo"} {
		if _, ok := m[name]; !ok {
			t.Errorf("demo did not report %q:\n%s", name, res.stdout)
		}
	}
	if got := field(m["demo"], "cpus"); got != "1" {
		t.Errorf("demo cpus=%s, want 1", got)
	}
	if !strings.Contains(res.stdout, "GLUE-DONE") {
		t.Errorf("no GLUE-DONE:\n%s", res.stdout)
	}
}

func TestBasicCmdlineRoundTrip(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	params := `glue.test=cmdline foo=bar quoted="a b" x`
	res := runGlue(t, nil, "run", "-p", params)
	if res.code != 0 {
		t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if got := markers(t, res.stdout)["cmdline"]; got != params {
		t.Fatalf("guest saw command line %q, want %q", got, params)
	}
}

// legacyHole is the e820 gap between the EBDA and 1 MiB (x86/layout.go).
const legacyHole = 0x100000 - 0x9fc00

func TestBasicMemorySizes(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	for _, mib := range []uint64{16, 300, 3072, 3073, 4096, 6144} {
		t.Run(fmt.Sprintf("%dMiB", mib), func(t *testing.T) {
			t.Parallel()
			res := runGlue(t, nil, "run", "-m", strconv.FormatUint(mib, 10), "-p", "glue.test=mem")
			if res.code != 0 {
				t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
			}
			mem := markers(t, res.stdout)["mem"]
			want := mib<<20 - legacyHole
			if got := field(mem, "usable"); got != strconv.FormatUint(want, 10) {
				t.Fatalf("guest sees %s usable bytes, want %d (%d MiB less the legacy hole): %s", got, want, mib, mem)
			}
		})
	}
}

func TestBasicVCPUCount(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	// The maximum: KVM's limit, or the MP table's (x86.MaxCPUs).
	for _, n := range []int{1, 2, 4, min(maxVCPUs(t), x86.MaxCPUs)} {
		t.Run(fmt.Sprintf("%dcpus", n), func(t *testing.T) {
			t.Parallel()
			res := runGlue(t, nil, "run", "-c", strconv.Itoa(n), "-p", "glue.test=cpus")
			if res.code != 0 {
				t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
			}
			cpus := markers(t, res.stdout)["cpus"]
			if field(cpus, "n") != strconv.Itoa(n) || field(cpus, "online") != strconv.Itoa(n) {
				t.Fatalf("guest reports %q, want n=%d online=%d", cpus, n, n)
			}
			for id := 1; id < n; id++ {
				if !strings.Contains(res.stdout, fmt.Sprintf("GLUE-OK cpu %d online", id)) {
					t.Errorf("AP %d did not report", id)
				}
			}
		})
	}
}

func TestBasicSerialInput(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	s := startGlue(t, "run", "-p", "glue.test=serial-in")
	s.waitFor("GLUE-READY serial-in", time.Minute)
	fmt.Fprint(s.stdin, "hello from the host\r")
	s.waitFor("GLUE-OK serial-in hello from the host", time.Minute)
	if code := s.wait(time.Minute); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// The guest's i8042 reset ends glue with status 0; a triple fault is a
// failure with a one-line reason.
func TestBasicGuestEnds(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	tests := []struct {
		name     string
		end      string
		wantCode int
		wantErr  string
	}{
		{"i8042 reset", "reset", 0, ""},
		{"triple fault", "triple", 1, "guest triple fault"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := runGlue(t, nil, "run", "-p", "glue.test=cmdline glue.end="+tc.end)
			if res.code != tc.wantCode {
				t.Fatalf("exit %d, want %d\n%s%s", res.code, tc.wantCode, res.stdout, res.stderr)
			}
			if tc.wantErr == "" {
				if res.stderr != "" {
					t.Errorf("unexpected stderr: %s", res.stderr)
				}
				return
			}
			lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "glue: ") || !strings.Contains(lines[0], tc.wantErr) {
				t.Errorf("stderr %q, want one line with %q", res.stderr, tc.wantErr)
			}
		})
	}
}

// The console escape quits a guest that would otherwise run forever.
func TestBasicConsoleEscapeQuits(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	s := startGlue(t, "run", "-p", "glue.test=counter")
	s.waitFor("GLUE-COUNT 2", time.Minute)
	s.stdin.Write([]byte{0x01, 'x'})
	if code := s.wait(time.Minute); code != 0 {
		t.Fatalf("exit %d after Ctrl-a x, want 0", code)
	}
}

// --console writes the guest's output to a file instead of stdout.
func TestBasicConsoleFile(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	path := t.TempDir() + "/console.log"
	res := runGlue(t, nil, "run", "--console", "file="+path, "-p", "glue.test=cmdline")
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	if strings.Contains(res.stdout, "GLUE-OK") {
		t.Errorf("guest output on stdout despite --console")
	}
	data := readFile(t, path)
	if !strings.Contains(data, "GLUE-OK cmdline glue.test=cmdline") {
		t.Errorf("console file lacks the guest's output:\n%s", data)
	}
}

// --boot-timeline prints every boot phase, in order, after the guest's
// output.
func TestFeaturesBootTimeline(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	res := runGlue(t, nil, "run", "--boot-timeline", "-m", "64", "-p", "glue.test=cmdline")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	phases := []string{"before main", "flags parsed", "open /dev/kvm", "create VM", "map guest memory", "create interrupt controllers",
		"create devices", "write ACPI tables", "load kernel", "create vCPUs", "sandbox", "start vCPUs",
		"first guest output byte", "guest marker GLUE-DONE"}
	last := -1
	for _, p := range phases {
		i := strings.Index(res.stderr, p)
		if i <= last {
			t.Fatalf("phase %q missing or out of order in:\n%s", p, res.stderr)
		}
		last = i
	}
}

// The built-in guest's ELF, loaded from a file with -k (and embedded),
// through each entry protocol it offers; the guest says which entry ran.
func TestBasicKernelEntries(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	elf, err := filepath.Abs("../../guest/glue-guest.elf")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"default", []string{"-k", elf}, "linux64"},
		{"linux", []string{"-k", elf, "--boot", "linux"}, "linux64"},
		{"pvh", []string{"-k", elf, "--boot", "pvh"}, "pvh"},
		{"built-in pvh", []string{"--boot", "pvh"}, "pvh"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			params := "glue.test=cmdline,mem entry=" + tc.want
			res := runGlue(t, nil, append(append([]string{"run"}, tc.args...), "-m", "64", "-p", params)...)
			if res.code != 0 {
				t.Fatalf("exit %d\n%s%s", res.code, res.stdout, res.stderr)
			}
			if got := bootEntry(res.stdout); got != tc.want {
				t.Errorf("the guest came in through %q, want %q", got, tc.want)
			}
			m := markers(t, res.stdout)
			if m["cmdline"] != params || field(m["mem"], "usable") != fmt.Sprint(64<<20-legacyHole) {
				t.Fatalf("cmdline=%q mem=%q", m["cmdline"], m["mem"])
			}
		})
	}
}
