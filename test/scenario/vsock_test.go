package scenario

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// guestStreamSHA256 is the digest of 1000 bytes of init's counter stream;
// init's TestCounterStream checks counterStream against the same.
const guestStreamSHA256 = "5fea1893c5bc61f60aaf7a7c42b16ed56d0bbd20a20d390d5214ca887b166297"

// The host's copy of init's stream is the inverted offsets, whatever the
// read sizes.
func TestGuestStream(t *testing.T) {
	t.Parallel()
	whole, _ := io.ReadAll(&guestStream{left: 1000})
	var pieces []byte
	s := &guestStream{left: 1000}
	for buf := make([]byte, 3); ; {
		n, err := s.Read(buf)
		pieces = append(pieces, buf[:n]...)
		if err != nil {
			break
		}
	}
	if d := firstDifference(pieces, whole); d >= 0 {
		t.Errorf("read 3 bytes at a time differs at %d", d)
	}
	if whole[8] != ^byte(8) || whole[9] != 0xff {
		t.Errorf("bytes 8, 9 = %#x %#x, want ^8 and 0xff", whole[8], whole[9])
	}
	if sum := sha256.Sum256(whole); hex.EncodeToString(sum[:]) != guestStreamSHA256 {
		t.Errorf("SHA-256 %x, want %s", sum, guestStreamSHA256)
	}
}

// fakeGlueVsock plays glue and the guest on the host's vsock side: it
// connects to PATH_5300 and sends up (the guest's stream), and answers a
// CONNECT on PATH with OK and an echo of what follows, through mangle.
func fakeGlueVsock(t *testing.T, path string, up []byte, okLine string, mangle func([]byte) []byte) {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := net.Dial("unix", fmt.Sprintf("%s_%d", path, VsockHostPort))
		if err != nil {
			return
		}
		c.Write(up)
		c.Close()
	}()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		rd := bufio.NewReader(c)
		if line, _ := rd.ReadString('\n'); line != fmt.Sprintf("CONNECT %d\n", VsockEchoPort) {
			return
		}
		io.WriteString(c, okLine)
		b, _ := io.ReadAll(rd)
		c.Write(mangle(b))
	}()
}

func TestVsockHost(t *testing.T) {
	t.Parallel()
	good, _ := io.ReadAll(&guestStream{left: VsockUpKiB << 10})
	same := func(b []byte) []byte { return b }
	tests := []struct {
		name   string
		up     []byte
		ok     string
		mangle func([]byte) []byte
		check  func(*VsockResult) string
	}{
		{"both ways", good, "OK 1073741824\n", same, func(r *VsockResult) string {
			if r.Err != "" || r.FromGuest != VsockUpKiB<<10 || r.Mismatch != -1 || r.HostPort != 1<<30 || r.Echoed != VsockEchoKiB<<10 {
				return "want everything right"
			}
			return ""
		}},
		{"a byte of the guest's changed", append(append([]byte{}, good[:100]...), append([]byte{good[100] ^ 1}, good[101:]...)...),
			"OK 1073741824\n", same, func(r *VsockResult) string {
				if r.Mismatch != 100 {
					return "want the difference at 100"
				}
				return ""
			}},
		{"echo changed", good, "OK 1073741824\n", func(b []byte) []byte { b[5] ^= 1; return b }, func(r *VsockResult) string {
			if r.Echoed != 5 {
				return "want 5 bytes echoed as sent"
			}
			return ""
		}},
		{"no OK", good, "NO\n", same, func(r *VsockResult) string {
			if !strings.Contains(r.Err, "CONNECT 5301") {
				return "want the CONNECT's failure"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "vm.vsock")
			h, err := listenVsock(path)
			if err != nil {
				t.Fatal(err)
			}
			fakeGlueVsock(t, path, tt.up, tt.ok, tt.mangle)
			h.connectEcho(VsockEchoKiB << 10)
			r := h.close(true)
			if msg := tt.check(r); msg != "" {
				t.Errorf("%+v: %s", r, msg)
			}
		})
	}
}
