package loader

import (
	"bytes"
	"encoding/binary"
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
	noPayload := testBzImage(t, "gzip", false).Bytes()
	binary.LittleEndian.PutUint32(noPayload[0x24c:], 0) // payload_length
	if _, _, err := ExtractVmlinux(noPayload); !errors.Is(err, ErrPayloadRange) {
		t.Errorf("a bzImage without a payload: got %v, want ErrPayloadRange", err)
	}
	if _, _, err := ExtractVmlinux(want); !errors.Is(err, ErrBzImageHeader) {
		t.Errorf("an ELF is not a bzImage: got %v, want ErrBzImageHeader", err)
	}
}
