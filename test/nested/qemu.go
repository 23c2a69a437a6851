package nested

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/gluevmm/glue/test/nested/plan"
	"github.com/gluevmm/glue/test/scenario"
)

// Machine is the emulated machine: QEMU's TCG with an AMD CPU model that
// has SVM, so that the outer kernel's kvm_amd finds it and enables nested
// paging.
type Machine struct {
	QEMU   string // qemu-system-x86_64
	Kernel string // the outer kernel (the same bzImage as the inner one)
	Initrd string // the outer initramfs (Build)
	CPUs   int
	MemMiB int
	// Console is the file that receives the outer kernel's console
	// (ttyS0); the markers come on ttyS1, QEMU's stdout.
	Console string
	// ResetLog receives QEMU's record of CPU resets: a machine that ends
	// without powering off was reset (a triple fault, say), which
	// -no-reboot turns into QEMU's exit.
	ResetLog string
	// Watchdog is how long the outer init may go without a marker before
	// the machine counts as wedged; 0: no watchdog.
	Watchdog time.Duration
	// ExtraParams are appended to OuterParams (an experiment's knob,
	// e.g. transparent_hugepage=always).
	ExtraParams string
}

// OuterParams is the outer kernel's command line: quiet leaves errors
// and worse on the console, which is where the outer KVM's complaints
// and soft lockups show.
const OuterParams = "console=ttyS0 quiet panic=-1 rdinit=/init"

func (m Machine) args() []string {
	return []string{"-accel", "tcg", "-cpu", "EPYC,+svm", "-smp", strconv.Itoa(m.CPUs), "-m", strconv.Itoa(m.MemMiB),
		"-nodefaults", "-display", "none", "-no-reboot",
		"-serial", "file:" + m.Console, "-serial", "stdio", "-d", "cpu_reset", "-D", m.ResetLog,
		"-kernel", m.Kernel, "-initrd", m.Initrd, "-append", strings.TrimSpace(OuterParams + " " + m.ExtraParams)}
}

// Attempt is one run of a scenario inside the machine.
type Attempt struct {
	Number int
	Log    []string // glue's output lines
	Result scenario.Result
	Ended  bool // a NESTED-RESULT came, or the machine wedged during it
	// Wedged: the whole outer machine stopped during the attempt (its
	// CPUs locked up) and was killed; the attempt counts as a stall.
	Wedged bool
	// OuterBoot is the boot of the outer machine it ran in, from 1.
	OuterBoot int
}

// linuxBoots counts the attempt's glue runs (a scenario with a root disk
// has several), and those whose Linux got to init.
func (a *Attempt) linuxBoots() (begun, reached int) {
	for _, out := range scenario.SplitBoots(strings.Join(a.Log, "\n")) {
		begun++
		if strings.HasPrefix(out, "GLUE-OK init ") || strings.Contains(out, "\nGLUE-OK init ") {
			reached++
		}
	}
	return begun, reached
}

// Outcome is what the boots of the machine reported, together.
type Outcome struct {
	Ready      time.Duration // when /dev/kvm was there, from QEMU's start, in the first boot
	Fatal      string
	Done       bool
	Attempts   map[string][]*Attempt
	Wall       time.Duration // of all boots
	QEMUErr    error
	Unexpected []string    // marker-port lines that are no marker
	Compared   []plan.Boot // the comparison's boots
	// Wedges are the boots that stopped making progress and were killed,
	// each with the outer console's complaints.
	Wedges [][]string

	outerBoots  int      // boots so far
	current     *Attempt // begun, no result yet
	wedged      bool     // the boot in progress was killed by the watchdog
	readyInBoot bool     // the boot in progress reported NESTED-READY
}

// NewOutcome returns an empty Outcome for Boot to fill.
func NewOutcome() *Outcome { return &Outcome{Attempts: map[string][]*Attempt{}} }

