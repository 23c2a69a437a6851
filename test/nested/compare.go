package nested

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gluevmm/glue/test/nested/plan"
	"github.com/gluevmm/glue/test/scenario"
)

// CompareScenario is the boot both VMMs run in the comparison: the
// vmlinux ELF through PVH, which is how QEMU's microvm boots an ELF, so
// both enter the kernel at the same place; init prints ticks after
// GLUE-DONE, where the harness kills either VMM. Its devices are on
// virtio-mmio (QEMU's microvm has no PCI): a virtio-blk disk of
// CompareDiskMiB, on which init's blkperf check measures throughput, and
// a virtio-net on the tap scenario.NetTap, through which init's tcp check
// moves scenario.TCPMiB in and scenario.TCPUpKiB out.
var CompareScenario = scenario.Scenario{Name: "compare-vmlinux-pvh-1cpu", CPUs: 1, MemMiB: 256, ELF: true,
	Entry: []string{"--boot", "pvh"}, End: "tick",
	Devices: []string{"--transport", "mmio", "--net", "tap=" + scenario.NetTap}, Virtio: 2,
	Checks: []string{"blkperf", "net", "tcp"}, BlkperfMiB: 32, Net: true}

// CompareDiskMiB is the size of the comparison's raw disk image, which the
// outer init creates afresh (sparse, zeros) in its tmpfs for each boot;
// blkperf writes and reads its first CompareScenario.BlkperfMiB.
const CompareDiskMiB = 64

// CompareSetup describes where a comparison ran, for its report.
type CompareSetup struct {
	At          time.Time
	Host        string // the host's CPU and load
	Machine     Machine
	QEMUVersion string
	Kernel      string // the kernel's release, outside and inside
	Boots       int    // per VMM, as planned
	OuterBoots  int    // boots of the outer machine: one more for each that wedged
	Deadline    time.Duration
	Took        time.Duration
}

// metric is one row of the comparison's table: a value of each boot.
type metric struct {
	name  string
	verb  string
	value func(plan.Boot) float64
	// measured leaves out the boots without this metric (a failed
	// check), where nil takes every boot that reached GLUE-DONE.
	measured func(plan.Boot) bool
}

var compareMetrics = []metric{
	{"boot to init: VMM start → init's first line (s)", "%.1f", func(b plan.Boot) float64 { return b.InitSecs }, nil},
	{"boot to the end of init's checks: → GLUE-DONE (s)", "%.1f", func(b plan.Boot) float64 { return b.DoneSecs }, nil},
	{"VMM CPU time, user+system, until GLUE-DONE (s)", "%.2f", func(b plan.Boot) float64 { return b.CPUSecs }, nil},
	{"VMM peak RSS (MiB)", "%.1f", func(b plan.Boot) float64 { return float64(b.MaxRSSKiB) / 1024 }, nil},
	{"disk sequential write: 1 MiB O_DIRECT writes, then fdatasync, timed in the guest (MiB/s)", "%.1f",
		func(b plan.Boot) float64 { return b.BlkWriteMiBs }, func(b plan.Boot) bool { return b.BlkWriteMiBs > 0 }},
	{"disk sequential read: 1 MiB O_DIRECT reads, timed in the guest (MiB/s)", "%.1f",
		func(b plan.Boot) float64 { return b.BlkReadMiBs }, func(b plan.Boot) bool { return b.BlkReadMiBs > 0 }},
	{fmt.Sprintf("TCP into the guest: %d MiB from the outer machine through the tap, timed in the guest (MiB/s)", scenario.TCPMiB), "%.1f",
		func(b plan.Boot) float64 { return b.TCPInMiBs }, func(b plan.Boot) bool { return b.TCPInMiBs > 0 }},
	{fmt.Sprintf("TCP out of the guest: %d KiB to the outer machine, timed in the guest (MiB/s)", scenario.TCPUpKiB), "%.1f",
		func(b plan.Boot) float64 { return b.TCPOutMiBs }, func(b plan.Boot) bool { return b.TCPOutMiBs > 0 }},
}

