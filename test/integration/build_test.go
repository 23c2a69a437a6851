package integration

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/test/hosttest"
)

// Build variants (docs/building.md): glue built with tags that leave devices
// out. Each variant is built, says what it contains (-V -v), lacks the code
// of what it left out (its symbol table), refuses the flags of what it
// lacks, and boots the built-in guest with every device it has.

// optionalComponent is a component a build tag can leave out.
type optionalComponent struct {
	name    string            // as `glue -V -v` lists it
	tag     string            // the tag that leaves it out on its own
	pkgs    []string          // glue packages linked only for it
	refused []string          // `glue run` arguments that need it
	id      string            // virtio device ID the guest's virtio test reports; "" for a transport
	test    string            // the guest's test of it
	want    map[string]string // fields of the test's GLUE-OK line
}

// isTransport reports whether c is a virtio transport rather than a device.
func (c optionalComponent) isTransport() bool { return c.id == "" }

// consoleLine is what the console test types into hvc0 (one word, so that
// field() can read the echo).
const consoleLine = "typed-into-hvc0"

// optionalComponents are in glue's device order (disks, networks, entropy,
// console, balloon, vsock), which is the order of the guest's virtio IDs, then the
// transports.
var optionalComponents = []optionalComponent{
	{"virtio-blk", "glue_no_blk", []string{"virtio/blk"}, []string{"--disk", "disk.img"}, "2", "blk", map[string]string{"flushed": "1"}},
	{"virtio-net", "glue_no_net", []string{"virtio/vnet", "tap"}, []string{"--net", "tap=tap0"}, "1", "net", map[string]string{"echo": "1"}},
	{"virtio-rng", "glue_no_rng", []string{"virtio/rng"}, []string{"--rng"}, "4", "rng", map[string]string{"bytes": "64"}},
	{"virtio-console", "glue_no_vconsole", []string{"virtio/vconsole"}, []string{"--console", "virtio"}, "3", "console", map[string]string{"echo": consoleLine}},
	{"virtio-balloon", "glue_no_balloon", []string{"virtio/balloon"}, []string{"--balloon"}, "5", "balloon", map[string]string{"reported": "512"}},
	{"virtio-vsock", "glue_no_vsock", []string{"virtio/vsock"}, []string{"--vsock", "cid=3"}, "19", "vsock", map[string]string{"cid": "3"}},
	{"virtio-pci", "glue_no_pci", []string{"virtio/transport/pci"}, []string{"--transport", "pci"}, "", "", nil},
	{"virtio-mmio", "glue_no_mmio", []string{"virtio/transport/mmio"}, []string{"--transport", "mmio"}, "", "", nil},
}

// bothTransports are what every variant but the transport ones keeps.
var bothTransports = []string{"virtio-pci", "virtio-mmio"}

func withTransports(devices ...string) []string { return append(devices, bothTransports...) }

// buildVariant is one way to build glue.
type buildVariant struct {
	name    string
	minimal bool     // built with glue_minimal
	has     []string // the optional components it keeps
}

var buildVariants = []buildVariant{
	{name: "all", has: withTransports("virtio-blk", "virtio-net", "virtio-rng", "virtio-console", "virtio-balloon", "virtio-vsock")},
	{name: "minimal", minimal: true},
	{name: "blk-only", has: withTransports("virtio-blk")},
	{name: "net-only", has: withTransports("virtio-net")},
	{name: "rng-only", has: withTransports("virtio-rng")},
	{name: "vconsole-only", has: withTransports("virtio-console")},
	{name: "balloon-only", has: withTransports("virtio-balloon")},
	{name: "vsock-only", has: withTransports("virtio-vsock")},
	{name: "blk+rng", has: withTransports("virtio-blk", "virtio-rng")},
	{name: "net+vconsole", has: withTransports("virtio-net", "virtio-console")},
	// One transport: every device goes on the other one.
	{name: "mmio-only", has: []string{"virtio-blk", "virtio-net", "virtio-rng", "virtio-console", "virtio-balloon", "virtio-vsock", "virtio-mmio"}},
	{name: "pci-only", has: []string{"virtio-blk", "virtio-net", "virtio-rng", "virtio-console", "virtio-balloon", "virtio-vsock", "virtio-pci"}},
}

// tags is the -tags value of v: glue_minimal, or glue_no_* for each
// component it lacks ("" for the default build).
func (v buildVariant) tags() string {
	if v.minimal {
		return "glue_minimal"
	}
	var tags []string
	for _, c := range optionalComponents {
		if !v.includes(c) {
			tags = append(tags, c.tag)
		}
	}
	return strings.Join(tags, ",")
}

