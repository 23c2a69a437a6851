package initramfs

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gluevmm/glue/test/hosttest"
)

// The smallest archive, spelled out field by field: one file and the
// trailer, with the padding after the name and after the data.
func TestWriterBytes(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.AddFile("/init", 0o755, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "070701" +
		"00000001" + // ino
		"000081ed" + // mode: S_IFREG | 0755
		"00000000" + "00000000" + // uid, gid
		"00000001" + // nlink
		"00000000" + // mtime
		"00000002" + // filesize
		"00000000" + "00000000" + "00000000" + "00000000" + // dev, rdev
		"00000005" + // namesize: "init" and its NUL
		"00000000" + // check
		"init\x00" + "\x00" + // 110+5 bytes, padded to 116
		"hi" + "\x00\x00" + // data, padded to 120
		"070701" + "00000000" + "00000000" + "00000000" + "00000000" + "00000001" + "00000000" +
		"00000000" + "00000000" + "00000000" + "00000000" + "00000000" + "0000000b" + "00000000" +
		"TRAILER!!!\x00" + "\x00\x00\x00" // 110+11 bytes, padded to 124
	if got := buf.String(); got != want {
		t.Fatalf("archive:\n%q\nwant:\n%q", got, want)
	}
}

// entry is one parsed cpio entry; the parser below is written from the
// format's description, independently of the Writer.
type entry struct {
	name                                     string
	ino, mode, uid, gid, nlink, mtime        uint64
	devMajor, devMinor, rdevMajor, rdevMinor uint64
	data                                     string
}

func parseArchive(t *testing.T, b []byte) []entry {
	t.Helper()
	var entries []entry
	off := 0
	for {
		if off%4 != 0 {
			t.Fatalf("entry at offset %d is not 4-byte aligned", off)
		}
		if len(b)-off < headerSize || string(b[off:off+6]) != "070701" {
			t.Fatalf("no newc header at offset %d", off)
		}
		var f [13]uint64
		for i := range f {
			v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
			if err != nil {
				t.Fatalf("field %d at offset %d: %v", i, off, err)
			}
			f[i] = v
		}
		nameEnd := off + headerSize + int(f[11])
		if b[nameEnd-1] != 0 {
			t.Fatalf("name at offset %d is not NUL-terminated", off)
		}
		e := entry{name: string(b[off+headerSize : nameEnd-1]), ino: f[0], mode: f[1], uid: f[2], gid: f[3],
			nlink: f[4], mtime: f[5], devMajor: f[7], devMinor: f[8], rdevMajor: f[9], rdevMinor: f[10]}
		dataStart := (nameEnd + 3) &^ 3
		if !allZero(b[nameEnd:dataStart]) {
			t.Fatalf("%s: name padding is not zero", e.name)
		}
		dataEnd := dataStart + int(f[6])
		e.data = string(b[dataStart:dataEnd])
		off = (dataEnd + 3) &^ 3
		if !allZero(b[dataEnd:off]) {
			t.Fatalf("%s: data padding is not zero", e.name)
		}
		if e.name == trailerName {
			if off != len(b) {
				t.Fatalf("%d bytes after the trailer", len(b)-off)
			}
			return entries
		}
		entries = append(entries, e)
	}
}

func allZero(b []byte) bool { return !slices.ContainsFunc(b, func(c byte) bool { return c != 0 }) }

func TestWriterEntries(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, err := range []error{
		w.AddCharDevice("dev/console", 0o600, 5, 1),
		w.AddDir("dev", 0o700), // already there as a parent: not written again
		w.AddFile("lib/modules/virtio.ko", 0o644, []byte("12345")),
		w.AddSymlink("sbin/init", "/init"),
		w.AddDir("tmp", 0o777|fs.ModeSticky),
		w.AddFile("bin/su", 0o755|fs.ModeSetuid, nil),
		w.Close(),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	want := []struct {
		name string
		mode uint64
		data string
	}{
		{"dev", 0o040755, ""},
		{"dev/console", 0o020600, ""},
		{"lib", 0o040755, ""},
		{"lib/modules", 0o040755, ""},
		{"lib/modules/virtio.ko", 0o100644, "12345"},
		{"sbin", 0o040755, ""},
		{"sbin/init", 0o120777, "/init"},
		{"tmp", 0o041777, ""},
		{"bin", 0o040755, ""},
		{"bin/su", 0o104755, ""},
	}
	got := parseArchive(t, buf.Bytes())
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(got), len(want), got)
	}
	inodes := map[uint64]bool{}
	for i, e := range got {
		if e.name != want[i].name || e.mode != want[i].mode || e.data != want[i].data {
			t.Errorf("entry %d: %s mode %o data %q, want %s mode %o data %q",
				i, e.name, e.mode, e.data, want[i].name, want[i].mode, want[i].data)
		}
		if e.uid != 0 || e.gid != 0 || e.mtime != 0 || e.devMajor != 0 || e.devMinor != 0 {
			t.Errorf("%s: uid %d gid %d mtime %d dev %d:%d, want all 0", e.name, e.uid, e.gid, e.mtime, e.devMajor, e.devMinor)
		}
		if wantLinks := map[bool]uint64{true: 2, false: 1}[e.mode&modeType == modeDir]; e.nlink != wantLinks {
			t.Errorf("%s: nlink %d, want %d", e.name, e.nlink, wantLinks)
		}
		if inodes[e.ino] || e.ino == 0 {
			t.Errorf("%s: inode %d is zero or repeated", e.name, e.ino)
		}
		inodes[e.ino] = true
	}
	if c := got[1]; c.rdevMajor != 5 || c.rdevMinor != 1 {
		t.Errorf("dev/console is %d:%d, want 5:1", c.rdevMajor, c.rdevMinor)
	}
}

