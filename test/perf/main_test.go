// Package perf holds whole-VM benchmarks: glue against QEMU's microvm on the
// project's own guest ELF, run interleaved in the same process so both see
// the same host noise. Numbers are reported, never asserted; see
// docs/performance.md for the method and the results.
//
//	go test -run '^$' -bench . -benchtime 1x ./test/perf/
//	go test -run '^$' -bench . -benchtime 1x ./test/perf/ -args -update-doc
package perf

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gluevmm/glue/kvm/kvmtest"
)

var (
	boots     = flag.Int("boots", 20, "start-up runs per VMM")
	exitRuns  = flag.Int("exit-runs", 5, "port-I/O exit runs per VMM")
	exitCount = flag.Int("exits", 200000, "port-I/O exits per run (glue.exits=N)")
	qemuFlag  = flag.String("qemu", "qemu-system-x86_64", "QEMU binary to compare against")
	updateDoc = flag.Bool("update-doc", false, "rewrite the results in "+docPath+" after a full run")
)

const (
	guestELF = "../../guest/glue-guest.elf"
	docPath  = "../../docs/performance.md"
)

var (
	buildOnce sync.Once
	buildDir  string
	glueBin   string
	buildErr  error
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	if code == 0 && len(rows) > 0 {
		block := report()
		fmt.Print("\n", block)
		if *updateDoc && len(setups) < 2 {
			fmt.Fprintln(os.Stderr, "update-doc: run every benchmark (-bench .) to rewrite the results")
			code = 1
		} else if *updateDoc {
			if err := rewriteDoc(docPath, block); err != nil {
				fmt.Fprintln(os.Stderr, "update-doc:", err)
				code = 1
			} else {
				fmt.Println("updated", docPath)
			}
		}
	}
	os.Exit(code)
}

// vmms returns glue, built once for the package, and QEMU if it is
// installed; the benchmark is skipped without /dev/kvm.
func vmms(b *testing.B) (glue vmm, qemu *vmm) {
	b.Helper()
	kvmtest.Open(b)
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "glue-perf-"); buildErr != nil {
			return
		}
		glueBin = filepath.Join(buildDir, "glue")
		// Built the way `make glue` builds releases: static, no cgo.
		cmd := exec.Command("go", "build", "-trimpath", "-o", glueBin, "github.com/gluevmm/glue/cmd/glue")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building glue: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	elf, err := filepath.Abs(guestELF)
	if err != nil {
		b.Fatal(err)
	}
	glue = glueVMM(glueBin, elf)
	if path, err := exec.LookPath(*qemuFlag); err != nil {
		b.Logf("QEMU parts skipped: %v", err)
	} else {
		q := qemuVMM(path, elf)
		qemu = &q
	}
	return glue, qemu
}
