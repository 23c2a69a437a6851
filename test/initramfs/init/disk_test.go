package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// countRecords counts the records that are each the one their place
// says, and refuses anything else after them.
func TestCountRecords(t *testing.T) {
	t.Parallel()
	const token = "c0ffee"
	records := func(n int) []byte {
		var b []byte
		for i := 1; i <= n; i++ {
			b = append(b, fsyncRecord(token, i)...)
		}
		return b
	}
	tests := []struct {
		name string
		data []byte // nil: no file
		want int
		err  string
	}{
		{"no file yet", nil, 0, ""},
		{"empty", []byte{}, 0, ""},
		{"three", records(3), 3, ""},
		{"torn last record", append(records(3), make([]byte, 100)...), 3, "100 bytes after 3 whole records"},
		{"records out of order", append(records(2), fsyncRecord(token, 4)...), 2, "record 3 is not"},
		{"another token's", append(records(1), fsyncRecord("other", 2)...), 1, "record 2 is not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "fsync")
			if tt.data != nil {
				if err := os.WriteFile(path, tt.data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			n, err := countRecords(path, token)
			if n != tt.want || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("countRecords = %d, %v; want %d, error %q", n, err, tt.want, tt.err)
			}
		})
	}
}

// awaitKey returns at a press of the key, not at its release or at
// another key's press.
func TestAwaitKey(t *testing.T) {
	t.Parallel()
	event := func(typ, code uint16, value int32) []byte {
		ev := make([]byte, inputEventSize)
		binary.NativeEndian.PutUint16(ev[16:], typ)
		binary.NativeEndian.PutUint16(ev[18:], code)
		binary.NativeEndian.PutUint32(ev[20:], uint32(value))
		return ev
	}
	var in bytes.Buffer
	in.Write(event(evKey, keyPower, 0)) // a release
	in.Write(event(evKey, 115, 1))      // KEY_VOLUMEUP
	in.Write(event(0, 0, 0))            // EV_SYN
	if err := awaitKey(bytes.NewReader(in.Bytes()), keyPower); err != io.EOF {
		t.Fatalf("without a press of KEY_POWER: %v, want EOF", err)
	}
	in.Write(event(evKey, keyPower, 1))
	if err := awaitKey(bytes.NewReader(in.Bytes()), keyPower); err != nil {
		t.Fatalf("with a press: %v", err)
	}
}

// The guest's stream is the complement of each 8-byte offset, whatever
// the sizes of the reads.
func TestCounterStream(t *testing.T) {
	t.Parallel()
	const size = 1<<16 + 4
	want := make([]byte, size+4)
	for off := 0; off < size; off += 8 {
		binary.LittleEndian.PutUint64(want[off:], ^uint64(off))
	}
	want = want[:size]
	for _, chunk := range []int{8, 13, 4096, 1 << 20} {
		s := &counterStream{left: size}
		var got bytes.Buffer
		buf := make([]byte, chunk)
		for {
			n, err := s.Read(buf)
			got.Write(buf[:n])
			if err == io.EOF {
				break
			}
		}
		if sha256.Sum256(got.Bytes()) != sha256.Sum256(want) {
			t.Errorf("reads of %d bytes: %d bytes, not the stream", chunk, got.Len())
		}
	}
}
