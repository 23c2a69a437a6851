package integration

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

const (
	vsockConns = 64       // the figure, and the own guest's MAXC
	vsockBytes = 16 << 20 // per connection, each way
	slowPause  = 5 * time.Second
)

// vsockPattern is the guest's pattern() (guest/src/vsock.c): byte off of
// its send connection idx.
func vsockPattern(idx int, off uint64) byte {
	return byte(off ^ off>>8 ^ off>>16 ^ uint64(idx*37+1))
}

// Under load, with a real guest: the guest opens 64 connections at once to
// a host listener and sends 16 MiB of a known pattern on each, which the
// host checks byte for byte; then 64 host programs connect at once to the
// guest's echo port, each streaming 16 MiB of its own random data while
// reading the echo, checked byte for byte. In each direction one host peer
// reads nothing for a while; the other 63 finish before it resumes.
func TestVsock64(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"pci", "mmio"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			requireKVM(t)
			sock := filepath.Join(t.TempDir(), "v.sock")
			ln, err := net.Listen("unix", sock+"_6000")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			start := time.Now()
			recv := make(chan error, 1)
			go func() { recv <- receivePatterns(ln) }()
			s := startGlue(t, "run", "-m", "64", "--transport", transport, "--vsock", "cid=9,socket="+sock, "-p",
				fmt.Sprintf("glue.test=vsock glue.vsock.send=6000 glue.vsock.sconns=%d glue.vsock.bytes=%d glue.vsock.listen=52 glue.vsock.conns=%d glue.vsock.timeout=60",
					vsockConns, vsockBytes, vsockConns))
			if err := <-recv; err != nil {
				t.Fatalf("guest to host: %v", err)
			}
			t.Logf("guest to host: %d x %d MiB checked in %v", vsockConns, vsockBytes>>20, time.Since(start).Round(time.Millisecond))
			s.waitFor("GLUE-READY vsock", time.Minute)
			start = time.Now()
			if err := echoMany(t, sock); err != nil {
				t.Fatalf("host to guest: %v", err)
			}
			t.Logf("host to guest and back: %d x %d MiB checked in %v", vsockConns, vsockBytes>>20, time.Since(start).Round(time.Millisecond))
			if code := s.wait(time.Minute); code != 0 {
				t.Fatalf("exit %d", code)
			}
			m := markers(t, s.output())["vsock"]
			for k, want := range map[string]string{"conns": strconv.Itoa(vsockConns), "sent": strconv.Itoa(vsockConns * vsockBytes),
				"echoed": strconv.Itoa(2 * vsockConns * vsockBytes), "transport": transport} {
				if got := field(m, k); got != want {
					t.Errorf("GLUE-OK vsock %s=%s, want %s (%s)", k, got, want, m)
				}
			}
		})
	}
}

// receivePatterns accepts the guest's 64 connections and checks each
// one's bytes against vsockPattern, telling the connection by its first
// byte (idx*37+1 differs for each idx below 256/gcd(37,256)). The first
// connection accepted waits slowPause before reading; all others must be
// complete by then.
func receivePatterns(ln net.Listener) error {
	var mu sync.Mutex
	seen := map[int]bool{}
	errs := make(chan error, vsockConns)
	slowUntil := time.Now().Add(time.Hour)
	var lateFast []int
	for i := 0; i < vsockConns; i++ {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		slow := i == 0
		if slow {
			slowUntil = time.Now().Add(slowPause)
		}
		go func() {
			defer c.Close()
			if slow {
				time.Sleep(slowPause)
			}
			r := bufio.NewReaderSize(c, 64<<10)
			first, err := r.Peek(1)
			if err != nil {
				errs <- fmt.Errorf("a connection sent nothing: %v", err)
				return
			}
			idx := -1
			for k := 0; k < vsockConns; k++ {
				if vsockPattern(k, 0) == first[0] {
					idx = k
				}
			}
			mu.Lock()
			dup := idx < 0 || seen[idx]
			seen[idx] = true
			mu.Unlock()
			if dup {
				errs <- fmt.Errorf("first byte %#x: no connection or a repeated one", first[0])
				return
			}
			var off uint64
			buf := make([]byte, 64<<10)
			for {
				n, err := r.Read(buf)
				for _, b := range buf[:n] {
					if b != vsockPattern(idx, off) {
						errs <- fmt.Errorf("connection %d: byte %d is %#x, want %#x", idx, off, b, vsockPattern(idx, off))
						return
					}
					off++
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					errs <- fmt.Errorf("connection %d: %v after %d bytes", idx, err, off)
					return
				}
			}
			if off != vsockBytes {
				errs <- fmt.Errorf("connection %d: %d bytes, want %d", idx, off, vsockBytes)
				return
			}
			if !slow && time.Now().After(slowUntil) {
				mu.Lock()
				lateFast = append(lateFast, idx)
				mu.Unlock()
			}
			errs <- nil
		}()
	}
	for i := 0; i < vsockConns; i++ {
		if err := <-errs; err != nil {
			return err
		}
	}
	if len(lateFast) > 0 {
		return fmt.Errorf("connections %v finished only after the slow reader resumed: it stalled them", lateFast)
	}
	return nil
}

// echoMany connects 64 host programs to the guest's echo port at once;
// each writes vsockBytes of its own random data while reading the echo.
// Program 0 reads nothing for slowPause; the other 63 must finish first.
func echoMany(t *testing.T, sock string) error {
	type conn struct {
		c *net.UnixConn
		r *bufio.Reader
	}
	conns := make([]conn, vsockConns)
	for i := range conns {
		c, r := dialGuest(t, sock, 52)
		conns[i] = conn{c, r}
	}
	slowUntil := time.Now().Add(slowPause)
	errs := make(chan error, 2*vsockConns)
	var mu sync.Mutex
	var lateFast []int
	for i, cn := range conns {
		payload := make([]byte, vsockBytes)
		rand.Read(payload)
		go func() {
			_, err := cn.c.Write(payload)
			if err == nil {
				err = cn.c.CloseWrite()
			}
			errs <- err
		}()
		go func() {
			if i == 0 {
				time.Sleep(slowPause)
			}
			got, err := io.ReadAll(cn.r)
			switch {
			case err != nil:
				err = fmt.Errorf("connection %d: %v", i, err)
			case !bytes.Equal(got, payload):
				err = fmt.Errorf("connection %d: echo of %d bytes differs from the %d sent", i, len(got), len(payload))
			case i != 0 && time.Now().After(slowUntil):
				mu.Lock()
				lateFast = append(lateFast, i)
				mu.Unlock()
			}
			errs <- err
		}()
	}
	for i := 0; i < 2*vsockConns; i++ {
		if err := <-errs; err != nil {
			return err
		}
	}
	if len(lateFast) > 0 {
		return fmt.Errorf("connections %v finished only after the slow reader resumed: it stalled them", lateFast)
	}
	return nil
}
