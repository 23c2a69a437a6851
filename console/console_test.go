package console

import (
	"bytes"
	"io"
	"sync"
	"testing"
	"time"
)

func TestEscape(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		chunks []string
		want   string
		quit   bool
	}{
		{"plain", []string{"hello"}, "hello", false},
		{"quit", []string{"ab\x01xcd"}, "ab", true},
		{"quit upper", []string{"\x01X"}, "", true},
		{"literal ctrl-a", []string{"a\x01\x01b"}, "a\x01b", false},
		{"other key passes both", []string{"\x01c"}, "\x01c", false},
		{"split across reads", []string{"ab\x01", "x"}, "ab", true},
		{"split literal", []string{"\x01", "\x01z"}, "\x01z", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var e Escape
			var got []byte
			quit := false
			for _, c := range tc.chunks {
				out, q := e.Filter([]byte(c))
				got = append(got, out...)
				if q {
					quit = true
					break
				}
			}
			if string(got) != tc.want || quit != tc.quit {
				t.Fatalf("got %q quit=%v, want %q quit=%v", got, quit, tc.want, tc.quit)
			}
		})
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func TestAsyncWriterDelivers(t *testing.T) {
	t.Parallel()
	var dst syncBuffer
	w := NewAsyncWriter(&dst, 1<<20)
	for i := 0; i < 100; i++ {
		w.Write([]byte("line\n"))
	}
	w.Close(5 * time.Second)
	if got := dst.b.Len(); got != 500 {
		t.Fatalf("delivered %d bytes, want 500", got)
	}
	if w.Dropped() != 0 {
		t.Fatalf("dropped %d", w.Dropped())
	}
}

// blockedWriter never returns until released: a stalled consumer.
type blockedWriter struct{ release chan struct{} }

func (b blockedWriter) Write(p []byte) (int, error) { <-b.release; return len(p), nil }

func TestAsyncWriterNeverBlocksOnStalledConsumer(t *testing.T) {
	t.Parallel()
	dst := blockedWriter{release: make(chan struct{})}
	w := NewAsyncWriter(dst, 16)
	finished := make(chan struct{})
	go func() {
		for i := 0; i < 1000; i++ {
			w.Write([]byte("0123456789"))
		}
		close(finished)
	}()
	<-finished // would hang forever if Write blocked
	if w.Dropped() == 0 {
		t.Fatal("expected dropped bytes with a stalled consumer")
	}
	close(dst.release)
	w.Close(time.Second)
}

func TestAsyncWriterCloseIdempotent(t *testing.T) {
	t.Parallel()
	w := NewAsyncWriter(io.Discard, 8)
	w.Close(time.Second)
	w.Close(time.Second)
	w.Write([]byte("after close"))
}