func (v buildVariant) includes(c optionalComponent) bool { return slices.Contains(v.has, c.name) }

// leftOutBy is the tag that glue names for a component v lacks.
func (v buildVariant) leftOutBy(c optionalComponent) string {
	if v.minimal {
		return "glue_minimal"
	}
	return c.tag
}

func TestBuildVariants(t *testing.T) {
	t.Parallel()
	for _, v := range buildVariants {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			bin := buildGlue(t, v.tags())
			t.Run("version", func(t *testing.T) { checkVersion(t, bin, v) })
			t.Run("linked", func(t *testing.T) { checkLinked(t, bin, v) })
			t.Run("refused", func(t *testing.T) { checkRefused(t, bin, v) })
			t.Run("boot", func(t *testing.T) { bootVariant(t, bin, v) })
		})
	}
}

// buildGlue builds glue with tags, as TestMain builds the default binary
// (which it returns for no tags): the same flags share the build cache, so
// a variant recompiles only vmm and cmd/glue.
func buildGlue(t *testing.T, tags string) string {
	t.Helper()
	if tags == "" {
		return glueBin
	}
	bin := filepath.Join(t.TempDir(), "glue")
	start := time.Now()
	cmd := exec.Command("go", "build", "-tags", tags, "-o", bin, "github.com/gluevmm/glue/cmd/glue")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build -tags %s: %v\n%s", tags, err, out)
	}
	t.Logf("go build -tags %s: %v", tags, time.Since(start).Round(time.Millisecond))
	return bin
}

