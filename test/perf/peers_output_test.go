package perf

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/gluevmm/glue/kvm/kvmtest"
	"github.com/gluevmm/glue/test/hosttest"
)

// The peers run the same guest as glue, to the same end: their serial
// output for the benchmarks' guest tests is glue's, byte for byte, but
// for the TSC counts the exits tests measure. (kvmtool only where
// GLUE_PERF_KVMTOOL names it.)
func TestPeersPrintWhatGluePrints(t *testing.T) {
	kvmtest.Open(t)
	dir := t.TempDir()
	glueBin := filepath.Join(dir, "glue")
	build := exec.Command("go", "build", "-o", glueBin, "github.com/gluevmm/glue/cmd/glue")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building glue: %v\n%s", err, out)
	}
	elfPath, err := filepath.Abs(guestELF)
	if err != nil {
		t.Fatal(err)
	}
	others, notes := findPeers(t, dir, dir, elfPath)
	for _, n := range notes {
		t.Log(n)
	}
	if len(others) == 0 {
		hosttest.Skip(t, hosttest.ReasonTool("gcc"), "no peer could be set up")
	}
	glue := glueVMM(glueBin, elfPath, filepath.Join(dir, "run"), mmio)
	tsc := regexp.MustCompile(`tsc=\d+`)
	// The guest's default end, a reset, ends every VMM by itself.
	for _, cmdline := range []string{"glue.test=cmdline", "glue.test=exits,mmio-exits glue.exits=1000"} {
		want := runToEnd(t, glue, cmdline)
		if !bytes.Contains(want, []byte("GLUE-DONE\n")) || bytes.Contains(want, []byte("GLUE-FAIL")) {
			t.Fatalf("glue, %q:\n%s", cmdline, want)
		}
		for _, v := range others {
			if got := runToEnd(t, v, cmdline); !bytes.Equal(tsc.ReplaceAll(got, nil), tsc.ReplaceAll(want, nil)) {
				t.Errorf("%s, %q, printed:\n%s\nglue printed:\n%s", v.name, cmdline, got, want)
			}
		}
	}
}

// runToEnd runs a VMM until it exits and returns its standard output.
func runToEnd(t *testing.T, v vmm, cmdline string) []byte {
	t.Helper()
	cmd := exec.Command(v.path, v.args(cmdline, devices{})...)
	if v.env != nil {
		cmd.Env = append(os.Environ(), v.env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s %q: %v\nstdout:\n%s\nstderr:\n%s", v.name, cmdline, err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.Bytes()
}
