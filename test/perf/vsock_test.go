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
	vsockMiB   = flag.Int("vsock-mib", 4, "BenchmarkVsock: MiB the guest sends, and MiB echoed, per run (the own guest copies them under the instruction emulator on PVM: a few MiB/s)")
	vsockPings = flag.Int("vsock-pings", 200, "BenchmarkVsock: 1-byte round trips per run")
)

// The own guest's vsock ports: it sends to the host's vsockSendPort
// first, then listens on vsockPort and echoes.
const (
	vsockPort     = 52
	vsockSendPort = 6000
)

// BenchmarkVsock times the own guest and a host program talking over
// glue's vsock (the hybrid host side of docs/vsock.md): the guest sends
// vsockMiB MiB to a host listener on PATH_6000; then a host program
// writes vsockMiB MiB to the guest's echo port while it reads the echo
// back (each way at once), and makes vsockPings 1-byte round trips. The
// limit is the same exchanges over Unix socket pairs in this process,
// run after each VM, so that both see the same host load.
func BenchmarkVsock(b *testing.B) {
	start := time.Now()
	glue, _ := vmms(b)
	bytes := int64(*vsockMiB) << 20
	cmdline := guestCmdline(fmt.Sprintf("vsock glue.vsock.send=%d glue.vsock.bytes=%d glue.vsock.listen=%d glue.vsock.conns=2 glue.vsock.timeout=60",
		vsockSendPort, bytes, vsockPort))
	n := *nRounds
	send, tput, rtt := newRounds(n), newRounds(n), newRounds(n)
	for r := range n {
		for i := range *devRuns {
			sock := filepath.Join(buildDir, fmt.Sprintf("v%d-%d.sock", r, i))
			res, err := vsockRun(glue, cmdline, sock)
			if err != nil {
				b.Fatal(err)
			}
			host, err := vsockHost()
			if err != nil {
				b.Fatal(err)
			}
			for name, x := range map[string]vsockResult{"glue": res, hostName: host} {
				send.add(r, name, float64(*vsockMiB)/x.sendSecs)
				tput.add(r, name, float64(*vsockMiB)/x.secs)
				rtt.add(r, name, x.rttMicros)
			}
			b.Logf("round %d run %d: glue %.1f MiB/s sent, %.1f MiB/s echoed, %.0f µs round trip; Unix socket pair %.1f, %.1f MiB/s, %.1f µs",
				r+1, i+1, float64(*vsockMiB)/res.sendSecs, float64(*vsockMiB)/res.secs, res.rttMicros,
				float64(*vsockMiB)/host.sendSecs, float64(*vsockMiB)/host.secs, host.rttMicros)
		}
	}
	send.pooled().report(b, "sent-MiB/s", "")
	tput.pooled().report(b, "MiB/s", "")
	rtt.pooled().report(b, "rtt-µs", "")
	pair := "Unix socket pair in the benchmark"
	echoed := pair + ", echoed by a goroutine"
	devRows = append(devRows,
		devRow{row{fmt.Sprintf("vsock stream guest → host, %d MiB (MiB/s)", *vsockMiB), "%.1f", send, nil}, hostName, pair},
		devRow{row{fmt.Sprintf("vsock echo host → guest → host, %d MiB, 64 KiB writes (MiB/s each way)", *vsockMiB), "%.1f", tput, nil}, hostName, echoed},
		devRow{row{"vsock 1-byte round trip host → guest → host (µs)", "%.0f", rtt, nil}, hostName, echoed})
	devSetups = append(devSetups, fmt.Sprintf("vsock: %d runs of glue `--vsock cid=7`, guest `%s`, each followed by one of the socket pairs; %d round trips per run",
		*devRuns, cmdline, *vsockPings))
	devTook += time.Since(start)
}

// vsockResult is one run: seconds for the guest's vsockMiB MiB to the
// host and for the echo of vsockMiB MiB, and the mean round trip in µs.
type vsockResult struct{ sendSecs, secs, rttMicros float64 }

