package nested

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/test/hosttest"
	"github.com/gluevmm/glue/test/nested/plan"
)

// The comparison's knobs: it runs only on request, outside CI (it takes
// two boots a round).
const (
	compareEnv   = "GLUE_NESTED_COMPARE"    // boots per VMM
	updateDocEnv = "GLUE_NESTED_UPDATE_DOC" // "1": write the block into docs/performance.md
	perfDoc      = "../../docs/performance.md"
)

// glue and QEMU boot the same kernel in turn on the inner /dev/kvm: the
// side-by-side table and the stall rates of docs/performance.md. It
// fails only when the machine or its outer init failed; the numbers are
// reported, never judged.
func TestNestedCompare(t *testing.T) {
	boots, _ := strconv.Atoi(os.Getenv(compareEnv))
	if boots <= 0 {
		hosttest.Skip(t, hosttest.ReasonRegenerate, "the side-by-side with QEMU inside the emulated machine runs on request: "+
			compareEnv+"=BOOTS (per VMM), "+updateDocEnv+"=1 to rewrite docs/performance.md")
	}
	t.Parallel()
	kernel := hosttest.Kernel(t)
	qemu := hosttest.LookPath(t, "qemu-system-x86_64")
	env := newEnv(t, kernel)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	files, libDirs, err := QEMUFiles(ctx, qemu)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	start, loadBefore := time.Now(), loadAverage()
	p := plan.Plan{Env: env, Compare: &plan.Compare{Boots: boots, Scenario: CompareScenario, LibDirs: libDirs,
		DiskMiB: CompareDiskMiB}}
	limit := time.Duration(2*boots)*(scenarioDeadline+watchdogGrace+2*time.Minute) + 2*time.Minute
	run := bootOuter(t, kernel, qemu, p, files, limit)
	run.checkMachine(t)
	ended := map[string]int{}
	for _, b := range run.o.Compared {
		t.Logf("%s round %d: init %.1f s, done %.1f s, cpu %.2f s, rss %d KiB, disk write %.1f read %.1f MiB/s, "+
			"tcp in %.1f out %.1f MiB/s, stalled %v, exited %v, fails %d", b.VMM, b.Round, b.InitSecs, b.DoneSecs, b.CPUSecs, b.MaxRSSKiB,
			b.BlkWriteMiBs, b.BlkReadMiBs, b.TCPInMiBs, b.TCPOutMiBs, b.Stalled, b.Exited, b.Fails)
		if b.Stalled || b.Exited {
			t.Logf("  its last lines:\n%s", strings.Join(b.Last, "\n"))
		}
		if len(b.FailLines) > 0 {
			t.Logf("  init's failures:\n%s", strings.Join(b.FailLines, "\n"))
		}
		// Stalls and early ends (a guest that crashed) are measured and
		// listed in the block; an init that reached GLUE-DONE but found
		// something wrong makes the numbers meaningless.
		if b.Exited {
			ended[b.VMM]++
		} else if b.Fails > 0 {
			t.Errorf("%s round %d: init failed %d checks", b.VMM, b.Round, b.Fails)
		}
		// The disk and network rows need init's blkperf and tcp lines in
		// every boot that ended.
		if !b.Stalled && !b.Exited && (b.BlkWriteMiBs <= 0 || b.BlkReadMiBs <= 0) {
			t.Errorf("%s round %d: reached GLUE-DONE without init's blkperf figures", b.VMM, b.Round)
		}
		if !b.Stalled && !b.Exited && (b.TCPInMiBs <= 0 || b.TCPOutMiBs <= 0) {
			t.Errorf("%s round %d: reached GLUE-DONE without init's tcp figures", b.VMM, b.Round)
		}
	}
	// A VMM that cannot boot the kernel at all is no comparison.
	for vmm, n := range ended {
		if 2*n > boots {
			t.Errorf("%s ended before GLUE-DONE in %d of %d boots", vmm, n, boots)
		}
	}
	release := strings.TrimPrefix(kernelRelease(kernel), "vmlinuz-")
	block := CompareReport(CompareSetup{At: start, Machine: run.s.Machine, OuterBoots: len(run.s.Boots), Boots: boots, Deadline: scenarioDeadline,
		Took: time.Since(start), Kernel: release, QEMUVersion: firstLine(qemu, "--version"),
		Host: fmt.Sprintf("on %s, %d CPUs, load average (1 min) %s at the start, %s at the end",
			cpuModel(), runtime.NumCPU(), loadBefore, loadAverage())}, run.o.Compared)
	fmt.Print("\n", block)
	if os.Getenv(updateDocEnv) == "1" && !t.Failed() {
		if err := RewriteDoc(perfDoc, block); err != nil {
			t.Fatal(err)
		}
		t.Logf("updated %s", perfDoc)
	}
}

func kernelRelease(kernel string) string {
	parts := strings.Split(kernel, "/")
	return parts[len(parts)-1]
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func firstLine(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "?"
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return line
}