// CompareReport renders the Markdown block of docs/performance.md between
// its nested markers from the boots of one comparison. Timings come from
// the boots that reached GLUE-DONE; the stalls and early ends are counted.
func CompareReport(s CompareSetup, boots []plan.Boot) string {
	var b strings.Builder
	by := map[string][]plan.Boot{}
	for _, x := range boots {
		by[x.VMM] = append(by[x.VMM], x)
	}
	outerParams := ""
	if s.Machine.ExtraParams != "" {
		outerParams = fmt.Sprintf(" (outer kernel booted with `%s`)", s.Machine.ExtraParams)
	}
	fmt.Fprintf(&b, "Measured %s **inside an emulated machine**: QEMU's TCG (`-accel tcg -cpu EPYC,+svm -smp %d -m %d`), "+
		"whose Linux %s%s runs `kvm_amd` with nested paging; %s; %s. Every instruction of the outer machine is emulated, "+
		"so the seconds are not those of any real host: only the ratios mean anything.\n\n",
		s.At.UTC().Format("2006-01-02 15:04 MST"), s.Machine.CPUs, s.Machine.MemMiB, s.Kernel, outerParams, s.QEMUVersion, s.Host)
	sc := CompareScenario
	fmt.Fprintf(&b, "Boot: Debian's kernel %s as the vmlinux ELF through PVH, %d vCPU, %d MiB, `quiet`, the test initramfs "+
		"(init loads its modules, virtio_mmio, virtio_blk and virtio_net among them); glue `run --boot pvh`, "+
		"QEMU `-M "+scenario.QEMUMachine+" -enable-kvm -cpu host`; "+
		"each VMM killed when init prints GLUE-DONE. %d boots per VMM planned, alternating (glue first in odd rounds, "+
		"QEMU first in even ones), deadline %v per boot, on %d boot(s) of the outer machine (a fresh one goes on when one "+
		"wedges); the run took %.1f minutes. "+
		"Each cell: median (min–max) over the boots that reached GLUE-DONE; the ratio is that of the medians.\n\n",
		s.Kernel, sc.CPUs, sc.MemMiB, s.Boots, s.Deadline, s.OuterBoots, s.Took.Minutes())
	fmt.Fprintf(&b, "Disk: a fresh sparse %d MiB raw image in the outer machine's tmpfs for each boot, the same for both, "+
		"as virtio-blk on virtio-mmio (glue `--transport mmio -d path=IMG`, which Linux finds in glue's DSDT; QEMU "+
		"`-drive id=d0,file=IMG,format=raw,if=none,cache=%s -device virtio-blk-device,drive=d0`, in microvm's DSDT), both with buffered host I/O: glue opens the image without O_DIRECT and "+
		"fdatasyncs it on the guest's flush, which is QEMU's cache=%s. "+
		"Init's blkperf check writes the disk's first %d MiB in 1 MiB O_DIRECT writes, fdatasyncs, and reads them back with "+
		"O_DIRECT, each phase timed by the guest's monotonic clock; for its rows a ratio above 1 means glue moved more "+
		"MiB/s.\n\n", CompareDiskMiB, scenario.QEMUCache, scenario.QEMUCache, sc.BlkperfMiB)
	fmt.Fprintf(&b, "Network: virtio-net on virtio-mmio on the outer machine's tap %s (glue `--net tap=%s`, QEMU "+
		"`-netdev tap,id=n0,ifname=%s,script=no,downscript=no -device virtio-net-device,netdev=n0`, without vhost-net), "+
		"the outer machine at %s and the guest at %s. Init's tcp check receives %d MiB from a server in the outer "+
		"machine, then sends %d KiB back, every byte's digest checked on both sides; each direction is timed by the "+
		"guest's monotonic clock.\n\n", scenario.NetTap, scenario.NetTap, scenario.NetTap, scenario.NetHost, scenario.NetGuest,
		scenario.TCPMiB, scenario.TCPUpKiB)
	b.WriteString("| metric | glue | QEMU microvm | glue/QEMU |\n|---|---:|---:|---:|\n")
	for _, m := range compareMetrics {
		g, q := values(by["glue"], m), values(by["qemu"], m)
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", m.name, summary(g, m.verb), summary(q, m.verb), ratio(g, q))
	}
	count := func(vmm string, f func(plan.Boot) bool) string {
		n := 0
		for _, x := range by[vmm] {
			if f(x) {
				n++
			}
		}
		return fmt.Sprintf("%d of %d", n, len(by[vmm]))
	}
	stalled := func(x plan.Boot) bool { return x.Stalled }
	exited := func(x plan.Boot) bool { return x.Exited }
	wedged := func(x plan.Boot) bool { return x.Wedged }
	failed := func(x plan.Boot) bool { return x.Fails > 0 }
	fmt.Fprintf(&b, "| stalled: no GLUE-DONE within %v | %s | %s | |\n", s.Deadline, count("glue", stalled), count("qemu", stalled))
	fmt.Fprintf(&b, "| of those: the whole outer machine locked up (soft lockups) | %s | %s | |\n", count("glue", wedged), count("qemu", wedged))
	fmt.Fprintf(&b, "| VMM ended before GLUE-DONE | %s | %s | |\n", count("glue", exited), count("qemu", exited))
	fmt.Fprintf(&b, "| init reported a failed check | %s | %s | |\n", count("glue", failed), count("qemu", failed))
	for _, vmm := range []string{"glue", "qemu"} {
		for _, x := range by[vmm] {
			if x.Stalled || x.Exited {
				how := "stalled"
				if x.Wedged {
					how = "the outer machine locked up"
				}
				if x.Exited {
					how = "ended early"
				}
				fmt.Fprintf(&b, "\n- %s, round %d: %s; its last lines: %s", vmm, x.Round, how, lastLines(x.Last, 2))
			} else if len(x.FailLines) > 0 {
				fmt.Fprintf(&b, "\n- %s, round %d: init failed: %s", vmm, x.Round, lastLines(x.FailLines, 2))
			}
		}
	}
	b.WriteString("\n")
	return b.String()
}

