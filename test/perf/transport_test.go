package perf

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/test/hosttest"
)

var transportRuns = flag.Int("transport-runs", 2, "BenchmarkTransports: runs per VMM and transport, and round")

// glueMMIO is the sample key of glue with its devices on virtio-mmio in
// BenchmarkTransports; glue and QEMU on virtio-pci keep the keys "glue"
// and "qemu", which the targets compare.
const glueMMIO = "glue-mmio"

// transportRows and transportSetup are what BenchmarkTransports measured,
// for the second generated block of docs/performance.md.
var (
	transportRows  []row
	transportSetup string
	transportTook  time.Duration
)

// BenchmarkTransports compares, in one interleaved run, glue with its
// devices on virtio-pci (MSI-X), the same glue on virtio-mmio, and QEMU's
// microvm on virtio-pci (pcie=on, modern virtio-blk-pci and
// virtio-net-pci), all on the same guest: each boot gives the guest a disk
// and, where the host allows a tap, a NIC, and runs blk-bench and then the
// ping responder. It times the boot to the first guest line, sequential
// block throughput, the 4 KiB random read's round trip (notify → device
// → completion interrupt, or the poll over MMIO) and ping's round trip.
func BenchmarkTransports(b *testing.B) {
	start := time.Now()
	variants := transportVMMs(b)
	img := blockImage(b)
	tests := fmt.Sprintf("blk-bench glue.blk.mib=%d glue.blk.iops=%d", *blkMiB, *blkOps)
	var ns netns
	withNet := os.Geteuid() == 0 && haveTools(b, "ip", "ping")
	if withNet {
		ns = newNetns(b)
		tests = strings.Replace(tests, "blk-bench", "blk-bench,net", 1) +
			fmt.Sprintf(" glue.ip=%s glue.net.pings=%d glue.net.timeout=60", guestIP, *pings+1)
	} else {
		b.Log("network part skipped: it needs root, ip and ping")
	}
	cmdline := guestCmdline(tests)
	n := *nRounds
	first, write, read, rtt, cpu, ping := newRounds(n), newRounds(n), newRounds(n), newRounds(n), newRounds(n), newRounds(n)
	order := warmUpAll(b, variants)
	reqKiB := 0
	for r := range n {
		runs := map[string]int{}
		interleaveRound(r, *transportRuns, order, func(r int, v vmm) {
			o := bootOpts{dev: devices{disk: img}}
			var pingMS sample
			var pingErr error
			if withNet {
				ns.run(b, "ip", "neigh", "flush", "dev", tapName)
				o.dev.tap, o.netns = tapName, string(ns)
				o.onLine = func(l line) {
					if strings.HasPrefix(l.text, "GLUE-READY net ") {
						if _, pingErr = ns.ping(guestIP, 1); pingErr == nil {
							pingMS, pingErr = ns.ping(guestIP, *pings)
						}
					}
				}
			}
			tr, err := bootWith(v, cmdline, o, 3*time.Minute)
			if err = errors.Join(err, pingErr); err == nil && withNet && pingMS == nil {
				err = fmt.Errorf("%s: no GLUE-READY net line", v.name)
			}
			if err != nil {
				b.Fatal(err)
			}
			runs[v.name]++
			var p [3]phase
			for i, name := range blkPhases {
				if p[i], err = blkPhase(tr, name); err != nil {
					b.Fatalf("%s: %v\n%s", v.name, err, tr.output())
				}
			}
			first.add(r, v.name, ms(tr.lines[0].at))
			write.add(r, v.name, float64(*blkMiB)/p[0].secs)
			read.add(r, v.name, float64(*blkMiB)/p[1].secs)
			rtt.add(r, v.name, 1e6*p[2].secs/float64(p[2].reqs))
			reqs := p[0].reqs + p[1].reqs + p[2].reqs
			cpu.add(r, v.name, float64((p[0].cpu+p[1].cpu+p[2].cpu).Microseconds())/float64(reqs))
			ping[r][v.name] = append(ping[r][v.name], pingMS...)
			reqKiB = p[0].req >> 10
			b.Logf("%s round %d run %d: first line %.1f ms, write %.0f MiB/s, read %.0f MiB/s, 4 KiB round trip %.0f µs, ping median %.3f ms over %d",
				v.name, r+1, runs[v.name], ms(tr.lines[0].at), float64(*blkMiB)/p[0].secs, float64(*blkMiB)/p[1].secs,
				1e6*p[2].secs/float64(p[2].reqs), pingMS.median(), len(pingMS))
		})
	}
	write.pooled().report(b, "write-MiB/s", "write-ratio")
	rtt.pooled().report(b, "rtt-us", "rtt-ratio")
	transportRows = []row{
		{"start → first guest line (ms)", "%.1f", first, quarterOfQEMU},
		{fmt.Sprintf("block sequential write, %d KiB requests (MiB/s)", reqKiB), "%.0f", write, atLeastQEMU},
		{fmt.Sprintf("block sequential read, %d KiB requests (MiB/s)", reqKiB), "%.0f", read, atLeastQEMU},
		{"4 KiB read round trip: notify → completion seen (µs)", "%.0f", rtt, atMostQEMU},
		{"VMM CPU time per block request, user+sys (µs)", "%.0f", cpu, nil},
	}
	if withNet {
		transportRows = append(transportRows, row{"ping round trip host → guest, each reply (ms)", "%.3f", ping, atMostQEMU})
	}
	transportSetup = fmt.Sprintf("%d runs per VMM and transport in each of %d rounds, interleaved; guest `%s`, %d MiB image in the page cache",
		*transportRuns, n, cmdline, imageMiB)
	if withNet {
		transportSetup += fmt.Sprintf(", %d pings 0.2 s apart after one untimed", *pings)
	}
	transportTook = time.Since(start)
}

