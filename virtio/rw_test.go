package virtio_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/gluevmm/glue/virtio"
	"github.com/gluevmm/glue/virtio/virtiotest"
)

func popChain(t *testing.T, f *fixture, bufs ...virtiotest.Buf) *virtio.DescriptorChain {
	t.Helper()
	f.drv.AddChain(bufs...)
	c := f.q.Pop()
	if c == nil {
		t.Fatal("no chain")
	}
	return c
}

func TestReaderAcrossDescriptors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 8, 0)
	c := popChain(t, f, virtiotest.Readable([]byte("hel")), virtiotest.Readable(nil),
		virtiotest.Readable([]byte("lo, ")), virtiotest.Readable([]byte("world")), virtiotest.Writable(4))

	r := c.Reader()
	if r.Len() != 12 {
		t.Fatalf("Len = %d", r.Len())
	}
	// iotest.TestReader reads in odd sizes, checks EOF behaviour and more.
	if err := iotest.TestReader(r, []byte("hello, world")); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	n, err := c.Reader().WriteTo(&out)
	if err != nil || n != 12 || out.String() != "hello, world" {
		t.Fatalf("WriteTo = %d, %v, %q", n, err, out.String())
	}
	// A short writer stops WriteTo with its error.
	r = c.Reader()
	if _, err := r.WriteTo(&limitedWriter{n: 5}); !errors.Is(err, io.ErrShortWrite) {
		t.Fatalf("WriteTo short = %v", err)
	}
	if r.Len() != 7 {
		t.Fatalf("after a short write Len = %d, want 7", r.Len())
	}
}

// limitedWriter accepts n bytes, then fails.
type limitedWriter struct{ n int }

func (w *limitedWriter) Write(p []byte) (int, error) {
	m := min(w.n, len(p))
	w.n -= m
	if m < len(p) {
		return m, io.ErrShortWrite
	}
	return m, nil
}

func TestWriterAcrossDescriptors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 8, 0)
	c := popChain(t, f, virtiotest.Readable([]byte("x")), virtiotest.Writable(3), virtiotest.Writable(0), virtiotest.Writable(5))

	w := c.Writer()
	if w.Len() != 8 {
		t.Fatalf("Len = %d", w.Len())
	}
	if n, err := w.Write([]byte("abcd")); n != 4 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if n, err := w.Write([]byte("efghij")); n != 4 || !errors.Is(err, virtio.ErrChainFull) {
		t.Fatalf("overflowing Write = %d, %v", n, err)
	}
	if w.Written() != 8 || w.Len() != 0 {
		t.Fatalf("Written %d Len %d", w.Written(), w.Len())
	}
	f.q.AddUsed(c.Head(), w.Written())
	if u := f.drv.Used(); string(f.drv.Written(u[0])) != "abcdefgh" {
		t.Fatalf("guest got %q", f.drv.Written(u[0]))
	}
}

func TestWriterReadFrom(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		src     func() io.Reader
		want    string
		wantErr error
	}{
		{"source shorter than the chain", func() io.Reader { return strings.NewReader("abc") }, "abc", nil},
		{"exact fit", func() io.Reader { return strings.NewReader("abcdefgh") }, "abcdefgh", nil},
		{"limited source", func() io.Reader { return io.LimitReader(strings.NewReader("abcdefghijk"), 8) }, "abcdefgh", nil},
		{"source longer than the chain", func() io.Reader { return strings.NewReader("abcdefghijk") }, "abcdefgh", virtio.ErrChainFull},
		{"one byte at a time", func() io.Reader { return iotest.OneByteReader(strings.NewReader("abcdef")) }, "abcdef", nil},
		{"source error", func() io.Reader { return iotest.TimeoutReader(strings.NewReader("abcdefgh")) }, "abc", iotest.ErrTimeout},
		{"source that never progresses", func() io.Reader { return zeroReader{} }, "", io.ErrNoProgress},
		{"lying source", func() io.Reader { return liar{} }, "", io.ErrNoProgress},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 8, 0)
			c := popChain(t, f, virtiotest.Writable(3), virtiotest.Writable(5))
			w := c.Writer()
			_, err := w.ReadFrom(tc.src())
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("ReadFrom err = %v, want %v", err, tc.wantErr)
			}
			f.q.AddUsed(c.Head(), w.Written())
			u := f.drv.Used()
			if got := string(f.drv.Written(u[0])); got != tc.want {
				t.Fatalf("guest got %q, want %q", got, tc.want)
			}
		})
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

// liar claims to have read more than it was given.
type liar struct{}

func (liar) Read(p []byte) (int, error) { return len(p) + 1, nil }

// io.CopyN uses Writer.ReadFrom: the guest's buffer is filled with no host
// buffer in between, and the copy is bounded by n.
func TestCopyNIntoChain(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 8, 0)
	c := popChain(t, f, virtiotest.Writable(1<<16))
	w := c.Writer()
	n, err := io.CopyN(w, strings.NewReader(strings.Repeat("z", 1<<17)), 100)
	if n != 100 || err != nil || w.Written() != 100 {
		t.Fatalf("CopyN = %d, %v; written %d", n, err, w.Written())
	}
}
