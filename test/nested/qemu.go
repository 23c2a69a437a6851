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
}

// OuterParams is the outer kernel's command line: quiet leaves errors
// and worse on the console, which is where the outer KVM's complaints
// and soft lockups show.
const OuterParams = "console=ttyS0 quiet panic=-1 rdinit=/init"

func (m Machine) args() []string {
	return []string{"-accel", "tcg", "-cpu", "EPYC,+svm", "-smp", strconv.Itoa(m.CPUs), "-m", strconv.Itoa(m.MemMiB),
		"-nodefaults", "-display", "none", "-no-reboot",
		"-serial", "file:" + m.Console, "-serial", "stdio", "-d", "cpu_reset", "-D", m.ResetLog,
		"-kernel", m.Kernel, "-initrd", m.Initrd, "-append", OuterParams}
}

// Attempt is one run of a scenario inside the machine.
type Attempt struct {
	Number int
	Log    []string // glue's output lines
	Result scenario.Result
	Ended  bool // a NESTED-RESULT came
}

// Outcome is what one boot of the machine reported.
type Outcome struct {
	Ready      time.Duration // when /dev/kvm was there, from QEMU's start
	Fatal      string
	Done       bool
	Attempts   map[string][]*Attempt
	Wall       time.Duration
	QEMUErr    error
	Unexpected []string    // marker-port lines that are no marker
	Boots      []plan.Boot // the comparison's
}

// Boot runs the machine until it powers off or ctx ends, and returns what
// its outer init reported; progress gets each marker line as it comes.
func (m Machine) Boot(ctx context.Context, progress func(string)) (*Outcome, error) {
	o := &Outcome{Attempts: map[string][]*Attempt{}}
	cmd := exec.CommandContext(ctx, m.QEMU, m.args()...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("nested: %w", err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("nested: start %s: %w", m.QEMU, err)
	}
	s := bufio.NewScanner(stdout)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	for s.Scan() {
		line := strings.TrimRight(s.Text(), "\r")
		o.parse(line, time.Since(start))
		if progress != nil && !strings.HasPrefix(line, "NESTED-LOG ") {
			progress(line)
		}
	}
	o.QEMUErr = cmd.Wait()
	o.Wall = time.Since(start)
	if o.QEMUErr != nil {
		o.QEMUErr = fmt.Errorf("%s: %w: %s", m.QEMU, o.QEMUErr, strings.TrimSpace(stderr.String()))
	}
	return o, nil
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
		o.Ready = at
	case "NESTED-FATAL":
		o.Fatal = rest
	case "NESTED-DONE":
		o.Done = true
	case "NESTED-BEGIN":
		name, attempt, _ := strings.Cut(rest, " attempt=")
		n, _ := strconv.Atoi(attempt)
		o.Attempts[name] = append(o.Attempts[name], &Attempt{Number: n})
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
		o.Boots = append(o.Boots, b)
	case "NESTED-STALL":
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