// vsockRun boots the own guest with a vsock on sock and times its
// stream to the host, then the echo and the round trips.
func vsockRun(glue vmm, cmdline, sock string) (vsockResult, error) {
	ln, err := net.Listen("unix", fmt.Sprintf("%s_%d", sock, vsockSendPort))
	if err != nil {
		return vsockResult{}, err
	}
	defer ln.Close()
	sent := make(chan streamResult, 1)
	go func() { sent <- receiveStream(ln, int64(*vsockMiB)<<20) }()
	var res vsockResult
	_, berr := bootWith(withArgs(glue, "--vsock", "cid=7,socket="+sock), cmdline, bootOpts{onLine: func(l line) {
		if strings.HasPrefix(l.text, "GLUE-READY vsock") {
			res, err = vsockGuest(sock)
		}
	}}, 3*time.Minute)
	if err = errors.Join(berr, err); err == nil && res.secs == 0 {
		err = errors.New("glue: no GLUE-READY vsock line")
	}
	if err != nil {
		return res, err
	}
	select {
	case s := <-sent:
		res.sendSecs, err = s.secs, s.err
	default:
		err = errors.New("the guest's stream to the host had not ended when the VM did")
	}
	return res, err
}

// streamResult is one stream's seconds from its first byte to its end.
type streamResult struct {
	secs float64
	err  error
}

// receiveStream accepts one connection on ln and reads it to its end,
// which must come after want bytes; it times the reading from the first
// byte.
func receiveStream(ln net.Listener, want int64) streamResult {
	c, err := ln.Accept()
	if err != nil {
		return streamResult{err: err}
	}
	defer c.Close()
	return readStream(c, want)
}

// readStream reads c to its end, timed from the first byte.
func readStream(c io.Reader, want int64) streamResult {
	first := make([]byte, 1)
	if _, err := io.ReadFull(c, first); err != nil {
		return streamResult{err: fmt.Errorf("stream: %w", err)}
	}
	start := time.Now()
	n, err := io.Copy(io.Discard, c)
	res := streamResult{secs: time.Since(start).Seconds(), err: err}
	if err == nil && n+1 != want {
		res.err = fmt.Errorf("stream: %d bytes of %d", n+1, want)
	}
	return res
}

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

// vsockHost is the limit: the same exchanges over Unix socket pairs.
func vsockHost() (vsockResult, error) {
	var res vsockResult
	stream, err := socketPair()
	if err != nil {
		return res, err
	}
	go func() { // the guest's part: a pattern written in 64 KiB pieces
		buf := make([]byte, 64<<10)
		for left := int64(*vsockMiB) << 20; left > 0; left -= int64(len(buf)) {
			if _, err := stream[1].Write(buf[:min(left, int64(len(buf)))]); err != nil {
				break
			}
		}
		stream[1].Close()
	}()
	s := readStream(stream[0], int64(*vsockMiB)<<20)
	stream[0].Close()
	if s.err != nil {
		return res, s.err
	}
	res.sendSecs = s.secs
	echoed := func() (*net.UnixConn, error) {
		conns, err := socketPair()
		if err != nil {
			return nil, err
		}
		go func() { // the echo, as the guest's
			io.Copy(conns[1], conns[1])
			conns[1].CloseWrite()
			conns[1].Close()
		}()
		return conns[0], nil
	}
	c, err := echoed()
	if err != nil {
		return res, err
	}
	defer c.Close()
	if res.secs, err = echoStream(c); err != nil {
		return res, err
	}
	c2, err := echoed()
	if err != nil {
		return res, err
	}
	defer c2.Close()
	res.rttMicros, err = roundTrips(c2)
	return res, err
}

// socketPair returns the two ends of a connected Unix stream socket pair.
func socketPair() ([2]*net.UnixConn, error) {
	var conns [2]*net.UnixConn
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return conns, err
	}
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			return conns, err
		}
		conns[i] = c.(*net.UnixConn)
	}
	return conns, nil
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