// `glue -V -v` lists exactly what the variant contains.
func checkVersion(t *testing.T, bin string, v buildVariant) {
	res := runBinary(t, bin, nil, "-V", "-v")
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	in, out := []string{"serial"}, []string{}
	for _, c := range optionalComponents {
		if v.includes(c) {
			in = append(in, c.name)
		} else {
			out = append(out, fmt.Sprintf("%s (%s)", c.name, v.leftOutBy(c)))
		}
	}
	want := []string{
		"components: " + strings.Join(in, ", "),
		"left out: " + orNone(strings.Join(out, ", ")),
		"build tags: " + orNone(v.tags()),
	}
	lines := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "glue ") || !slices.Equal(lines[1:], want) {
		t.Fatalf("glue -V -v:\n%s\nwant a version line, then:\n%s", res.stdout, strings.Join(want, "\n"))
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// A left-out component's packages are not in the binary at all: no symbol
// of theirs survives, while those of a kept one do.
func checkLinked(t *testing.T, bin string, v buildVariant) {
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	linked := func(pkg string) bool {
		prefix := "github.com/gluevmm/glue/" + pkg + "."
		return slices.ContainsFunc(syms, func(s elf.Symbol) bool { return strings.Contains(s.Name, prefix) })
	}
	if !linked("serial") {
		t.Error("serial is not linked in")
	}
	for _, c := range optionalComponents {
		for _, pkg := range c.pkgs {
			if got := linked(pkg); got != v.includes(c) {
				t.Errorf("%s linked in: %v, want %v (%s)", pkg, got, v.includes(c), c.name)
			}
		}
	}
}

// The flags of a left-out component stay, but are refused with exit status
// 2 and one line naming the flag, the component and the tag; --help marks
// them.
func checkRefused(t *testing.T, bin string, v buildVariant) {
	help := runBinary(t, bin, nil, "run", "--help").stdout
	for _, c := range optionalComponents {
		mark := "[" + c.name + " is not in this build"
		if marked := strings.Contains(help, mark); marked == v.includes(c) {
			t.Errorf("run --help marks %s as left out: %v, want %v", c.name, marked, !v.includes(c))
		}
		if v.includes(c) {
			continue
		}
		res := runBinary(t, bin, nil, append([]string{"run"}, c.refused...)...)
		lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
		want := fmt.Sprintf("glue: %s: this glue was built without %s (build tag %s); see docs/building.md",
			c.refused[0], c.name, v.leftOutBy(c))
		if res.code != 2 || len(lines) != 1 || lines[0] != want || res.stdout != "" {
			t.Errorf("run %s: exit %d, stderr %q, stdout %q; want exit 2 and %q",
				strings.Join(c.refused, " "), res.code, res.stderr, res.stdout, want)
		}
	}
}

// bootVariant boots the built-in guest with one of each device the variant
// has and checks each one's GLUE-OK line: a disk written, flushed and read
// back, entropy, a ping from the host through a tap, a line typed into hvc0.
func bootVariant(t *testing.T, bin string, v buildVariant) {
	requireKVM(t)
	args := []string{"run", "-m", "64"}
	tests, ids, params := []string{"virtio"}, []string{}, ""
	var ns netns
	for _, c := range optionalComponents {
		if !v.includes(c) || c.isTransport() {
			continue
		}
		tests, ids = append(tests, c.test), append(ids, c.id)
		switch c.name {
		case "virtio-blk":
			args = append(args, "--disk", diskImage(t, 8))
		case "virtio-net":
			ns = newNetns(t)
			ns.tap(t, "tap0", "192.0.2.1/24")
			args = append(args, "--net", "tap=tap0")
			params = " glue.ip=192.0.2.2 glue.net.pings=1"
		default:
			args = append(args, c.refused...)
		}
	}
	args = append(args, "-p", "glue.test="+strings.Join(tests, ",")+params)
	var s *session
	if ns != "" {
		s = startProcess(t, "ip", append([]string{"netns", "exec", string(ns), bin}, args...)...)
		s.waitFor("GLUE-READY net", time.Minute)
		ns.run(t, "ping", "-c", "1", "-W", "10", "192.0.2.2")
	} else {
		s = startProcess(t, bin, args...)
	}
	if slices.Contains(v.has, "virtio-console") {
		s.waitFor("GLUE-READY console", time.Minute)
		fmt.Fprint(s.stdin, consoleLine+"\r")
	}
	if code := s.wait(time.Minute); code != 0 {
		t.Fatalf("exit %d", code)
	}
	out := s.output()
	m := markers(t, out)
	wantIDs := strings.Join(ids, ",")
	if wantIDs == "" {
		wantIDs = "-"
	}
	if virtio := m["virtio"]; field(virtio, "devices") != fmt.Sprint(len(ids)) || field(virtio, "ids") != wantIDs {
		t.Errorf("virtio: %q, want devices=%d ids=%s", virtio, len(ids), wantIDs)
	}
	for _, c := range optionalComponents {
		if !v.includes(c) || c.isTransport() {
			continue
		}
		details, ok := m[c.test]
		if !ok {
			t.Errorf("no GLUE-OK %s", c.test)
		}
		for k, want := range c.want {
			if got := field(details, k); got != want {
				t.Errorf("%s: %s=%q, want %q (%s)", c.test, k, got, want, details)
			}
		}
	}
	if !strings.Contains(out, "GLUE-DONE") {
		t.Error("no GLUE-DONE")
	}
}

// A glue that links cgo cannot be confined: its C runtime starts threads
// with system calls the filter refuses. It says so and how to build
// instead, before the guest runs, rather than dying by SIGSYS at its first
// thread. A plain build links no cgo (TestDefaultBuildIsStatic); external
// linking brings in runtime/cgo and the C library whatever glue imports.
func TestBuildWithCgoRefusesToRun(t *testing.T) {
	t.Parallel()
	requireKVM(t)
	hosttest.LookPath(t, "gcc")
	bin := filepath.Join(t.TempDir(), "glue")
	cmd := exec.Command("go", "build", "-ldflags=-linkmode=external", "-o", bin, "github.com/gluevmm/glue/cmd/glue")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build with cgo: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "run", "-m", "64", "-c", "2", "-p", "glue.test=cmdline").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "built with cgo") || !strings.Contains(string(out), "CGO_ENABLED=0") {
		t.Fatalf("glue built with cgo: %v, output:\n%s\nwant exit 1 naming cgo and CGO_ENABLED=0", err, out)
	}
	// Detached, the refusal comes before the name: a VM that never ran
	// is not reported as started.
	dir := vmDir(t)
	out, err = exec.Command(bin, "--runtime-dir", dir, "run", "--detach", "-n", "cgo", "-m", "64").Output()
	if !errors.As(err, &exit) {
		t.Fatalf("glue built with cgo, detached: %v, stdout %q; want exit 1", err, out)
	}
	if exit.ExitCode() != 1 || !strings.Contains(string(exit.Stderr), "built with cgo") || len(out) != 0 {
		t.Fatalf("glue built with cgo, detached: %v, stdout %q, stderr %q; want exit 1, no name, the refusal", err, out, exit.Stderr)
	}
}
