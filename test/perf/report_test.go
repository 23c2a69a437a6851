package perf

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// row is one line of the results table.
type row struct {
	metric string
	verb   string // how to print one value, e.g. "%.1f"
	values rounds
	target target // the goal; nil for none
}

// hostName is the key of samples measured by the benchmark process itself,
// without a VM: the limit a VMM's device path is compared with.
const hostName = "host"

// rows and setups are filled by the benchmarks that ran, in order, and
// printed by TestMain when all of them are done.
var (
	rows   []row
	setups []string
)

func record(r row)   { rows = append(rows, r) }
func setup(s string) { setups = append(setups, s) }

// report renders the Markdown block that goes between the markers of
// docs/performance.md: the machine, the runs, the table and the verdict on
// each target, all from this run. took is how long the benchmarks ran.
func report(machine string, at time.Time, took time.Duration, nRounds int) string {
	var b strings.Builder
	b.WriteString(measured(at, machine))
	fmt.Fprintf(&b, "Runs, in each of %d rounds: %s; interleaved glue/QEMU, and in start-up and exits also kvmtool and the bare C and Go harnesses. "+
		"Peers: %s. The benchmarks took %.1f minutes. "+
		"Each cell: median (min–max) over the runs of all rounds; the ratios are those of these medians. "+
		"A target is judged on each round's medians and called met or not met only when %d or more rounds all agree; "+
		"otherwise it is not reproducible, and its range over the rounds is given.\n\n",
		nRounds, strings.Join(setups, "; "), peersLine(), took.Minutes(), minRounds)
	b.WriteString("| metric |")
	for _, c := range columns {
		b.WriteString(" " + c.title + " |")
	}
	for _, c := range columns[1:] {
		b.WriteString(" glue/" + c.short + " |")
	}
	b.WriteString(" target | verdict over the rounds |\n|---|")
	b.WriteString(strings.Repeat("---:|", 2*len(columns)-1) + "---|---|\n")
	for _, r := range rows {
		all := r.values.pooled()
		fmt.Fprintf(&b, "| %s |", r.metric)
		for _, c := range columns {
			fmt.Fprintf(&b, " %s |", all[c.name].summary(r.verb))
		}
		for _, c := range columns[1:] {
			fmt.Fprintf(&b, " %s |", ratio(all["glue"], all[c.name]))
		}
		fmt.Fprintf(&b, " %s | %s |\n", r.target, judge(r.target, r.values).cell())
	}
	targetsByRound(&b, rows)
	return b.String()
}

// columns are the main table's VMMs, glue first, and the host: the key
// of their samples, the column's title, and how a ratio names them.
var columns = []struct{ name, title, short string }{
	{"glue", "glue", "glue"},
	{kvmtoolName, "kvmtool", "kvmtool"},
	{bareName, "bare C", "bare"},
	{bareGoName, "bare Go", "bare Go"},
	{"qemu", "QEMU microvm", "QEMU"},
	{hostName, "host", "host"},
}

// measured is the first line of every generated block: when and where.
func measured(at time.Time, machine string) string {
	return fmt.Sprintf("Measured %s on: %s.\n", at.UTC().Format("2006-01-02 15:04 MST"), machine)
}

// peersLine says what each peer was, or why it was not measured.
func peersLine() string {
	if len(peerNotes) == 0 {
		return "kvmtool and the bare C and Go harnesses not set up (neither start-up nor exits ran)"
	}
	return strings.Join(peerNotes, "; ")
}

// targetsByRound lists each row's target with its verdict and the
// judged quantity round by round.
func targetsByRound(b *strings.Builder, rows []row) {
	b.WriteString("\nThe targets, round by round:\n\n")
	for _, r := range rows {
		if len(r.target) == 0 {
			continue
		}
		v := judge(r.target, r.values)
		fmt.Fprintf(b, "- %s, target %s: **%s**", r.metric, r.target, strings.Trim(v.outcome.String(), "*"))
		if pr := v.perRound(); pr != "" {
			fmt.Fprintf(b, "; %s", pr)
		}
		b.WriteString(".\n")
	}
}

// ratio renders a/b of the medians, or "–" without both or when b's is 0.
func ratio(a, b sample) string {
	if len(a) == 0 || len(b) == 0 || b.median() == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3f", a.median()/b.median())
}

// machine describes the host in one line: CPU, kernel, what /dev/kvm is,
// the QEMU and Go versions and glue's revision.
func machine() string {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for l := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	kvmKind := "hardware KVM"
	if _, err := os.Stat("/sys/module/kvm_pvm"); err == nil {
		kvmKind = "PVM (kvm_pvm, no VMX/SVM)"
	}
	qemuVersion := firstLine(*qemuFlag, "--version")
	if qemuVersion == "?" {
		qemuVersion = "no QEMU (" + *qemuFlag + ")"
	}
	parts := []string{
		fmt.Sprintf("%s, %d CPUs", model, runtime.NumCPU()),
		"Linux " + strings.TrimSpace(string(kernel)),
		"/dev/kvm: " + kvmKind,
		qemuVersion,
		"glue " + firstLine("git", "describe", "--always", "--dirty") + " built with " + runtime.Version(),
	}
	if stateNote != "" {
		parts = append(parts, "the VMMs' runtime files (glue's --runtime-dir, kvmtool's ~/.lkvm) "+stateNote)
	}
	return strings.Join(parts, "; ")
}

// loadAverage is the host's 1-minute load average, from /proc/loadavg:
// how busy the other users of this host kept it.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// firstLine is the first line a command prints, or "?" if it fails.
func firstLine(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "?"
	}
	l, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(l)
}

// The markers around the generated blocks of docs/performance.md.
const (
	beginMarker    = "<!-- perf:begin -->"
	endMarker      = "<!-- perf:end -->"
	transportBegin = "<!-- perf-pci:begin -->"
	transportEnd   = "<!-- perf-pci:end -->"
)

// rewriteDoc replaces what lies between the markers begin and end in the
// file at path with block, leaving the rest of the page as written.
func rewriteDoc(path, begin, end, block string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	before, rest, ok := bytes.Cut(doc, []byte(begin))
	_, after, ok2 := bytes.Cut(rest, []byte(end))
	if !ok || !ok2 {
		return errors.New(path + ": no " + begin + " ... " + end + " section")
	}
	var out bytes.Buffer
	out.Write(before)
	out.WriteString(begin + "\n" + block + end)
	out.Write(after)
	return os.WriteFile(path, out.Bytes(), 0o644)
}
