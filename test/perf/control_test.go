package perf

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gluevmm/glue/control"
)

var (
	controlRuns = flag.Int("control-runs", 20, "pause/resume pairs per VMM and round, for each of the two timings")
	pausedRuns  = flag.Int("paused-runs", 2, "paused intervals per VMM and round")
	pausedFor   = flag.Duration("paused-for", 2*time.Second, "length of one paused interval")
)

// settle is how long a request waits on a connection that is set up
// before the clock starts: long enough for the VMM to have accepted it
// (glue) or answered the capabilities negotiation (QMP) and gone back to
// waiting, so that both VMMs meet the timed request idle.
const settle = 5 * time.Millisecond

// BenchmarkPauseResume times pause and resume requests on a guest that
// keeps its vCPU busy (the counter test), each on a connection of its own
// as the protocols want (glue: one request per connection), in two ways,
// the same for both VMMs: from writing the request on a connection that
// is already set up to the answer, and from before connecting to the
// answer (for QMP that includes its greeting and the capabilities
// negotiation). glue answers a pause once every vCPU has parked, QMP's
// stop once the vCPUs have stopped.
func BenchmarkPauseResume(b *testing.B) {
	glue, qemu := vmms(b)
	n := *nRounds
	pause, resume, pauseSetup, resumeSetup := newRounds(n), newRounds(n), newRounds(n), newRounds(n)
	eachControlled(b, glue, qemu, func(r int, v vmm, c *controlled) {
		for range *controlRuns {
			for _, m := range []struct {
				setup bool
				pause rounds
				resum rounds
			}{{false, pause, resume}, {true, pauseSetup, resumeSetup}} {
				m.pause.add(r, v.name, ms(c.must(b, "pause", m.setup)))
				m.resum.add(r, v.name, ms(c.must(b, "resume", m.setup)))
			}
		}
	})
	pause.pooled().report(b, "pause-ms", "pause-ratio")
	setup(fmt.Sprintf("pause/resume: %d of each per VMM and way of timing, on a fresh VM per round running the guest's `counter` test, "+
		"one connection per request", *controlRuns))
	record(row{"pause request → all vCPUs stopped, connection set up (ms)", "%.2f", pause, nil})
	record(row{"resume request → answered, connection set up (ms)", "%.2f", resume, nil})
	record(row{"connect + pause request → all vCPUs stopped (ms)", "%.2f", pauseSetup, nil})
	record(row{"connect + resume request → answered (ms)", "%.2f", resumeSetup, nil})
}

// BenchmarkPausedCPU measures what a paused VM costs the host: the VMM
// process's user+system time (all threads, from /proc/PID/stat) over a
// fixed interval while its guest, which otherwise keeps a vCPU busy, is
// paused.
func BenchmarkPausedCPU(b *testing.B) {
	glue, qemu := vmms(b)
	used := newRounds(*nRounds)
	eachControlled(b, glue, qemu, func(r int, v vmm, c *controlled) {
		for range *pausedRuns {
			c.must(b, "pause", false)
			before, err := procCPU(c.cmd.Process.Pid)
			if err == nil {
				time.Sleep(*pausedFor)
				var after time.Duration
				after, err = procCPU(c.cmd.Process.Pid)
				used.add(r, v.name, ms(after-before)/pausedFor.Seconds())
			}
			if err != nil {
				b.Fatalf("%s: %v", v.name, err)
			}
			c.must(b, "resume", false)
			time.Sleep(*pausedFor / 4) // running again, between intervals
		}
	})
	used.pooled().report(b, "paused-cpu-ms/s", "")
	record(row{"VMM CPU time while paused, user+sys in 10 ms ticks (ms per s)", "%.1f", used, nil})
	setup(fmt.Sprintf("paused CPU: %d intervals of %v per VMM, on the same kind of counter VM", *pausedRuns, *pausedFor))
}

// controlled is a VM running the guest's counter test, driven through its
// VMM's control protocol.
type controlled struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the VMM's output has ended
	// request sends one op ("pause", "resume", "stop") on a connection of
	// its own and times it until the answer: from writing the request on
	// the set-up connection, or, with setup, from before connecting.
	request func(op string, setup bool) (time.Duration, error)
}

func (c *controlled) must(b *testing.B, op string, setup bool) time.Duration {
	b.Helper()
	d, err := c.request(op, setup)
	if err != nil {
		b.Fatalf("%s: %v", op, err)
	}
	return d
}

