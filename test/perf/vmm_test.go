package perf

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// vmm is one monitor under test: how to boot the guest ELF with a given
// guest command line.
type vmm struct {
	name string
	path string
	args func(cmdline string) []string
}

// guestMiB is the guest RAM of every run; the peak-RSS target is stated
// for a 512 MiB guest.
const guestMiB = 512

func glueVMM(bin, elf string) vmm {
	return vmm{
		name: "glue",
		path: bin,
		args: func(cmdline string) []string {
			return []string{"run", "-c", "1", "-m", fmt.Sprint(guestMiB), "-k", elf, "-p", cmdline}
		},
	}
}

func qemuVMM(bin, elf string) vmm {
	return vmm{
		name: "qemu",
		path: bin,
		args: func(cmdline string) []string {
			// -cpu host alone aborts on PVM hosts ("failed to set MSR
			// 0x10a"); rtc=on gives the guest the same RTC glue has.
			return []string{"-M", "microvm,rtc=on", "-enable-kvm", "-cpu", "host,-arch-capabilities",
				"-m", fmt.Sprintf("%dM", guestMiB), "-smp", "1", "-nographic", "-no-reboot",
				"-kernel", elf, "-append", cmdline}
		},
	}
}

// line is one line of guest output and when its newline reached us.
type line struct {
	text string
	at   time.Duration // since just before the VMM was started
	cpu  time.Duration // the VMM's user+system time then, in 10 ms ticks
}

// trace is what one boot produced.
type trace struct {
	firstByte time.Duration // first byte of guest output read from the pipe
	lines     []line
	mem       memUse        // when GLUE-DONE arrived
	cpu       time.Duration // user+system time of the whole process, until killed
}

// find returns the first line starting with prefix.
func (t *trace) find(prefix string) (line, bool) {
	for _, l := range t.lines {
		if strings.HasPrefix(l.text, prefix) {
			return l, true
		}
	}
	return line{}, false
}

// guestCmdline is the guest command line for a list of tests. The guest
// halts after GLUE-DONE, so that both VMMs are still alive, with all their
// memory, when the harness reads /proc and then kills them. (The default,
// a reset through the i8042, would end glue but not QEMU's microvm, which
// has no i8042.)
func guestCmdline(tests string) string { return "glue.test=" + tests + " glue.end=halt" }

// boot runs the VMM on the guest command line until the guest prints
// GLUE-DONE, reads its memory use and kills it, timing every output line.
//
// Stdout is an os.Pipe handed straight to the child (not an io.Writer,
// which would make exec add a copying goroutine and its latency); it is
// read here, and each read is timestamped as it returns, with Go's
// monotonic clock, against a time taken just before fork+exec.
func boot(v vmm, cmdline string, timeout time.Duration) (*trace, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	var stderr bytes.Buffer
	cmd := exec.Command(v.path, v.args(cmdline)...)
	cmd.Stdout, cmd.Stderr = pw, &stderr // stdin stays /dev/null

	start := time.Now()
	err = cmd.Start()
	pw.Close() // the child holds the only write end now: EOF when it exits
	if err != nil {
		return nil, fmt.Errorf("%s: %w", v.name, err)
	}
	timer := time.AfterFunc(timeout, func() { cmd.Process.Kill() })
	defer timer.Stop()

	tr := &trace{firstByte: -1}
	var procErr error
	tr.read(pr, start, func(l *line) {
		if procErr != nil {
			return // killed already
		}
		pid := cmd.Process.Pid
		if l.cpu, procErr = procCPU(pid); procErr == nil && l.text == "GLUE-DONE" {
			tr.mem, procErr = readMem(pid)
		}
		if l.text == "GLUE-DONE" || procErr != nil {
			cmd.Process.Kill()
		}
	})
	werr := cmd.Wait() // "killed", unless it died on its own
	tr.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if procErr != nil {
		return nil, fmt.Errorf("%s: reading /proc: %w", v.name, procErr)
	}
	if _, ok := tr.find("GLUE-DONE"); !ok {
		return nil, fmt.Errorf("%s: no GLUE-DONE within %v (%v)\nstdout:\n%s\nstderr:\n%s", v.name, timeout, werr, tr.output(), stderr.String())
	}
	if l, ok := tr.find("GLUE-FAIL"); ok {
		return nil, fmt.Errorf("%s: guest reported %q", v.name, l.text)
	}
	return tr, nil
}

// read consumes the VMM's stdout until EOF, timestamping each read as it
// returns, and calls onLine for each line as it arrives.
func (t *trace) read(r io.Reader, start time.Time, onLine func(*line)) {
	var partial []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		now := time.Since(start)
		if n > 0 && t.firstByte < 0 {
			t.firstByte = now
		}
		partial = append(partial, buf[:n]...)
		for {
			i := bytes.IndexByte(partial, '\n')
			if i < 0 {
				break
			}
			text := strings.TrimRight(string(partial[:i]), "\r")
			partial = partial[i+1:]
			t.lines = append(t.lines, line{text: text, at: now})
			onLine(&t.lines[len(t.lines)-1])
		}
		if err != nil {
			return // EOF: the VMM has exited (or been killed)
		}
	}
}

func (t *trace) output() string {
	var b strings.Builder
	for _, l := range t.lines {
		fmt.Fprintf(&b, "%8.3fms %s\n", ms(l.at), l.text)
	}
	return b.String()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
