package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// tcpPort is where the test listens on glue.hw.peer for the tcp check;
// test/scenario spells the same port.
const tcpPort = 5201

// tcpCheck connects to the peer, receives glue.hw.tcp MiB, then sends
// glue.hw.tcp.up KiB of its own, and reports the SHA-256 of each
// direction; the test compares them with what it sent and received, byte
// for byte.
func tcpCheck(r *report, params map[string]string) {
	mib, err := strconv.Atoi(paramOr(params, "glue.hw.tcp", "64"))
	kib, err2 := strconv.Atoi(paramOr(params, "glue.hw.tcp.up", "1024"))
	if err != nil || err2 != nil || mib <= 0 || kib <= 0 {
		r.fail("tcp", "glue.hw.tcp=%q glue.hw.tcp.up=%q: want MiB and KiB", params["glue.hw.tcp"], params["glue.hw.tcp.up"])
		return
	}
	peer := net.JoinHostPort(paramOr(params, "glue.hw.peer", "192.0.2.1"), strconv.Itoa(tcpPort))
	conn, err := net.DialTimeout("tcp", peer, 30*time.Second)
	if err != nil {
		r.fail("tcp", "%v", err)
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Minute))
	size := int64(mib) << 20
	start := time.Now()
	in := sha256.New()
	if n, err := io.CopyN(io.MultiWriter(in, &progress{r: r, what: "received", start: start}), conn, size); err != nil {
		r.fail("tcp", "received %d of %d bytes: %v", n, size, err)
		return
	}
	received := time.Since(start)
	out := sha256.New()
	up := int64(kib) << 10
	if n, err := io.Copy(io.MultiWriter(conn, out, &progress{r: r, what: "sent", start: start}), &counterStream{left: up}); err != nil {
		r.fail("tcp", "sent %d of %d bytes: %v", n, up, err)
		return
	}
	// Written is not received: the host closes once it has every byte,
	// and only then may the check pass and the VM end (a VMM killed at
	// GLUE-DONE would lose what was still on its way).
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		r.fail("tcp", "shutdown: %v", err)
		return
	}
	if n, err := io.Copy(io.Discard, conn); err != nil || n != 0 {
		r.fail("tcp", "waiting for the host to close: %d bytes more, %v", n, err)
		return
	}
	sent := time.Since(start) - received
	r.pass("tcp", fmt.Sprintf("received=%d received-sha256=%s sent=%d sent-sha256=%s ms=%d %s", size,
		hex.EncodeToString(in.Sum(nil)), up, hex.EncodeToString(out.Sum(nil)), time.Since(start).Milliseconds(),
		tcpRates(size, received, up, sent)))
}

// tcpRates is the tcp check's throughput each way, as the guest timed
// it: the receiving from the connection's start, the sending after it.
func tcpRates(received int64, receiving time.Duration, sent int64, sending time.Duration) string {
	rate := func(n int64, d time.Duration) float64 {
		return float64(n) / (1 << 20) / max(d, time.Microsecond).Seconds()
	}
	return fmt.Sprintf("received-mibs=%.1f sent-mibs=%.1f", rate(received, receiving), rate(sent, sending))
}

// counterStream yields left bytes in which every 8 bytes hold their
// offset, little-endian, inverted (so that it differs from the stream the
// test sends): a piece out of place changes the digest.
type counterStream struct {
	off, left int64
}

func (s *counterStream) Read(p []byte) (int, error) {
	if s.left == 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), s.left) &^ 7
	if n == 0 {
		n = min(int64(len(p)), s.left)
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], ^uint64(s.off&^7))
		copy(p[:n], w[s.off&7:])
	}
	for i := int64(0); i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(p[i:], ^uint64(s.off+i))
	}
	s.off += n
	s.left -= n
	return int(n), nil
}

// progress prints a GLUE-TCP line every progressStep bytes, so that a
// slow or stuck transfer shows how far it got.
type progress struct {
	r     *report
	what  string
	start time.Time
	n     int64
}

const progressStep = 16 << 20

func (p *progress) Write(b []byte) (int, error) {
	before := p.n
	p.n += int64(len(b))
	if p.n/progressStep != before/progressStep {
		p.r.line("GLUE-TCP %s %d MiB ms=%d", p.what, p.n>>20, time.Since(p.start).Milliseconds())
	}
	return len(b), nil
}
