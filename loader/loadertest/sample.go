package loadertest

import (
	"bytes"
	"math/rand/v2"
	"strings"
)

// Sample is size bytes, the same for the same seed, that compress the way
// a kernel's code and text do: words, repeats at short and long distances
// (some overlapping what they repeat), runs of one byte, and stretches of
// noise, so that a compressor uses every kind of literal and match it has.
func Sample(seed uint64, size int) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x7a737464))
	words := strings.Fields("mov push pop call ret jmp lea add sub xor and or test cmp nop int3 the kernel boots glue zstd frame")
	b := make([]byte, 0, size+300)
	for len(b) < size {
		switch r := rng.IntN(12); {
		case r < 4:
			b = append(b, words[rng.IntN(len(words))]...)
			b = append(b, ' ')
		case r < 6 && len(b) > 0:
			from := rng.IntN(len(b))
			n := min(1+rng.IntN(300), len(b)-from)
			b = append(b, b[from:from+n]...)
		case r < 7 && len(b) > 0:
			back := 1 + rng.IntN(min(len(b), 16))
			for range 3 + rng.IntN(40) {
				b = append(b, b[len(b)-back])
			}
		case r < 8:
			b = append(b, bytes.Repeat([]byte{byte(rng.IntN(3))}, 1+rng.IntN(200))...)
		default:
			for range 1 + rng.IntN(16) {
				b = append(b, byte(rng.Uint32()))
			}
		}
	}
	return b[:size]
}
