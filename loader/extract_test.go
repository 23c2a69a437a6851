package loader

import (
	"bytes"
	"errors"
	"testing"
)

func TestExtractVmlinux(t *testing.T) {
	t.Parallel()
	want := testELF(false).Bytes()
	for _, format := range []string{"gzip", "xz", "zstd", "lz4"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			got, gotFormat, err := ExtractVmlinux(testBzImage(t, format, false).Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if gotFormat != format || !bytes.Equal(got, want) {
				t.Errorf("format %q, %d bytes; want %q and the %d-byte ELF", gotFormat, len(got), format, len(want))
			}
		})
	}
	if _, _, err := ExtractVmlinux(want); !errors.Is(err, ErrBzImageHeader) {
		t.Errorf("an ELF is not a bzImage: got %v, want ErrBzImageHeader", err)
	}
}
