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
	values samples
	target string                              // the target; "" for none
	met    func(glue, qemu, host float64) bool // on medians; nil without a target
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
// docs/performance.md: the machine, the runs, the table.
func report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s on: %s.\n", time.Now().UTC().Format("2006-01-02 15:04 MST"), machine())
	fmt.Fprintf(&b, "Runs: %s; interleaved glue/QEMU. Each cell: median (min–max); the ratios are those of the medians.\n\n", strings.Join(setups, "; "))
	b.WriteString("| metric | glue | QEMU microvm | host | glue/QEMU | glue/host | target | met |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---|---|\n")
	for _, r := range rows {
		g, q, h := r.values["glue"], r.values["qemu"], r.values[hostName]
		target := r.target
		if target == "" {
			target = "–"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.metric, g.summary(r.verb), q.summary(r.verb),
			h.summary(r.verb), ratio(g, q), ratio(g, h), target, r.judge())
	}
	return b.String()
}

// judge says whether the row's target is met: "yes", "**no**", or "–"
// without a target or without the values it is relative to.
func (r row) judge() string {
	g, q, h := r.values["glue"], r.values["qemu"], r.values[hostName]
	if r.met == nil || len(g) == 0 || (len(q) == 0 && strings.Contains(r.target, "QEMU")) ||
		(len(h) == 0 && strings.Contains(r.target, "host")) {
		return "–"
	}
	if r.met(g.median(), q.median(), h.median()) {
		return "yes"
	}
	return "**no**"
}

// ratio renders a/b of the medians, or "–" without both.
func ratio(a, b sample) string {
	if len(a) == 0 || len(b) == 0 {
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
	return strings.Join(parts, "; ")
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

const (
	beginMarker = "<!-- perf:begin -->"
	endMarker   = "<!-- perf:end -->"
)

// rewriteDoc replaces what lies between the markers in the file at path
// with block, leaving the rest of the page as written.
func rewriteDoc(path, block string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	before, rest, ok := bytes.Cut(doc, []byte(beginMarker))
	_, after, ok2 := bytes.Cut(rest, []byte(endMarker))
	if !ok || !ok2 {
		return errors.New(path + ": no " + beginMarker + " ... " + endMarker + " section")
	}
	var out bytes.Buffer
	out.Write(before)
	out.WriteString(beginMarker + "\n" + block + endMarker)
	out.Write(after)
	return os.WriteFile(path, out.Bytes(), 0o644)
}
