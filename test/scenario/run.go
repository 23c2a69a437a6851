package scenario

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Run runs s once and returns what it showed; live is sent glue's output
// (or the console file's) as it comes. Run never fails the caller: what
// went wrong is in the Result, for Verify.
func Run(ctx context.Context, env Env, s Scenario, live io.Writer) (r Result) {
	start := time.Now()
	r.Exit = -1
	defer func() {
		r.Secs = time.Since(start).Seconds()
		r.End = time.Now()
	}()
	initrd := env.Initrd
	if s.PayloadMiB > 0 {
		var err error
		initrd, r.PayloadSHA256, err = WritePayloadInitrd(env.Initrd,
			filepath.Join(env.WorkDir, s.Name+"-initrd.cpio"), s.PayloadMiB<<20)
		if err != nil {
			r.problem("large initramfs: %v", err)
			return r
		}
		defer os.Remove(initrd)
	}
	if s.Control {
		ctx, cancel := context.WithTimeout(ctx, env.Deadline)
		defer cancel()
		runControl(ctx, env, s, initrd, live, &r)
		return r
	}
	var disk string
	if len(s.Steps) > 0 {
		var err error
		if disk, err = copyRootImage(ctx, env, s.Name); err != nil {
			r.problem("root disk: %v", err)
			return r
		}
		defer os.Remove(disk)
	}
	var tcp *TCPServer
	if s.Net {
		var err error
		if tcp, err = ServeTCP(); err != nil {
			r.problem("network: %v", err)
			return r
		}
		defer func() { res := tcp.Close(); r.Net = &res }()
	}
	var output strings.Builder
	for i, step := range s.Boots() {
		marker := fmt.Sprintf("%s%d\n", BootMarker, i+1)
		if i > 0 && !strings.HasSuffix(output.String(), "\n") {
			// A killed glue may leave its last line unfinished.
			marker = "\n" + marker
		}
		live.Write([]byte(marker))
		b, out := runBoot(ctx, env, s, step, initrd, disk, live, &r)
		output.WriteString(marker + out)
		r.Boots = append(r.Boots, b)
		r.Exit = b.Exit
		if r.Stalled || len(r.Problems) > 0 {
			break
		}
	}
	r.Output = output.String()
	return r
}

// watch closes seen when glue's output first contains text.
type watch struct {
	text string
	seen chan struct{}
}

func newWatch(text string) *watch { return &watch{text: text, seen: make(chan struct{})} }

// hostLine is what Run types on glue's stdin when init's hvc0 check asks
// for it (GLUE-READY init host); it arrives on hvc0.
const hostLine = "typed on the host"

// holdLine is what Run types on glue's stdin when init's hold check asks
// for it (GLUE-READY init hold), once the host has looked at the VM.
const holdLine = "hold released by the host"

// balloonLine is what Run types on glue's stdin once the host's side of
// the balloon check is done; init's balloon check waits for it.
const balloonLine = "balloon done on the host"