// eachControlled starts, in every round, a fresh counter VM of each VMM in
// turn (glue first in even rounds, QEMU in odd ones), hands it to fn, and
// stops it, so that only one VM runs at a time.
func eachControlled(b *testing.B, glue vmm, qemu *vmm, fn func(round int, v vmm, c *controlled)) {
	b.Helper()
	order := []vmm{glue}
	if qemu != nil {
		order = append(order, *qemu)
	}
	for r := range *nRounds {
		for j := range order {
			v := order[(r+j)%len(order)]
			c, err := startControlled(v, b.TempDir(), fmt.Sprintf("perf-%d", r))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() }) // if fn fails
			fn(r, v, c)
			if err := c.stop(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// startControlled starts v on the counter guest, with glue's control
// socket in the benchmark's runtime directory under name, or QEMU's QMP
// socket in dir, and returns once the guest counts.
func startControlled(v vmm, dir, name string) (*controlled, error) {
	args := v.args("glue.test=counter", devices{})
	var request func(op string, setup bool) (time.Duration, error)
	if v.name == "glue" {
		args = append(args, "-n", name)
		request = glueRequest(filepath.Join(runtimeDir(), name+".sock"))
	} else {
		sock := filepath.Join(dir, "qmp.sock")
		args = append(args, "-qmp", "unix:"+sock+",server=on,wait=off")
		request = qmpRequest(sock)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(v.path, args...)
	cmd.Stdout = pw // stdin and stderr: /dev/null
	err = cmd.Start()
	pw.Close() // the child holds the only write end now: EOF when it exits
	if err != nil {
		pr.Close()
		return nil, fmt.Errorf("%s: %w", v.name, err)
	}
	c := &controlled{cmd: cmd, request: request, done: make(chan struct{})}
	counting := make(chan error, 1)
	go func() {
		drain(pr, "GLUE-COUNT ", counting)
		pr.Close()
		close(c.done)
	}()
	select {
	case err = <-counting:
	case <-time.After(time.Minute):
		err = errors.New("no GLUE-COUNT line within a minute")
	}
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("%s counter guest: %w", v.name, err)
	}
	return c, nil
}

// drain reads the VMM's output to its end, so that a full pipe never
// stalls the guest, and reports on ready when the first line with prefix
// arrives, or why it did not.
func drain(r io.Reader, prefix string, ready chan<- error) {
	sc := bufio.NewScanner(r)
	signalled := false
	for sc.Scan() {
		if !signalled && strings.HasPrefix(sc.Text(), prefix) {
			ready <- nil
			signalled = true
		}
	}
	if !signalled {
		ready <- fmt.Errorf("output ended (%v) before a %q line", sc.Err(), prefix)
	}
	io.Copy(io.Discard, r) // after an overlong line
}

// stop ends the VM with its VMM's own request (glue's stop, QMP's quit),
// so that glue removes its socket and lock as on any orderly exit. It is
// killed if it has not gone after ten seconds.
func (c *controlled) stop() error {
	_, err := c.request("stop", true)
	timer := time.AfterFunc(10*time.Second, func() { c.cmd.Process.Kill() })
	defer timer.Stop()
	<-c.done
	if werr := c.cmd.Wait(); err == nil && werr != nil {
		err = fmt.Errorf("%s: %w", c.cmd.Path, werr)
	}
	return err
}

// glueRequest returns a function that sends one request to the glue
// control socket at sock (the protocol of docs/control-protocol.md) and
// times it.
func glueRequest(sock string) func(op string, setup bool) (time.Duration, error) {
	return func(op string, setup bool) (time.Duration, error) {
		req := control.Request{Version: control.Version, Op: control.Op(op)}
		if req.Op == control.OpStop {
			// At once, as QMP's quit: the counter guest does not
			// answer the ACPI power button, and the default grace
			// (control.DefaultStopTimeout) would outlast stop's wait.
			req.TimeoutMS = new(int64)
		}
		line, err := json.Marshal(req)
		if err != nil {
			return 0, err
		}
		start := time.Now()
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return 0, fmt.Errorf("glue %s: %w", op, err)
		}
		defer conn.Close()
		if !setup {
			time.Sleep(settle)
			start = time.Now()
		}
		if _, err := conn.Write(append(line, '\n')); err != nil {
			return 0, fmt.Errorf("glue %s: %w", op, err)
		}
		reply, err := bufio.NewReader(conn).ReadBytes('\n')
		took := time.Since(start)
		var resp control.Response
		if err == nil {
			err = json.Unmarshal(reply, &resp)
		}
		if err == nil && !resp.OK {
			err = fmt.Errorf("refused: %s", strings.TrimSpace(string(reply)))
		}
		if err != nil {
			return 0, fmt.Errorf("glue %s: %w", op, err)
		}
		return took, nil
	}
}

// qmpRequest returns a function that sends one QMP command for op on a
// fresh connection to QEMU's socket at sock and times it; the greeting and
// capabilities negotiation are part of setting up the connection.
func qmpRequest(sock string) func(op string, setup bool) (time.Duration, error) {
	commands := map[string]string{"pause": "stop", "resume": "cont", "stop": "quit"}
	return func(op string, setup bool) (time.Duration, error) {
		start := time.Now()
		conn, err := dialWhenThere(sock)
		if err != nil {
			return 0, err
		}
		defer conn.Close()
		r := bufio.NewReader(conn)
		if err := qmpReply(r); err != nil { // greeting
			return 0, err
		}
		fmt.Fprintln(conn, `{"execute":"qmp_capabilities"}`)
		if err := qmpReply(r); err != nil {
			return 0, err
		}
		if !setup {
			time.Sleep(settle)
			start = time.Now()
		}
		fmt.Fprintf(conn, `{"execute":%q}`+"\n", commands[op])
		if err := qmpReply(r); err != nil {
			return 0, fmt.Errorf("QMP %s: %w", commands[op], err)
		}
		return time.Since(start), nil
	}
}

// dialWhenThere connects to a Unix socket that may not exist yet (QEMU
// makes its QMP socket while it starts), waiting up to 30 s.
func dialWhenThere(sock string) (net.Conn, error) {
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		conn, err := net.Dial("unix", sock)
		if err == nil || time.Now().After(deadline) {
			return conn, err
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
}

// qmpReply reads QMP lines until a greeting or a command's answer,
// skipping asynchronous events (STOP, RESUME).
func qmpReply(r *bufio.Reader) error {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("QMP: %w", err)
		}
		var msg map[string]json.RawMessage
		if json.Unmarshal([]byte(line), &msg) != nil {
			continue
		}
		if _, ok := msg["error"]; ok {
			return fmt.Errorf("QMP error: %s", strings.TrimSpace(line))
		}
		if _, ok := msg["event"]; !ok {
			return nil
		}
	}
}
