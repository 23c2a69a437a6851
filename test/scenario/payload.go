package scenario

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/gluevmm/glue/test/initramfs"
)

// PayloadFile is where the payload lands in the guest's root; init's
// payload check reads it.
const PayloadFile = "payload"

// WritePayloadInitrd writes to out the initramfs base followed by a
// second, uncompressed archive holding PayloadFile of size bytes, and
// returns out and the payload's hex SHA-256. Linux unpacks concatenated
// archives, compressed or not, each starting at a multiple of 4 bytes.
// The content is a counter, every 8 bytes their offset, so a piece that
// lands in the wrong place changes the digest.
func WritePayloadInitrd(base, out string, size int) (string, string, error) {
	b, err := os.ReadFile(base)
	if err != nil {
		return "", "", fmt.Errorf("scenario: payload initramfs: %w", err)
	}
	payload := make([]byte, size)
	for off := 0; off+8 <= size; off += 8 {
		binary.LittleEndian.PutUint64(payload[off:], uint64(off))
	}
	sum := sha256.Sum256(payload)
	f, err := os.Create(out)
	if err != nil {
		return "", "", fmt.Errorf("scenario: payload initramfs: %w", err)
	}
	if err := writePayloadInitrd(f, b, payload); err != nil {
		f.Close()
		return "", "", fmt.Errorf("scenario: payload initramfs %s: %w", out, err)
	}
	if err := f.Close(); err != nil {
		return "", "", fmt.Errorf("scenario: payload initramfs: %w", err)
	}
	return out, hex.EncodeToString(sum[:]), nil
}

func writePayloadInitrd(w io.Writer, base, payload []byte) error {
	pad := make([]byte, (4-len(base)%4)%4)
	if _, err := w.Write(append(base, pad...)); err != nil {
		return err
	}
	cw := initramfs.NewWriter(w)
	if err := cw.AddFile(PayloadFile, 0o644, payload); err != nil {
		return err
	}
	return cw.Close()
}