// lastLines quotes the last n of lines, for a Markdown list item.
func lastLines(lines []string, n int) string {
	if len(lines) == 0 {
		return "none"
	}
	var q []string
	for _, l := range lines[max(0, len(lines)-n):] {
		q = append(q, "`"+strings.ReplaceAll(strings.TrimSpace(l), "`", "'")+"`")
	}
	return strings.Join(q, " ")
}

// values are m of the boots that reached GLUE-DONE and measured it.
func values(boots []plan.Boot, m metric) []float64 {
	var v []float64
	for _, x := range boots {
		if !x.Stalled && !x.Exited && (m.measured == nil || m.measured(x)) {
			v = append(v, m.value(x))
		}
	}
	slices.Sort(v)
	return v
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

func summary(sorted []float64, verb string) string {
	if len(sorted) == 0 {
		return "–"
	}
	return fmt.Sprintf(verb+" ("+verb+"–"+verb+")", median(sorted), sorted[0], sorted[len(sorted)-1])
}

func ratio(a, b []float64) string {
	if len(a) == 0 || len(b) == 0 || median(b) == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", median(a)/median(b))
}

// Markers around the generated block in docs/performance.md.
const (
	BeginMarker = "<!-- nested:begin -->"
	EndMarker   = "<!-- nested:end -->"
)

// RewriteDoc replaces what lies between the markers in the file at path
// with block.
func RewriteDoc(path, block string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("nested: %w", err)
	}
	doc := string(b)
	i, j := strings.Index(doc, BeginMarker), strings.Index(doc, EndMarker)
	if i < 0 || j < i {
		return fmt.Errorf("nested: %s has no %s ... %s", path, BeginMarker, EndMarker)
	}
	doc = doc[:i+len(BeginMarker)] + "\n" + block + doc[j:]
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		return fmt.Errorf("nested: %w", err)
	}
	return nil
}
