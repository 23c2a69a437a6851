package integration

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gluevmm/glue/test/hosttest"
)

// A plain `go build ./cmd/glue` (what `go install` does too) gives a static
// binary: the default environment, so cgo is on where a C compiler is
// installed, and still nothing links it (test/archtest's TestGlueLinksNothingUnwanted
// names what would). Such a glue needs no C library at run time, and runs
// a VM confined: the "cgo" build tag alone does not make it refuse, as a
// glue that links cgo does (TestBuildWithCgoRefusesToRun).
func TestDefaultBuildIsStatic(t *testing.T) {
	t.Parallel()
	// Without a C compiler the go command turns cgo off by itself, and the
	// test would prove nothing.
	hosttest.LookPath(t, "gcc")
	bin := filepath.Join(t.TempDir(), "glue")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/gluevmm/glue/cmd/glue")
	cmd.Env = defaultGoEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, problem := range dynamicLinking(t, bin) {
		t.Errorf("glue from a plain go build is not static: %s", problem)
	}
	t.Run("boots", func(t *testing.T) {
		requireKVM(t)
		res := runBinary(t, bin, nil, "run", "-m", "64", "-p", "glue.test=cmdline")
		if res.code != 0 || !strings.Contains(res.stdout, "GLUE-DONE") {
			t.Fatalf("glue from a plain go build: exit %d, stdout:\n%s\nstderr:\n%s\nwant exit 0 and GLUE-DONE", res.code, res.stdout, res.stderr)
		}
	})
}

// The check itself: a build that links the C library is seen as one.
func TestDynamicLinkingIsSeen(t *testing.T) {
	t.Parallel()
	hosttest.LookPath(t, "gcc")
	bin := filepath.Join(t.TempDir(), "glue")
	cmd := exec.Command("go", "build", "-ldflags=-linkmode=external", "-o", bin, "github.com/gluevmm/glue/cmd/glue")
	cmd.Env = defaultGoEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build with external linking: %v\n%s", err, out)
	}
	if got := dynamicLinking(t, bin); len(got) < 2 {
		t.Fatalf("glue linked by the C linker: %q, want its PT_INTERP and DT_NEEDED", got)
	}
}

// defaultGoEnv is this process's environment without what changes the
// go command's cgo default: CGO_ENABLED, and the user's go env file.
func defaultGoEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CGO_ENABLED=") && !strings.HasPrefix(kv, "GOENV=") {
			env = append(env, kv)
		}
	}
	return append(env, "GOENV=off")
}

// dynamicLinking describes what makes the ELF file at path need the
// dynamic loader: a program interpreter, libraries it needs.
func dynamicLinking(t *testing.T, path string) []string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var found []string
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			found = append(found, "it has a PT_INTERP program header (a dynamic loader)")
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	for _, lib := range libs {
		found = append(found, "it needs "+lib+" (DT_NEEDED)")
	}
	return found
}