// runBoot runs glue once for step, in the foreground, until it exits or
// its deadline passes, and returns what it showed and its output. It
// answers init's requests on the way: a line on stdin for hvc0, glue
// stop for the power button, kill -9 in the fsync loop.
func runBoot(ctx context.Context, env Env, s Scenario, step Step, initrd, disk string, live io.Writer, r *Result) (Boot, string) {
	b := Boot{Exit: -1, Fsck: -1}
	ctx, cancel := context.WithTimeout(ctx, s.BootDeadline(env))
	defer cancel()
	halt, host, button := newWatch(haltLine), newWatch("GLUE-READY init host"), newWatch("GLUE-READY init button")
	vsockReady, balloonReady, deflate := newWatch("GLUE-READY init vsock"), newWatch("GLUE-READY init balloon"), newWatch("GLUE-READY init deflate")
	// The loop's numbers grow, so line KillAfter is the first to hold this.
	fsync := newWatch(fmt.Sprintf("GLUE-FSYNC %d", step.KillAfter))
	hold := newWatch("GLUE-READY init hold")
	out := syncBuffer{watches: []*watch{halt, host, button, fsync, vsockReady, balloonReady, deflate, hold}}
	args := s.RunArgs(env, initrd, step, disk)
	dir, name := filepath.Join(env.WorkDir, s.Name+"-run"), "nested-"+env.Token
	var probe *cgroupProbe
	if s.Jail {
		if env.Cgroup == "" {
			r.problem("jail: no delegated cgroup v2 to run under (Env.Cgroup)")
			return b, ""
		}
		jail, kernel, jailedInitrd, err := jailFiles(env, s, initrd)
		if err != nil {
			r.problem("%v", err)
			return b, ""
		}
		defer os.RemoveAll(jail)
		jailed := env
		jailed.Kernel, jailed.Vmlinux = kernel, kernel
		args = append(s.RunArgs(jailed, jailedInitrd, step, disk), jailArgs(env, jail, name)...)
		probe = &cgroupProbe{dir: filepath.Join(env.Cgroup, "glue-"+name)}
	}
	if step.End == "button" || s.Balloon {
		args = append([]string{"--runtime-dir", dir}, append(args, "-n", name)...)
	}
	if step.ReadOnly {
		b.ImageBefore = fileSHA256(disk)
	}
	var vsock *vsockHost
	if s.Vsock {
		var err error
		if vsock, err = listenVsock(vsockSocket(env, s.Name)); err != nil {
			r.problem("%v", err)
			return b, ""
		}
	}
	balloonDone := make(chan BalloonResult, 1)
	cmd := exec.Command(env.Glue, args...)
	w := io.MultiWriter(&out, live)
	cmd.Stdout, cmd.Stderr = w, w
	stdin, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		r.problem("start glue: %v", err)
		return b, ""
	}
	defer stdin.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := make(chan error, 1)
	stopping := false
	// Each request is answered once: its channel is then nil.
	hostSeen, buttonSeen, fsyncSeen, haltSeen := host.seen, button.seen, fsync.seen, halt.seen
	vsockSeen, balloonSeen, holdSeen := vsockReady.seen, balloonReady.seen, hold.seen
	echoed, ballooning := false, false
	var balloonRes *BalloonResult
	balloonResult := balloonDone // nil once received
	for waiting := true; waiting; {
		select {
		case err = <-done:
			waiting = false
		case <-hostSeen:
			hostSeen = nil
			fmt.Fprint(stdin, hostLine+"\r")
		case <-buttonSeen:
			buttonSeen, stopping = nil, true
			go func() {
				out, err := exec.Command(env.Glue, "--runtime-dir", dir, "stop", "-n", name, "--timeout", stopTimeout.String()).CombinedOutput()
				if err != nil {
					err = fmt.Errorf("glue stop: %w: %s", err, bytes.TrimSpace(out))
				}
				stopped <- err
			}()
		case <-vsockSeen:
			vsockSeen = nil
			if vsock != nil {
				echoed = true
				go vsock.connectEcho(VsockEchoKiB << 10)
			}
		case <-balloonSeen:
			balloonSeen = nil
			if s.Balloon {
				ballooning = true
				go func() { balloonDone <- driveBalloon(ctx, env, dir, name, deflate.seen) }()
			}
		case res := <-balloonResult:
			// Init waits for this line before it ends the VM, so the
			// driver's last deflate reaches glue first.
			balloonResult, balloonRes = nil, &res
			fmt.Fprint(stdin, balloonLine+"\r")
		case <-holdSeen:
			// Init waits until the host has looked at the running VM.
			holdSeen = nil
			if probe != nil {
				probe.read(cmd.Process.Pid)
			}
			fmt.Fprint(stdin, holdLine+"\r")
		case <-fsyncSeen:
			fsyncSeen = nil
			if step.KillAfter > 0 {
				b.Killed = true
				cmd.Process.Kill()
			}
		case <-haltSeen:
			haltSeen = nil
			// Linux halted its CPUs and will do nothing more; a VMM that
			// ends the VM on a halt would exit within haltGrace.
			select {
			case err = <-done:
				waiting = false
			case <-time.After(haltGrace):
				b.Halted = true
				cmd.Process.Kill()
			}
		case <-ctx.Done():
			r.Stalled = true
			cmd.Process.Kill()
			err = <-done
			waiting = false
		}
	}
	if stopping {
		if err := <-stopped; err != nil {
			r.problem("%v", err)
		}
	}
	if vsock != nil {
		r.Vsock = vsock.close(echoed)
	}
	if ballooning && balloonRes == nil {
		res := <-balloonDone
		balloonRes = &res
	}
	r.Balloon = balloonRes
	if probe != nil {
		line := probe.line() + "\n"
		if o := out.String(); o != "" && !strings.HasSuffix(o, "\n") {
			line = "\n" + line
		}
		w.Write([]byte(line))
	}
	output := out.String()
	var exitErr *exec.ExitError
	switch {
	case b.Killed:
		b.Acked = lastNumber(fsyncLine, output)
	case r.Stalled || b.Halted:
	case errors.As(err, &exitErr):
		b.Exit = exitErr.ExitCode()
	case err != nil:
		r.problem("glue: %v", err)
	default:
		b.Exit = 0
	}
	if step.Fsck {
		b.Fsck, b.FsckOutput = fsck(env, disk)
	}
	if step.ReadOnly {
		b.ImageAfter = fileSHA256(disk)
	}
	return b, output
}

// stopTimeout is how long glue stop gives Linux to power off after the
// button: generous, under emulation.
const stopTimeout = 90 * time.Second

var fsyncLine = regexp.MustCompile(`GLUE-FSYNC (\d+)\r?\n`)

// lastNumber is the number of the last line of out that re matches, 0
// if none.
func lastNumber(re *regexp.Regexp, out string) int {
	all := re.FindAllStringSubmatch(out, -1)
	if len(all) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(all[len(all)-1][1])
	return n
}

var tickLine = regexp.MustCompile(`GLUE-TICK (\d+)`)