// transportVMMs returns glue on virtio-pci ("glue"), glue on virtio-mmio
// and QEMU's microvm on virtio-pci ("qemu", if installed).
func transportVMMs(b *testing.B) []vmm {
	b.Helper()
	glue, qemu := vmms(b)
	elf, err := filepath.Abs(guestELF)
	if err != nil {
		b.Fatal(err)
	}
	onMMIO := glueVMM(glue.path, elf, runtimeDir(), mmio)
	onMMIO.name = glueMMIO
	variants := []vmm{glueVMM(glue.path, elf, runtimeDir(), pci), onMMIO}
	if qemu != nil {
		variants = append(variants, qemuVMM(qemu.path, elf, pci))
	}
	return variants
}

// warmUpAll boots each VMM once, untimed, as warmUp does for two.
func warmUpAll(b *testing.B, order []vmm) []vmm {
	b.Helper()
	for _, v := range order {
		if _, err := boot(v, guestCmdline("cmdline"), time.Minute); err != nil {
			b.Fatalf("warm-up: %v", err)
		}
	}
	return order
}

// haveTools reports whether every named program is there, by the skip
// rule (hosttest.LookPathOptional) for each.
func haveTools(b *testing.B, names ...string) bool {
	for _, n := range names {
		if _, ok := hosttest.LookPathOptional(b, n); !ok {
			return false
		}
	}
	return true
}

// transportReport renders the block that goes between the perf-pci
// markers of docs/performance.md: the runs, the table of the three
// variants with their ratios, and the verdict on each target, all from
// BenchmarkTransports' run.
func transportReport(machine string, at time.Time) string {
	var b strings.Builder
	b.WriteString(measured(at, machine))
	fmt.Fprintf(&b, "Runs: %s. The benchmark took %.1f minutes. Each cell: median (min–max) over the runs of all rounds; "+
		"the ratios are those of these medians. A target compares glue on virtio-pci with QEMU on virtio-pci and is judged "+
		"as in the table above.\n\n", transportSetup, transportTook.Minutes())
	b.WriteString("| metric | glue, virtio-pci | glue, virtio-mmio | QEMU microvm, virtio-pci | glue pci/mmio | glue/QEMU, pci | target | verdict over the rounds |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---|---|\n")
	for _, r := range transportRows {
		all := r.values.pooled()
		g, m, q := all["glue"], all[glueMMIO], all["qemu"]
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.metric, g.summary(r.verb), m.summary(r.verb),
			q.summary(r.verb), ratio(g, m), ratio(g, q), r.target, judge(r.target, r.values).cell())
	}
	targetsByRound(&b, transportRows)
	return b.String()
}
