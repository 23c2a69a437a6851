package zstd

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"github.com/gluevmm/glue/loader/loadertest"
	"github.com/gluevmm/glue/test/hosttest"
	"github.com/klauspost/compress/zstd"
)

func randomData(seed uint64, size int) []byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// inputs are the data the oracle tests compress.
func inputs(t testing.TB) map[string][]byte {
	in := map[string][]byte{
		"empty":       {},
		"one":         {'x'},
		"text-small":  loadertest.Sample(1, 1000),
		"text":        loadertest.Sample(2, 300<<10),
		"text-large":  loadertest.Sample(3, 3<<20),
		"random":      randomData(4, 200<<10),
		"run":         bytes.Repeat([]byte{0xcc}, 400<<10),
		"runs":        append(bytes.Repeat([]byte{1}, 1000), bytes.Repeat([]byte{2}, 150<<10)...),
		"alternating": bytes.Repeat([]byte("ab"), 100<<10),
	}
	// Long-distance repeats: the same noise 2 MiB apart.
	noise := randomData(5, 1<<20)
	long := append(append(append([]byte{}, noise...), loadertest.Sample(6, 2<<20)...), noise...)
	in["long"] = long
	return in
}

func zstdCLI(t testing.TB, data []byte, args ...string) []byte {
	t.Helper()
	path := hosttest.LookPath(t, "zstd")
	cmd := exec.Command(path, append([]string{"-q", "-c"}, args...)...)
	cmd.Stdin = bytes.NewReader(data)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("zstd %v: %v: %s", args, err, stderr.Bytes())
	}
	return out
}

func decode(src []byte) ([]byte, error) {
	return Decode(context.Background(), src, 0, 1<<30)
}

func check(t *testing.T, name string, frame, want []byte) {
	t.Helper()
	got, err := decode(frame)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s: got %d bytes, want %d; first difference at %d", name, len(got), len(want), i)
	}
}

func TestCLI(t *testing.T) {
	hosttest.LookPath(t, "zstd")
	levels := [][]string{{"-1"}, {"-3"}, {"-19"}, {"-22", "--ultra"}, {"--long=27", "-19"}, {"--no-check", "-3"}, {"--format=zstd", "-5"}, {"-3", "--no-content-size"}}
	for name, data := range inputs(t) {
		for _, args := range levels {
			if name == "text-large" && args[0] == "-22" {
				continue // slow to compress, and -19 covers it
			}
			t.Run(name+strings.Join(args, ""), func(t *testing.T) {
				t.Parallel()
				check(t, name, zstdCLI(t, data, args...), data)
			})
		}
	}
}

// TestCLIStdin compresses from a pipe, as the kernel build does, so the
// frame has no content size and the size comes only from the hint.
func TestCLIStdin(t *testing.T) {
	data := loadertest.Sample(7, 1<<20)
	frame := zstdCLI(t, data, "-22", "--ultra") // stdin is a pipe: exec copies data into one
	if frame[4]>>6 != 0 || frame[4]&0x20 != 0 {
		t.Fatalf("frame descriptor %#x declares a content size", frame[4])
	}
	got, err := Decode(context.Background(), frame, uint64(len(data)), uint64(len(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes, %v", len(got), err)
	}
	// The hint is exact, so the buffer never grew.
	if cap(got) != len(data) {
		t.Errorf("cap %d, want %d", cap(got), len(data))
	}
}

// skippable is a skippable frame holding data.
func skippable(n byte, data []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, skippableMagic+uint32(n))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

func TestConcatenated(t *testing.T) {
	a, b := loadertest.Sample(8, 100<<10), randomData(9, 1000)
	za, zb := zstdCLI(t, a, "-3"), zstdCLI(t, b, "-19")
	zempty := zstdCLI(t, nil, "-3")
	var src []byte
	src = append(src, skippable(0, []byte("hello"))...)
	src = append(src, za...)
	src = append(src, skippable(15, nil)...)
	src = append(src, zempty...)
	src = append(src, zb...)
	src = append(src, za...)
	src = append(src, skippable(7, bytes.Repeat([]byte{0xff}, 100))...)
	want := append(append(append([]byte{}, a...), b...), a...)
	check(t, "concatenated", src, want)

	// Only skippable frames: no output.
	got, err := decode(skippable(1, []byte("x")))
	if err != nil || len(got) != 0 {
		t.Fatalf("skippable only: %d bytes, %v", len(got), err)
	}
}

func TestKlauspost(t *testing.T) {
	type opts struct {
		name string
		o    []zstd.EOption
	}
	var variants []opts
	for _, level := range []zstd.EncoderLevel{zstd.SpeedFastest, zstd.SpeedDefault, zstd.SpeedBetterCompression, zstd.SpeedBestCompression} {
		variants = append(variants,
			opts{level.String(), []zstd.EOption{zstd.WithEncoderLevel(level)}},
			opts{level.String() + "-nocrc", []zstd.EOption{zstd.WithEncoderLevel(level), zstd.WithEncoderCRC(false)}},
			opts{level.String() + "-single", []zstd.EOption{zstd.WithEncoderLevel(level), zstd.WithSingleSegment(true)}},
			opts{level.String() + "-window", []zstd.EOption{zstd.WithEncoderLevel(level), zstd.WithWindowSize(1 << 16), zstd.WithSingleSegment(false)}},
			opts{level.String() + "-noentropy", []zstd.EOption{zstd.WithEncoderLevel(level), zstd.WithNoEntropyCompression(true)}},
		)
	}
	for name, data := range inputs(t) {
		for _, v := range variants {
			t.Run(name+"-"+v.name, func(t *testing.T) {
				t.Parallel()
				enc, err := zstd.NewWriter(nil, v.o...)
				if err != nil {
					t.Fatal(err)
				}
				check(t, name, enc.EncodeAll(data, nil), data)
				// Through the streaming writer too: blocks of other
				// sizes, and a frame with no content size.
				var buf bytes.Buffer
				enc.Reset(&buf)
				for p := data; len(p) > 0; {
					n := min(len(p), 70000)
					if _, err := enc.Write(p[:n]); err != nil {
						t.Fatal(err)
					}
					p = p[n:]
				}
				if err := enc.Close(); err != nil {
					t.Fatal(err)
				}
				check(t, name+" streamed", buf.Bytes(), data)
			})
		}
	}
}

func TestXXH64(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
	}{
		{"", 0xEF46DB3751D8E999},
		{"a", 0xD24EC4F1A98C6E5B},
		{"abc", 0x44BC2CF5AD770999},
		{"Nobody inspects the spammish repetition", 0xFBCEA83C8A378BF1},
	} {
		if got := xxh64([]byte(c.in)); got != c.want {
			t.Errorf("xxh64(%q) = %#x, want %#x", c.in, got, c.want)
		}
	}
}

func TestSmallSizes(t *testing.T) {
	// Every length from 0 to 100: all the tails of xxh64 and of the
	// literal stream decoders. zstd checks the checksum too.
	data := loadertest.Sample(10, 100)
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	for n := range len(data) + 1 {
		check(t, fmt.Sprint(n), enc.EncodeAll(data[:n], nil), data[:n])
	}
}