// lastTick is the number of the last GLUE-TICK line in out, 0 if none.
func lastTick(out []byte) int { return lastNumber(tickLine, string(out)) }

// pauseQuiet is how long a paused VM's console must stay unchanged, after
// it has settled, for the pause to count: many tick intervals.
const pauseQuiet = 2 * time.Second

// runControl starts the VM detached with its console in a file, waits for
// init's ticks, pauses it and checks that the console stays silent,
// resumes it and checks that the ticks go on, and stops it.
func runControl(ctx context.Context, env Env, s Scenario, initrd string, live io.Writer, r *Result) {
	// A detached VM's exit status is not observable; stop's is.
	b := Boot{Exit: -1, Fsck: -1}
	defer func() { r.Boots, r.Exit = []Boot{b}, b.Exit }()
	dir := filepath.Join(env.WorkDir, s.Name+"-run")
	console := filepath.Join(env.WorkDir, s.Name+".console")
	name := "nested-" + env.Token
	glue := func(args ...string) error {
		out, err := exec.CommandContext(ctx, env.Glue, append([]string{"--runtime-dir", dir}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("glue %v: %w: %s", args, err, bytes.TrimSpace(out))
		}
		return nil
	}
	defer func() {
		exec.Command(env.Glue, "--runtime-dir", dir, "stop", "--all").Run()
	}()
	follow := &follower{path: console, live: live}
	defer func() { follow.poll(); r.Output = string(follow.seen) }()

	args := append([]string{"run", "--detach", "-n", name, "--console", "file=" + console}, s.RunArgs(env, initrd, s.Boots()[0], "")[1:]...)
	if err := glue(args...); err != nil {
		r.problem("%v", err)
		return
	}
	if !follow.until(ctx, func(out []byte) bool { return lastTick(out) >= 2 }) {
		r.Stalled = ctx.Err() != nil
		if !r.Stalled {
			r.problem("console file: %v", follow.err)
		}
		return
	}
	if err := glue("pause", "-n", name); err != nil {
		r.problem("%v", err)
		return
	}
	// Output the guest wrote just before the pause may still be on its
	// way through glue's console buffer: wait for it to settle, then
	// insist on silence.
	if !follow.settle(ctx, 500*time.Millisecond, settleLimit) {
		r.problem("console still growing %v after glue pause returned", settleLimit)
	}
	paused := len(follow.seen)
	pausedTick := lastTick(follow.seen)
	time.Sleep(pauseQuiet)
	follow.poll()
	if len(follow.seen) != paused {
		r.problem("console advanced while paused: %q", follow.seen[paused:])
	}
	if err := glue("resume", "-n", name); err != nil {
		r.problem("%v", err)
		return
	}
	if !follow.until(ctx, func(out []byte) bool { return lastTick(out) > pausedTick+1 }) {
		r.problem("no tick after resume (last %d at the pause)", pausedTick)
		r.Stalled = ctx.Err() != nil
		return
	}
	if err := glue("stop", "-n", name); err != nil {
		r.problem("%v", err)
		return
	}
	b.Exit = 0 // stop waited for the process to exit and found it gone
}

// follower reads a growing file.
type follower struct {
	path string
	live io.Writer
	seen []byte
	err  error
}

func (f *follower) poll() {
	b, err := os.ReadFile(f.path)
	f.err = err
	if err != nil || len(b) <= len(f.seen) {
		return
	}
	f.live.Write(b[len(f.seen):])
	f.seen = b
}

// until polls until done(content) or ctx ends.
func (f *follower) until(ctx context.Context, done func([]byte) bool) bool {
	for {
		f.poll()
		if done(f.seen) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// settleLimit bounds the wait for a paused VM's console to settle: its
// last output is in glue's buffer for well under a second.
const settleLimit = 10 * time.Second

// settle polls until the file has not grown for quiet, and reports
// whether it did so within limit.
func (f *follower) settle(ctx context.Context, quiet, limit time.Duration) bool {
	start := time.Now()
	last, since := len(f.seen), time.Now()
	for time.Since(since) < quiet {
		if ctx.Err() != nil || time.Since(start) > limit {
			return false
		}
		time.Sleep(100 * time.Millisecond)
		f.poll()
		if len(f.seen) != last {
			last, since = len(f.seen), time.Now()
		}
	}
	return true
}

// haltLine is what Linux prints when it halts the machine, as it does
// after a power-off request it has no way to carry out.
const haltLine = "reboot: System halted"

// haltGrace is how long glue may take to end a VM whose Linux halted.
const haltGrace = 5 * time.Second

// syncBuffer is a bytes.Buffer for glue's stdout and stderr together; it
// closes each watch's seen when the output first contains its text.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	watches []*watch
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	for i, w := range b.watches {
		// The tail of the buffer is enough: the lines are short.
		if w != nil && bytes.Contains(b.buf.Bytes()[max(0, b.buf.Len()-len(p)-len(w.text)):], []byte(w.text)) {
			close(w.seen)
			b.watches[i] = nil
		}
	}
	return len(p), nil
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
