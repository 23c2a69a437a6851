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
	"time"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/kvm/kvmtest"
	"github.com/gluevmm/glue/test/hosttest"
)

var (
	nRounds   = flag.Int("rounds", minRounds, "independent rounds of every benchmark; a verdict needs "+fmt.Sprint(minRounds))
	boots     = flag.Int("boots", 10, "start-up runs per VMM and round")
	exitRuns  = flag.Int("exit-runs", 3, "exits runs (port I/O, then MMIO) per VMM and round")
	exitCount = flag.Int("exits", 200000, "exits of each kind, port I/O and MMIO, per run (glue.exits=N)")
	qemuFlag  = flag.String("qemu", "qemu-system-x86_64", "QEMU binary to compare against")
	pciFlag   = flag.Bool("pci", false, "put the devices on virtio-pci (glue --transport pci, QEMU microvm,pcie=on with virtio-*-pci) instead of virtio-mmio")
	updateDoc = flag.Bool("update-doc", false, "rewrite the results in "+docPath+" after a full run")
)

const (
	guestELF = "../../guest/glue-guest.elf"
	docPath  = "../../docs/performance.md"
	// benchmarks is how many Benchmark functions this package has
	// (TestBenchmarkCount keeps the number right); mainBenchmarks of them,
	// all but BenchmarkTransports, BenchmarkDensity, BenchmarkExtraction,
	// BenchmarkKernelBoot and the deviceBenchmarks, add one setup line to
	// the main block, which -update-doc rewrites only when all of them ran.
	benchmarks     = 14
	mainBenchmarks = benchmarks - 4 - deviceBenchmarks
)

// buildDir holds, for one package run, the glue binary, the disk image and
// runtimeDir; TestMain removes it at the end.
var (
	buildOnce sync.Once
	buildDir  string
	glueBin   string
	buildErr  error
)

// runtimeDir is the control-socket directory of every glue the benchmarks
// start (--runtime-dir): the VMs killed after a boot leave their socket and
// lock there, not in the user's runtime directory.
func runtimeDir() string { return filepath.Join(stateDir, "run") }

// stateDir holds what the VMMs create per VM (glue's runtime directory,
// kvmtool's ~/.lkvm); stateNote says where it is, for the report.
var stateDir, stateNote string

// makeStateDir puts the VMMs' per-VM files on a tmpfs, as /run and
// $XDG_RUNTIME_DIR are on a systemd host, where /dev/shm is one; else in
// fallback. Creating a file is not free on every file system: on ext4
// without a journal each new inode skips the group's recently deleted ones,
// reading their inode table entries, and the benchmarks delete many.
func makeStateDir(fallback string) (dir, note string, err error) {
	var st unix.Statfs_t
	if unix.Statfs("/dev/shm", &st) != nil || st.Type != unix.TMPFS_MAGIC {
		return fallback, "in the suite's temporary directory (/dev/shm is no tmpfs here)", nil
	}
	dir, err = os.MkdirTemp("/dev/shm", "glue-perf-")
	return dir, "on a tmpfs (/dev/shm)", err
}

func TestMain(m *testing.M) {
	flag.Parse()
	start, loadBefore := time.Now(), loadAverage()
	code := m.Run()
	took := time.Since(start)
	for _, dir := range []string{buildDir, stateDir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	if code == 0 {
		load := fmt.Sprintf("load average (1 min) %s at the start, %s at the end", loadBefore, loadAverage())
		code = writeBlocks(generatedBlocks(machine()+"; "+load, time.Now(), took))
	}
	os.Exit(code)
}

// docBlock is one generated block of docs/performance.md and whether the
// run measured all of it.
type docBlock struct {
	begin, end, text string
	complete         bool
	incomplete       string // what to run instead, when not complete
}

// generatedBlocks are the blocks of the benchmarks that ran: the main
// table, BenchmarkTransports' comparison, BenchmarkDensity's sets,
// BenchmarkExtraction's decoders, BenchmarkKernelBoot's images and the
// device benchmarks' table.
func generatedBlocks(machine string, at time.Time, took time.Duration) []docBlock {
	var blocks []docBlock
	if len(rows) > 0 {
		blocks = append(blocks, docBlock{beginMarker, endMarker, report(machine, at, took, *nRounds),
			len(setups) == mainBenchmarks, "run every benchmark (-bench .) to rewrite the main results"})
	}
	if len(transportRows) > 0 {
		blocks = append(blocks, docBlock{transportBegin, transportEnd, transportReport(machine, at), true, ""})
	}
	if len(densityRows) > 0 {
		blocks = append(blocks, docBlock{densityBegin, densityEnd, densityReport(machine, at), true, ""})
	}
	if extractRun != nil {
		blocks = append(blocks, docBlock{extractBegin, extractEnd, extractReport(machine, at, *extractRun), true, ""})
	}
	if kernelBootRun != nil {
		blocks = append(blocks, docBlock{kernelBootBegin, kernelBootEnd, kernelBootReport(machine, at, *kernelBootRun), true, ""})
	}
	if len(devRows) > 0 {
		blocks = append(blocks, docBlock{devicesBegin, devicesEnd, devicesReport(machine, at), len(devSetups) == deviceBenchmarks,
			"run BenchmarkVsock, BenchmarkBalloon and BenchmarkRateLimit together (-bench 'Vsock|Balloon|RateLimit') to rewrite their block"})
	}
	return blocks
}

// writeBlocks prints the blocks and, with -update-doc, writes each into
// docPath; it returns the exit code.
func writeBlocks(blocks []docBlock) int {
	for _, blk := range blocks {
		fmt.Print("\n", blk.text)
	}
	if !*updateDoc || len(blocks) == 0 {
		return 0
	}
	if *nRounds < minRounds {
		fmt.Fprintf(os.Stderr, "update-doc: a verdict needs -rounds %d or more\n", minRounds)
		return 1
	}
	for _, blk := range blocks {
		if !blk.complete {
			fmt.Fprintln(os.Stderr, "update-doc:", blk.incomplete)
			return 1
		}
	}
	for _, blk := range blocks {
		if err := rewriteDoc(docPath, blk.begin, blk.end, blk.text); err != nil {
			fmt.Fprintln(os.Stderr, "update-doc:", err)
			return 1
		}
	}
	fmt.Println("updated", docPath)
	return 0
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
		if stateDir, stateNote, buildErr = makeStateDir(buildDir); buildErr != nil {
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
	glue = glueVMM(glueBin, elf, runtimeDir(), transport())
	if path, ok := hosttest.LookPathOptional(b, *qemuFlag); ok {
		q := qemuVMM(path, elf, transport())
		qemu = &q
	}
	return glue, qemu
}
