package perf

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/loader"
	"github.com/gluevmm/glue/test/hosttest"
)

// BenchmarkKernelBoot times glue from its start to a stock kernel's first
// line, for GLUE_TEST_KERNEL's bzImage and for the vmlinux that
// loader.ExtractVmlinux takes out of it (issue 11 item 8): what a
// compressed kernel costs a boot, next to the extraction alone in the
// perf-extract block. The block is docs/performance.md's perf-kernelboot
// block.
func BenchmarkKernelBoot(b *testing.B) {
	vmms(b) // builds glue
	kernel := hosttest.Kernel(b)
	vmlinux := writeVmlinux(b, kernel, b.TempDir())
	images := []vmm{kernelImage(bzImageName, kernel), kernelImage(vmlinuxName, vmlinux)}
	start := time.Now()
	times := newRounds(*nRounds)
	for r := range *nRounds {
		// Each round another image goes first: one run each is the usual.
		order := append(slices.Clone(images[r%len(images):]), images[:r%len(images)]...)
		interleaveRound(r, *kernelBootRuns, order, func(r int, v vmm) {
			tr, err := bootWith(v, linuxParams, bootOpts{until: firstKernelLine}, kernelBootTimeout)
			if err != nil {
				b.Fatal(err)
			}
			times.add(r, v.name, tr.end.at.Seconds())
			b.Logf("%s round %d: first kernel line after %.2f s", v.name, r+1, tr.end.at.Seconds())
		})
	}
	all := times.pooled()
	b.ReportMetric(all[bzImageName].median(), "bzImage-s")
	b.ReportMetric(all[vmlinuxName].median(), "vmlinux-s")
	kernelBootRun = &kernelBootResult{kernel: kernel, times: times, runs: *kernelBootRuns, took: time.Since(start)}
}

var kernelBootRuns = flag.Int("kernel-boot-runs", 1, "BenchmarkKernelBoot: boots of each kernel image per round")

const (
	bzImageName = "bzImage"
	vmlinuxName = "vmlinux"
	// linuxParams make the kernel print from its first line on: the
	// early console replays the log buffer, `Linux version` first.
	linuxParams     = "console=ttyS0 earlyprintk=serial"
	firstKernelLine = "Linux version"
	// On PVM a stock kernel's early boot runs under KVM's instruction
	// emulator and takes ~20 s to its first line (docs/testing.md).
	kernelBootTimeout = 3 * time.Minute
)

// kernelImage is glue booting the kernel image at path, named for it.
func kernelImage(name, path string) vmm {
	v := glueVMM(glueBin, path, runtimeDir(), transport())
	v.name = name
	return v
}

// writeVmlinux extracts the vmlinux of the bzImage at kernel into dir, as
// glue does at start-up, and returns its path.
func writeVmlinux(b *testing.B, kernel, dir string) string {
	b.Helper()
	image, err := os.ReadFile(kernel)
	if err != nil {
		b.Fatal(err)
	}
	vmlinux, _, err := loader.ExtractVmlinux(image)
	if err != nil {
		b.Fatalf("%s: %v", kernel, err)
	}
	path := filepath.Join(dir, "vmlinux")
	if err := os.WriteFile(path, vmlinux, 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// kernelBootResult is what one BenchmarkKernelBoot measured, for its block.
type kernelBootResult struct {
	kernel string
	times  rounds // seconds to the first kernel line, by image and round
	runs   int    // boots of each image per round
	took   time.Duration
}

// kernelBootRun is the last BenchmarkKernelBoot's result; nil if none ran.
var kernelBootRun *kernelBootResult

// The markers around the kernel-boot block.
const (
	kernelBootBegin = "<!-- perf-kernelboot:begin -->"
	kernelBootEnd   = "<!-- perf-kernelboot:end -->"
)

// kernelBootReport renders the block between the perf-kernelboot markers:
// the method, one row per image, and the difference round by round.
func kernelBootReport(machine string, at time.Time, res kernelBootResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s on: %s.\n", at.UTC().Format("2006-01-02 15:04 MST"), machine)
	fmt.Fprintf(&b, "Input: `%s` (%s) as it is, a bzImage, and the vmlinux `loader.ExtractVmlinux` takes out of it, written to a file before the runs; "+
		"glue boots each with `glue run -c 1 -m %d --transport %s -k IMAGE -p \"%s\"`, timed from just before its fork+exec to the arrival of the kernel's first line (`%s`). "+
		"In each of %d rounds, %d boot(s) of each image, taking turns at going first. The benchmark took %.1f minutes. "+
		"Each cell: median (min–max) over the runs of all rounds; the difference is that of the medians.\n\n",
		filepath.Base(res.kernel), hosttest.KernelEnv, guestMiB, transport(), linuxParams, firstKernelLine, len(res.times), res.runs, res.took.Minutes())
	b.WriteString("| kernel image | start → first kernel line (s) | bzImage − vmlinux (s) |\n")
	b.WriteString("|---|---:|---:|\n")
	all := res.times.pooled()
	bz, vm := all[bzImageName], all[vmlinuxName]
	fmt.Fprintf(&b, "| bzImage | %s | %.2f |\n", bz.summary("%.2f"), bz.median()-vm.median())
	fmt.Fprintf(&b, "| vmlinux | %s | – |\n", vm.summary("%.2f"))
	var byRound []string
	for _, r := range res.times {
		byRound = append(byRound, fmt.Sprintf("%.2f", r[bzImageName].median()-r[vmlinuxName].median()))
	}
	fmt.Fprintf(&b, "\nbzImage − vmlinux, round by round (s): %s.\n", strings.Join(byRound, ", "))
	return b.String()
}