// Boot runs the machine until it powers off, ctx ends, or it wedges: no
// marker (glue's output aside) for m.Watchdog, or, once the outer console
// reports a soft lockup, none for LockupQuiet. It adds what the outer
// init reported to o; progress gets each marker line as it comes. It
// reports whether the machine wedged or a triple fault reset it during
// an attempt; either way the attempt is a stall.
func (m Machine) Boot(ctx context.Context, o *Outcome, progress func(string)) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, m.QEMU, m.args()...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return false, fmt.Errorf("nested: %w", err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("nested: start %s: %w", m.QEMU, err)
	}
	o.wedged, o.readyInBoot, o.Done, o.QEMUErr = false, false, false, nil
	o.outerBoots++
	watchdog := Watch(ctx, cancel, m.Watchdog, m.Console)
	s := bufio.NewScanner(stdout)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		line := strings.TrimRight(s.Text(), "\r")
		o.parse(line, time.Since(start))
		if !strings.HasPrefix(line, "NESTED-LOG ") {
			watchdog.Marker()
		}
		if progress != nil && !strings.HasPrefix(line, "NESTED-LOG ") {
			progress(line)
		}
	}
	err = cmd.Wait()
	cancel()
	o.wedged = watchdog.Wedged()
	o.Wall += time.Since(start)
	// A machine that ends during an attempt with a triple fault in QEMU's
	// reset log was reset by an outer CPU (-no-reboot made that QEMU's
	// exit), one whose console ends in a kernel panic rebooted at once
	// (panic=-1): like a wedge, the emulated machine failed, not the
	// attempt.
	ended := !o.wedged && !o.Done && o.current != nil
	reset := ended && tripleFaulted(m.ResetLog)
	panicked := ""
	if ended {
		panicked = kernelPanic(ReadConsole(m.Console))
	}
	if o.wedged || reset || panicked != "" {
		why := Lockups(ReadConsole(m.Console))
		if reset {
			why = append(why, "the emulated machine was reset: a triple fault in QEMU's CPU reset log")
		}
		if panicked != "" {
			why = append(why, "the outer kernel panicked: "+panicked)
		}
		o.Wedges = append(o.Wedges, why)
		if a := o.current; a != nil {
			a.Ended, a.Wedged, a.Result.Stalled, a.Result.Exit = true, true, true, -1
			a.Result.Output = strings.Join(a.Log, "\n") + "\n"
			o.current = nil
		}
		return true, nil
	}
	if err != nil {
		o.QEMUErr = fmt.Errorf("%s: %w: %s", m.QEMU, err, strings.TrimSpace(stderr.String()))
	}
	return false, nil
}

// tripleFaulted reports whether QEMU's CPU reset log records a triple
// fault.
func tripleFaulted(resetLog string) bool {
	b, _ := os.ReadFile(resetLog)
	return strings.Contains(string(b), "Triple fault")
}

// kernelPanic returns the outer console's "Kernel panic" line, or "".
func kernelPanic(console []string) string {
	for _, l := range console {
		if _, after, ok := strings.Cut(l, "Kernel panic - not syncing"); ok {
			return "Kernel panic - not syncing" + after
		}
	}
	return ""
}

// LockupQuiet is how long the markers may pause once the outer console
// reports a soft lockup: the machine sometimes recovers from a short one.
const LockupQuiet = 90 * time.Second

// ConsoleLockedUp reports whether the outer console shows a soft lockup.
func ConsoleLockedUp(path string) bool {
	b, _ := os.ReadFile(path)
	return strings.Contains(string(b), "BUG: soft lockup")
}

// Lockups are the outer console's lockup and RCU stall lines, at most the
// last 10.
func Lockups(console []string) []string {
	var out []string
	for _, l := range console {
		if strings.Contains(l, "soft lockup") || strings.Contains(l, "rcu_preempt detected stalls") {
			out = append(out, l)
		}
	}
	return out[max(0, len(out)-10):]
}

func (o *Outcome) last(name string) *Attempt {
	as := o.Attempts[name]
	if len(as) == 0 {
		a := &Attempt{Number: 0}
		o.Attempts[name] = []*Attempt{a}
		return a
	}
	return as[len(as)-1]
}

// parse takes one marker-port line.
func (o *Outcome) parse(line string, at time.Duration) {
	word, rest, _ := strings.Cut(line, " ")
	switch word {
	case "NESTED-READY":
		o.readyInBoot = true
		if o.Ready == 0 {
			o.Ready = at
		}
	case "NESTED-FATAL":
		o.Fatal = rest
	case "NESTED-DONE":
		o.Done = true
	case "NESTED-BEGIN":
		name, attempt, _ := strings.Cut(rest, " attempt=")
		n, _ := strconv.Atoi(attempt)
		o.current = &Attempt{Number: n, OuterBoot: o.outerBoots}
		o.Attempts[name] = append(o.Attempts[name], o.current)
	case "NESTED-LOG":
		name, text, _ := strings.Cut(rest, "| ")
		a := o.last(name)
		a.Log = append(a.Log, text)
	case "NESTED-COMPARE":
		var b plan.Boot
		if err := json.Unmarshal([]byte(rest), &b); err != nil {
			o.Unexpected = append(o.Unexpected, fmt.Sprintf("%s (%v)", line, err))
			return
		}
		b.OuterBoot = o.outerBoots
		o.Compared = append(o.Compared, b)
	case "NESTED-STALL", "NESTED-STEP":
	case "NESTED-RESULT":
		name, rest, _ := strings.Cut(rest, " ")
		_, j, _ := strings.Cut(rest, " ")
		a := o.last(name)
		if err := json.Unmarshal([]byte(j), &a.Result); err != nil {
			o.Unexpected = append(o.Unexpected, fmt.Sprintf("%s (%v)", line, err))
			return
		}
		a.Ended = true
		a.Result.Output = strings.Join(a.Log, "\n") + "\n"
		o.current = nil
	default:
		o.Unexpected = append(o.Unexpected, line)
	}
}

// ReadConsole returns the outer console's lines.
func ReadConsole(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return []string{fmt.Sprintf("(no console log: %v)", err)}
	}
	return strings.Split(strings.TrimRight(strings.ReplaceAll(string(b), "\r", ""), "\n"), "\n")
}
