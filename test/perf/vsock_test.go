package perf

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	vsockMiB   = flag.Int("vsock-mib", 1, "BenchmarkVsock: MiB echoed per run (the own guest copies them under the instruction emulator on PVM: about 0.1 MiB/s)")
	vsockPings = flag.Int("vsock-pings", 200, "BenchmarkVsock: 1-byte round trips per run")
)

// vsockPort is where the own guest listens and echoes.
const vsockPort = 52

// BenchmarkVsock times a host program talking to the own guest over
// glue's vsock (the hybrid host side of docs/vsock.md): vsockMiB MiB
// written to the guest's echo port while the echo is read back (each way
// at once), then vsockPings 1-byte round trips. The limit is the same
// exchange over a Unix socket pair in this process, echoed by a
// goroutine, run after each VM, so that both see the same host load.
func BenchmarkVsock(b *testing.B) {
	start := time.Now()
	glue, _ := vmms(b)
	cmdline := guestCmdline(fmt.Sprintf("vsock glue.vsock.listen=%d glue.vsock.conns=2 glue.vsock.timeout=60", vsockPort))
	n := *nRounds
	tput, rtt := newRounds(n), newRounds(n)
	for r := range n {
		for i := range *devRuns {
			sock := filepath.Join(buildDir, fmt.Sprintf("v%d-%d.sock", r, i))
			var res vsockResult
			var err error
			_, berr := bootWith(withArgs(glue, "--vsock", "cid=7,socket="+sock), cmdline, bootOpts{onLine: func(l line) {
				if strings.HasPrefix(l.text, "GLUE-READY vsock") {
					res, err = vsockGuest(sock)
				}
			}}, 3*time.Minute)
			if err = errors.Join(berr, err); err == nil && res.secs == 0 {
				err = errors.New("glue: no GLUE-READY vsock line")
			}
			if err != nil {
				b.Fatal(err)
			}
			host, err := vsockHost()
			if err != nil {
				b.Fatal(err)
			}
			for name, x := range map[string]vsockResult{"glue": res, hostName: host} {
				tput.add(r, name, float64(*vsockMiB)/x.secs)
				rtt.add(r, name, x.rttMicros)
			}
			b.Logf("round %d run %d: glue %.1f MiB/s, %.0f µs round trip; Unix socket pair %.1f MiB/s, %.1f µs",
				r+1, i+1, float64(*vsockMiB)/res.secs, res.rttMicros, float64(*vsockMiB)/host.secs, host.rttMicros)
		}
	}
	tput.pooled().report(b, "MiB/s", "")
	rtt.pooled().report(b, "rtt-µs", "")
	pair := "Unix socket pair in the benchmark, echoed by a goroutine"
	devRows = append(devRows,
		devRow{row{fmt.Sprintf("vsock echo host → guest → host, %d MiB, 64 KiB writes (MiB/s each way)", *vsockMiB), "%.1f", tput, nil}, hostName, pair},
		devRow{row{"vsock 1-byte round trip host → guest → host (µs)", "%.0f", rtt, nil}, hostName, pair})
	devSetups = append(devSetups, fmt.Sprintf("vsock: %d runs of glue `--vsock cid=7`, guest `%s`, each followed by one of the socket pair; %d round trips per run",
		*devRuns, cmdline, *vsockPings))
	devTook += time.Since(start)
}

// vsockResult is one run: seconds for the echo of vsockMiB MiB, and the
// mean round trip in µs.
type vsockResult struct{ secs, rttMicros float64 }

// vsockGuest runs the exchange on two connections to the guest's echo
// port through glue's socket (CONNECT, then OK <port>).
func vsockGuest(sock string) (vsockResult, error) {
	dial := func() (*net.UnixConn, error) {
		c, err := net.Dial("unix", sock)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(c, "CONNECT %d\n", vsockPort)
		// Byte by byte: nothing of the stream may be read ahead.
		var ok []byte
		one := make([]byte, 1)
		for len(ok) < 64 && !strings.HasSuffix(string(ok), "\n") {
			if _, err := c.Read(one); err != nil {
				c.Close()
				return nil, fmt.Errorf("answer to CONNECT: %w", err)
			}
			ok = append(ok, one[0])
		}
		if !strings.HasPrefix(string(ok), "OK ") {
			c.Close()
			return nil, fmt.Errorf("answer to CONNECT: %q", ok)
		}
		return c.(*net.UnixConn), nil
	}
	var res vsockResult
	c, err := dial()
	if err != nil {
		return res, err
	}
	defer c.Close()
	if res.secs, err = echoStream(c); err != nil {
		return res, fmt.Errorf("vsock echo: %w", err)
	}
	c2, err := dial()
	if err != nil {
		return res, err
	}
	defer c2.Close()
	res.rttMicros, err = roundTrips(c2)
	return res, err
}

// vsockHost is the limit: the same exchange over Unix socket pairs.
func vsockHost() (vsockResult, error) {
	var res vsockResult
	pair := func() (*net.UnixConn, error) {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, err
		}
		var conns [2]*net.UnixConn
		for i, fd := range fds {
			f := os.NewFile(uintptr(fd), "socketpair")
			c, err := net.FileConn(f)
			f.Close()
			if err != nil {
				return nil, err
			}
			conns[i] = c.(*net.UnixConn)
		}
		go func() { // the echo, as the guest's
			io.Copy(conns[1], conns[1])
			conns[1].CloseWrite()
			conns[1].Close()
		}()
		return conns[0], nil
	}
	c, err := pair()
	if err != nil {
		return res, err
	}
	defer c.Close()
	if res.secs, err = echoStream(c); err != nil {
		return res, err
	}
	c2, err := pair()
	if err != nil {
		return res, err
	}
	defer c2.Close()
	res.rttMicros, err = roundTrips(c2)
	return res, err
}

// echoStream writes vsockMiB MiB in 64 KiB writes while reading the echo,
// shuts its side down and reads to EOF; it returns the seconds from the
// first write to EOF, and an error unless every byte came back.
func echoStream(c *net.UnixConn) (float64, error) {
	total := int64(*vsockMiB) << 20
	buf := make([]byte, 64<<10)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	start := time.Now()
	werr := make(chan error, 1)
	go func() {
		var err error
		for sent := int64(0); sent < total && err == nil; sent += int64(len(buf)) {
			_, err = c.Write(buf)
		}
		werr <- errors.Join(err, c.CloseWrite())
	}()
	got, err := io.Copy(io.Discard, c)
	secs := time.Since(start).Seconds()
	if err = errors.Join(err, <-werr); err == nil && got != total {
		err = fmt.Errorf("%d bytes echoed of %d", got, total)
	}
	return secs, err
}

// roundTrips sends one byte and waits for its echo vsockPings times and
// returns the mean round trip in µs.
func roundTrips(c *net.UnixConn) (float64, error) {
	b := []byte{'x'}
	start := time.Now()
	for range *vsockPings {
		if _, err := c.Write(b); err != nil {
			return 0, err
		}
		if _, err := io.ReadFull(c, b); err != nil {
			return 0, err
		}
	}
	us := float64(time.Since(start).Microseconds()) / float64(*vsockPings)
	c.CloseWrite()
	io.Copy(io.Discard, c) // the guest closes after our shutdown
	return us, nil
}
