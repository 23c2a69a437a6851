package perf

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gluevmm/glue/loader"
	"github.com/gluevmm/glue/test/hosttest"
)

// BenchmarkKernelBoot times glue booting GLUE_TEST_KERNEL's bzImage and
// the vmlinux that loader.ExtractVmlinux takes out of it (issue 11 item
// 8), to the kernel's first line and, from glue's --boot-timeline, to the
// start of its vCPUs: what a compressed kernel costs a boot is spent
// before the first KVM_RUN, next to the extraction alone in the
// perf-extract block. The block is docs/performance.md's perf-kernelboot
// block.
func BenchmarkKernelBoot(b *testing.B) {
	vmms(b) // builds glue
	kernel := hosttest.Kernel(b)
	vmlinux := writeVmlinux(b, kernel, b.TempDir())
	images := []vmm{kernelImage(bzImageName, kernel), kernelImage(vmlinuxName, vmlinux)}
	start := time.Now()
	firstLine, vcpus := newRounds(*nRounds), newRounds(*nRounds)
	for r := range *nRounds {
		// Each round another image goes first: one run each is the usual.
		order := append(slices.Clone(images[r%len(images):]), images[:r%len(images)]...)
		interleaveRound(r, *kernelBootRuns, order, func(r int, v vmm) {
			// SIGTERM stops the VM in order, and glue prints its timeline.
			tr, err := bootWith(v, linuxParams, bootOpts{until: firstKernelLine, stop: syscall.SIGTERM}, kernelBootTimeout)
			if err != nil {
				b.Fatal(err)
			}
			started, ok := parseTimeline(tr.stderr)[vcpusStarted]
			if !ok {
				b.Fatalf("%s: no %q in glue's boot timeline:\n%s", v.name, vcpusStarted, tr.stderr)
			}
			firstLine.add(r, v.name, tr.end.at.Seconds())
			vcpus.add(r, v.name, started)
			b.Logf("%s round %d: vCPUs started %.1f ms after main, first kernel line after %.2f s", v.name, r+1, started, tr.end.at.Seconds())
		})
	}
	b.ReportMetric(firstLine.pooled()[bzImageName].median(), "bzImage-s")
	b.ReportMetric(firstLine.pooled()[vmlinuxName].median(), "vmlinux-s")
	kernelBootRun = &kernelBootResult{kernel: kernel, firstLine: firstLine, vcpus: vcpus, runs: *kernelBootRuns, took: time.Since(start)}
}

var kernelBootRuns = flag.Int("kernel-boot-runs", 1, "BenchmarkKernelBoot: boots of each kernel image per round")

const (
	bzImageName = "bzImage"
	vmlinuxName = "vmlinux"
	// linuxParams make the kernel print from its first line on: the
	// early console replays the log buffer, `Linux version` first.
	linuxParams     = "console=ttyS0 earlyprintk=serial"
	firstKernelLine = "Linux version"
	// vcpusStarted is the --boot-timeline phase just before the first
	// KVM_RUN.
	vcpusStarted = "start vCPUs"
	// On PVM a stock kernel's early boot runs under KVM's instruction
	// emulator and takes ~20 s to its first line (docs/testing.md).
	kernelBootTimeout = 3 * time.Minute
)

// kernelImage is glue booting the kernel image at path with
// --boot-timeline, named for the image.
func kernelImage(name, path string) vmm {
	v := withTimeline(glueVMM(glueBin, path, runtimeDir(), transport()))
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
	kernel    string
	firstLine rounds // seconds to the first kernel line, by image and round
	vcpus     rounds // ms from glue's main to its vCPUs' start
	runs      int    // boots of each image per round
	took      time.Duration
}

// kernelBootRun is the last BenchmarkKernelBoot's result; nil if none ran.
var kernelBootRun *kernelBootResult

// The markers around the kernel-boot block.
const (
	kernelBootBegin = "<!-- perf-kernelboot:begin -->"
	kernelBootEnd   = "<!-- perf-kernelboot:end -->"
)

// kernelBootReport renders the block between the perf-kernelboot markers:
// the method, one row per image and one of their difference, and the
// difference round by round.
func kernelBootReport(machine string, at time.Time, res kernelBootResult) string {
	var b strings.Builder
	b.WriteString(measured(at, machine))
	fmt.Fprintf(&b, "Input: `%s` (%s) as it is, a bzImage, and the vmlinux `loader.ExtractVmlinux` takes out of it, written to a file before the runs; "+
		"glue boots each with `glue run --boot-timeline -c 1 -m %d --transport %s -k IMAGE -p \"%s\"`, and is stopped with SIGTERM at the kernel's first line (`%s`). "+
		"Timed: glue's `%s` phase of `--boot-timeline` (ms since its main; the first KVM_RUN follows), and the first line's arrival (s since just before glue's fork+exec). "+
		"In each of %d rounds, %d boot(s) of each image, taking turns at going first. The benchmark took %.1f minutes. "+
		"Each cell: median (min–max) over the runs of all rounds; the difference is that of the medians.\n\n",
		filepath.Base(res.kernel), hosttest.KernelEnv, guestMiB, transport(), linuxParams, firstKernelLine, vcpusStarted,
		len(res.firstLine), res.runs, res.took.Minutes())
	b.WriteString("| kernel image | glue's main → vCPUs started (ms) | start → first kernel line (s) |\n")
	b.WriteString("|---|---:|---:|\n")
	vcpus, line := res.vcpus.pooled(), res.firstLine.pooled()
	for _, image := range []string{bzImageName, vmlinuxName} {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", image, vcpus[image].summary("%.1f"), line[image].summary("%.2f"))
	}
	fmt.Fprintf(&b, "| bzImage − vmlinux | %.1f | %.2f |\n", difference(vcpus), difference(line))
	var vcpusByRound, lineByRound []string
	for r := range res.firstLine {
		vcpusByRound = append(vcpusByRound, fmt.Sprintf("%.1f", difference(res.vcpus[r])))
		lineByRound = append(lineByRound, fmt.Sprintf("%.2f", difference(res.firstLine[r])))
	}
	fmt.Fprintf(&b, "\nbzImage − vmlinux, round by round: vCPUs started %s ms; first kernel line %s s.\n",
		strings.Join(vcpusByRound, ", "), strings.Join(lineByRound, ", "))
	return b.String()
}

// difference is the bzImage's median less the vmlinux's.
func difference(s samples) float64 { return s[bzImageName].median() - s[vmlinuxName].median() }