// Every padding length: names and data of 0 to 4 bytes past an aligned
// size.
func TestWriterPadding(t *testing.T) {
	t.Parallel()
	for n := 1; n <= 8; n++ {
		var buf bytes.Buffer
		w := NewWriter(&buf)
		name := strings.Repeat("n", n)
		data := []byte(strings.Repeat("d", n-1))
		if err := w.AddFile(name, 0o644, data); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got := parseArchive(t, buf.Bytes())
		if len(got) != 1 || got[0].name != name || got[0].data != string(data) {
			t.Errorf("name length %d: %+v", n, got)
		}
	}
}

func TestWriterRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		add  func(w *Writer) error
	}{
		{"empty name", func(w *Writer) error { return w.AddFile("", 0o644, nil) }},
		{"root", func(w *Writer) error { return w.AddDir("/", 0o755) }},
		{"dot-dot", func(w *Writer) error { return w.AddFile("a/../b", 0o644, nil) }},
		{"leading dot-dot", func(w *Writer) error { return w.AddFile("../b", 0o644, nil) }},
		{"dot", func(w *Writer) error { return w.AddFile("./b", 0o644, nil) }},
		{"double slash", func(w *Writer) error { return w.AddFile("a//b", 0o644, nil) }},
		{"trailing slash", func(w *Writer) error { return w.AddDir("a/", 0o755) }},
		{"NUL", func(w *Writer) error { return w.AddFile("a\x00b", 0o644, nil) }},
		{"too long", func(w *Writer) error { return w.AddFile(strings.Repeat("a", maxName), 0o644, nil) }},
		{"type bits in mode", func(w *Writer) error { return w.AddFile("a", fs.ModeDir|0o755, nil) }},
		{"duplicate file", func(w *Writer) error { w.AddFile("a", 0o644, nil); return w.AddFile("a", 0o644, nil) }},
		{"file over dir", func(w *Writer) error { w.AddDir("a", 0o755); return w.AddFile("a", 0o644, nil) }},
		{"dir over file", func(w *Writer) error { w.AddFile("a", 0o644, nil); return w.AddDir("a", 0o755) }},
		{"under a file", func(w *Writer) error { w.AddFile("a", 0o644, nil); return w.AddFile("a/b", 0o644, nil) }},
		{"empty symlink", func(w *Writer) error { return w.AddSymlink("a", "") }},
		{"after close", func(w *Writer) error { w.Close(); return w.AddFile("a", 0o644, nil) }},
		{"close twice", func(w *Writer) error { w.Close(); return w.Close() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.add(NewWriter(&bytes.Buffer{})); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

type failingWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.n < len(p) {
		n := f.n
		f.n = 0
		return n, errDiskFull
	}
	f.n -= len(p)
	return len(p), nil
}

// A write error is returned by the call that hit it and by every later one.
func TestWriterStickyError(t *testing.T) {
	t.Parallel()
	w := NewWriter(&failingWriter{n: 200})
	if err := w.AddFile("a", 0o644, bytes.Repeat([]byte{1}, 300)); !errors.Is(err, errDiskFull) {
		t.Fatalf("AddFile: %v, want %v", err, errDiskFull)
	}
	if err := w.AddFile("b", 0o644, nil); !errors.Is(err, errDiskFull) {
		t.Fatalf("AddFile after the error: %v", err)
	}
	if err := w.Close(); !errors.Is(err, errDiskFull) {
		t.Fatalf("Close after the error: %v", err)
	}
}

// The archive as GNU cpio reads it, where cpio is installed.
func TestWriterGNUCpio(t *testing.T) {
	t.Parallel()
	cpio := hosttest.LookPath(t, "cpio")
	var buf bytes.Buffer
	w := NewWriter(&buf)
	w.AddFile("init", 0o755, []byte("#!/bin/sh\n"))
	w.AddFile("lib/modules/a.ko", 0o644, []byte("abc"))
	w.AddSymlink("sbin/init", "/init")
	w.AddDir("proc", 0o555)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	list := exec.Command(cpio, "-it", "--quiet")
	list.Stdin = bytes.NewReader(buf.Bytes())
	out, err := list.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -it: %v\n%s", err, out)
	}
	want := "init\nlib\nlib/modules\nlib/modules/a.ko\nsbin\nsbin/init\nproc\n"
	if string(out) != want {
		t.Fatalf("cpio -it listed:\n%s\nwant:\n%s", out, want)
	}

	dir := t.TempDir()
	extract := exec.Command(cpio, "-id", "--quiet")
	extract.Dir, extract.Stdin = dir, bytes.NewReader(buf.Bytes())
	if out, err := extract.CombinedOutput(); err != nil {
		t.Fatalf("cpio -id: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "lib/modules/a.ko")); err != nil || string(b) != "abc" {
		t.Errorf("extracted a.ko: %q, %v", b, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "init")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("extracted init: %v, %v", fi, err)
	}
	if target, err := os.Readlink(filepath.Join(dir, "sbin/init")); err != nil || target != "/init" {
		t.Errorf("extracted symlink: %q, %v", target, err)
	}
}
