package zstd

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gluevmm/glue/loader/loadertest"
	"github.com/gluevmm/glue/test/hosttest"
	"github.com/klauspost/compress/zstd"
)

var bench struct {
	once  sync.Once
	data  []byte
	frame []byte
}

// benchInput is 48 MiB of program code, the Go toolchain's binaries (a
// kernel's stand-in), compressed with zstd -19 as from a pipe; or, where
// GLUE_ZSTD_BENCH_FILE names a .zst file (a kernel's payload), that file.
func benchInput(b *testing.B) ([]byte, []byte) {
	if file := os.Getenv("GLUE_ZSTD_BENCH_FILE"); file != "" {
		bench.once.Do(func() {
			frame, err := os.ReadFile(file)
			if err != nil {
				b.Fatal(err)
			}
			data, err := Decode(context.Background(), frame, 0, 1<<30)
			if err != nil {
				b.Fatalf("%s: %v", file, err)
			}
			bench.data, bench.frame = data, frame
		})
		return bench.data, bench.frame
	}
	path := hosttest.LookPath(b, "zstd")
	bench.once.Do(func() {
		const size = 48 << 20
		var data []byte
		if out, err := exec.Command("go", "env", "GOROOT", "GOTOOLDIR").Output(); err == nil {
			dirs := strings.Fields(string(out))
			var files []string
			for _, d := range dirs[1:] {
				m, _ := filepath.Glob(filepath.Join(d, "*"))
				files = append(files, m...)
			}
			m, _ := filepath.Glob(filepath.Join(dirs[0], "bin", "*"))
			files = append(files, m...)
			for _, f := range files {
				if len(data) >= size {
					break
				}
				if c, err := os.ReadFile(f); err == nil {
					data = append(data, c...)
				}
			}
		}
		if len(data) < size {
			data = append(data, loadertest.Sample(11, size-len(data))...)
		}
		data = data[:size]
		cmd := exec.Command(path, "-q", "-c", "-19", "-T0")
		cmd.Stdin = bytes.NewReader(data)
		frame, err := cmd.Output()
		if err != nil {
			b.Fatalf("zstd -19: %v", err)
		}
		bench.data, bench.frame = data, frame
	})
	if bench.frame == nil {
		b.Fatal("no benchmark input")
	}
	return bench.data, bench.frame
}

func BenchmarkDecode(b *testing.B) {
	data, frame := benchInput(b)
	b.Run("glue", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			out, err := Decode(context.Background(), frame, uint64(len(data)), uint64(len(data)))
			if err != nil || len(out) != len(data) {
				b.Fatalf("%d bytes, %v", len(out), err)
			}
		}
	})
	b.Run("klauspost", func(b *testing.B) {
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			b.Fatal(err)
		}
		defer dec.Close()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			out, err := dec.DecodeAll(frame, make([]byte, 0, len(data)))
			if err != nil || len(out) != len(data) {
				b.Fatalf("%d bytes, %v", len(out), err)
			}
		}
	})
}
