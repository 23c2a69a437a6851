package blk_test

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gluevmm/glue/virtio/blk"
	vt "github.com/gluevmm/glue/virtio/virtiotest"
)

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := func(name string, size int) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		opts blk.Options
		want string // in the message
		is   error  // errors.Is, if set
	}{
		{"missing", filepath.Join(dir, "nope.img"), blk.Options{}, "no such file", fs.ErrNotExist},
		{"directory read-write", dir, blk.Options{}, "is a directory", nil},
		{"directory read-only", dir, blk.Options{ReadOnly: true}, "is a directory", nil},
		{"empty", file("empty.img", 0), blk.Options{}, "0 bytes is less than one 512-byte sector", nil},
		{"under a sector", file("small.img", 511), blk.Options{}, "511 bytes is less than one", nil},
		{"character device", "/dev/null", blk.Options{}, "not a regular file or block device", nil},
		{"fifo, without blocking", fifo, blk.Options{ReadOnly: true}, "not a regular file or block device", nil},
		{"id too long", file("ok.img", 512), blk.Options{ID: strings.Repeat("x", 21)}, "longer than 20 bytes", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := blk.Open(tc.path, tc.opts)
			if err == nil {
				d.Close()
				t.Fatal("opened")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "blk: ") || !strings.Contains(msg, tc.path) || !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q: want the prefix, the path and %q", msg, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %q is not %v", msg, tc.is)
			}
		})
	}
}

// Locks: one read-write user, or any number of read-only ones; the error
// names the image.
func TestLocking(t *testing.T) {
	t.Parallel()
	rw, ro := blk.Options{}, blk.Options{ReadOnly: true}
	tests := []struct {
		name          string
		first, second blk.Options
		ok            bool
	}{
		{"read-write twice", rw, rw, false},
		{"read-write after read-only", ro, rw, false},
		{"read-only after read-write", rw, ro, false},
		{"read-only twice", ro, ro, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := newImage(t, 4, 0)
			first := openDisk(t, path, tc.first)
			second, err := blk.Open(path, tc.second)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				second.Close()
			} else {
				if !errors.Is(err, blk.ErrInUse) {
					t.Fatalf("second open: %v, want ErrInUse", err)
				}
				if want := "blk: disk " + path + " is in use by another VM (locked)"; err.Error() != want {
					t.Fatalf("error %q, want %q", err, want)
				}
			}
			// Closing releases the lock.
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			if err := first.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			openDisk(t, path, rw)
		})
	}
}

// TestMain doubles as the second glue of TestLockOtherProcess: with
// GLUE_BLK_LOCK_HELPER set, the test binary opens that image read-write,
// says so and waits to be killed.
func TestMain(m *testing.M) {
	if path := os.Getenv("GLUE_BLK_LOCK_HELPER"); path != "" {
		if _, err := blk.Open(path, blk.Options{}); err != nil {
			os.Stdout.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("locked\n")
		io.Copy(io.Discard, os.Stdin) // until the parent kills us
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Another process holding the image read-write keeps this one out, until
// it dies (kill -9 releases the lock with the file).
// Not parallel: between fork and exec the child holds a copy of every fd
// this process has open, so a parallel test that closes a disk and reopens
// it would find the old lock still held for that moment.
func TestLockOtherProcess(t *testing.T) {
	path := newImage(t, 4, 0)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "GLUE_BLK_LOCK_HELPER="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "locked\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q", line)
	}
	for _, opts := range []blk.Options{{}, {ReadOnly: true}} {
		if d, err := blk.Open(path, opts); !errors.Is(err, blk.ErrInUse) {
			if d != nil {
				d.Close()
			}
			t.Errorf("open %+v while another process holds the image: %v", opts, err)
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	openDisk(t, path, blk.Options{})
}

// Bytes past the last whole sector are neither read nor written.
func TestCapacityRoundsDown(t *testing.T) {
	t.Parallel()
	path := newImage(t, 3, 100)
	before := readFile(t, path)
	d := openDisk(t, path, blk.Options{})
	if d.Sectors() != 3 {
		t.Fatalf("%d sectors, want 3", d.Sectors())
	}
	f := newFixture(t, d, allFeatures)
	data := make([]byte, 512)
	if r := f.run(t, vt.Readable(hdr(blk.ReqOut, 2)), vt.Readable(data), vt.Writable(1)); r.status != 0 {
		t.Fatalf("write to the last sector: status %d", r.status)
	}
	if r := f.run(t, vt.Readable(hdr(blk.ReqOut, 3)), vt.Readable(data), vt.Writable(1)); r.status != 1 {
		t.Fatalf("write to the partial sector: status %d", r.status)
	}
	if r := f.run(t, vt.Readable(hdr(blk.ReqIn, 3)), vt.Writable(512), vt.Writable(1)); r.status != 1 {
		t.Fatalf("read of the partial sector: status %d", r.status)
	}
	// The Disk itself refuses too, whoever calls it.
	if _, err := d.WriteAt(data[:1], 3*512); err == nil {
		t.Fatal("Disk.WriteAt past the capacity")
	}
	if n, err := d.ReadAt(make([]byte, 10), 3*512-4); n != 4 || err != io.EOF {
		t.Fatalf("ReadAt across the capacity: %d, %v", n, err)
	}
	after := readFile(t, path)
	if len(after) != len(before) || string(after[3*512:]) != string(before[3*512:]) {
		t.Fatal("tail changed")
	}
}

func TestDiskID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file, id, want string
	}{
		{"disk.img", "", "disk.img"},
		{"a-rather-long-image-name.raw", "", "a-rather-long-image-"},
		{"ééééééééééé.img", "", "éééééééééé"}, // 2-byte characters: 10 fit
		{"disk.img", "serial-42", "serial-42"},
		{"disk.img", "exactly-twenty-bytes", "exactly-twenty-bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.file+"/"+tc.id, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), tc.file)
			if err := os.WriteFile(path, make([]byte, 1024), 0o600); err != nil {
				t.Fatal(err)
			}
			d := openDisk(t, path, blk.Options{ID: tc.id})
			if d.ID() != tc.want {
				t.Fatalf("ID %q, want %q", d.ID(), tc.want)
			}
			f := newFixture(t, d, allFeatures)
			r := f.run(t, vt.Readable(hdr(blk.ReqGetID, 0)), vt.Writable(20), vt.Writable(1))
			if got := strings.TrimRight(string(r.bufs[1]), "\x00"); r.status != 0 || got != tc.want {
				t.Fatalf("GET_ID: status %d, %q", r.status, got)
			}
		})
	}
}

func TestDiskMethods(t *testing.T) {
	t.Parallel()
	path := newImage(t, 2, 0)
	d := openDisk(t, path, blk.Options{})
	if d.Path() != path || d.ReadOnly() || d.Sectors() != 2 {
		t.Fatalf("path %q, read-only %v, %d sectors", d.Path(), d.ReadOnly(), d.Sectors())
	}
	if _, err := d.WriteAt([]byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadAt(make([]byte, 1), -1); err == nil {
		t.Fatal("negative offset read")
	}
	d.Close()
	if err := d.Flush(); err == nil {
		t.Fatal("flush after Close")
	}

	ro := openDisk(t, path, blk.Options{ReadOnly: true})
	if _, err := ro.WriteAt([]byte("x"), 0); !errors.Is(err, blk.ErrReadOnly) {
		t.Fatalf("write to a read-only disk: %v", err)
	}
	if err := ro.Flush(); err != nil {
		t.Fatal(err)
	}
}
