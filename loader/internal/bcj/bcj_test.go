package bcj

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/gluevmm/glue/test/hosttest"
)

func TestX86(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		start   uint32
		plain   []byte // as the compiler wrote it
		encoded []byte // after xz --x86
	}{
		{"call +0 becomes absolute 5", 0,
			[]byte{0xe8, 0, 0, 0, 0, 0x90}, []byte{0xe8, 5, 0, 0, 0, 0x90}},
		{"jmp backwards to 0", 0,
			[]byte{0xe9, 0xfb, 0xff, 0xff, 0xff, 0x90}, []byte{0xe9, 0, 0, 0, 0, 0x90}},
		{"start offset is added", 0x1000,
			[]byte{0xe8, 0, 0, 0, 0, 0x90}, []byte{0xe8, 0x05, 0x10, 0, 0, 0x90}},
		{"far operand (MSB not 00/ff) untouched", 0,
			[]byte{0xe8, 0, 0, 0, 0x12, 0x90}, []byte{0xe8, 0, 0, 0, 0x12, 0x90}},
		{"last four bytes never converted", 0,
			[]byte{0, 0, 0, 0, 0xe8, 0, 0, 0}, []byte{0, 0, 0, 0, 0xe8, 0, 0, 0}},
		{"shorter than an instruction", 0,
			[]byte{0xe8, 0, 0, 0}, []byte{0xe8, 0, 0, 0}},
		{"second call at offset 10", 0,
			[]byte{0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0xe8, 0x10, 0, 0, 0, 0x90},
			[]byte{0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0xe8, 0x1f, 0, 0, 0, 0x90}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := bytes.Clone(tt.plain)
			X86Encode(b, tt.start)
			if !bytes.Equal(b, tt.encoded) {
				t.Errorf("encode: % x, want % x", b, tt.encoded)
			}
			X86Decode(b, tt.start)
			if !bytes.Equal(b, tt.plain) {
				t.Errorf("decode: % x, want % x", b, tt.plain)
			}
		})
	}
}

func TestX86RoundTrip(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte{0xe8, 0xe9, 0x00, 0xff, 0x0f, 0x48}
	for i := range 200 {
		b := make([]byte, rng.IntN(300))
		for j := range b {
			b[j] = alphabet[rng.IntN(len(alphabet))]
		}
		want := bytes.Clone(b)
		start := rng.Uint32()
		X86Encode(b, start)
		X86Decode(b, start)
		if !bytes.Equal(b, want) {
			t.Fatalf("case %d: round trip changed % x into % x", i, want, b)
		}
	}
}

func FuzzBCJ(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte, start uint32) {
		b := bytes.Clone(data)
		X86Encode(b, start)
		X86Decode(b, start)
		if !bytes.Equal(b, data) {
			t.Fatalf("decode(encode(x)) != x for % x at %#x", data, start)
		}
		X86Decode(b, start) // any input decodes without panicking
	})
}

var writeFuzzCorpus = flag.Bool("write-fuzz-corpus", false, "regenerate testdata/fuzz/FuzzBCJ")

// go test ./loader/internal/bcj -run TestWriteFuzzCorpus -args -write-fuzz-corpus
func TestWriteFuzzCorpus(t *testing.T) {
	if !*writeFuzzCorpus {
		hosttest.Skip(t, hosttest.ReasonRegenerate, "run with -args -write-fuzz-corpus to regenerate the seed corpus")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzBCJ")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	seeds := map[string][]byte{
		"calls":    {0xe8, 0, 0, 0, 0, 0xe9, 0xfb, 0xff, 0xff, 0xff, 0xe8, 0xe8, 0, 0, 0, 0xff, 0x90},
		"adjacent": bytes.Repeat([]byte{0xe8, 0xff}, 16),
		"short":    {0xe8, 0, 0},
	}
	for name, data := range seeds {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint32(%d)\n", data, 0x1000)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
