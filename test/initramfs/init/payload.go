package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
)

// payloadFile is the file a large initramfs carries for the payload
// check; test/scenario writes it (PayloadFile there).
const payloadFile = "/payload"

// payloadCheck reports the size and SHA-256 of /payload: the test compares
// them with what it packed, which shows the whole initramfs reached the
// kernel and was unpacked, not only its first archive.
func payloadCheck(r *report, _ map[string]string) {
	r.check("payload", func() (string, error) {
		data, err := os.ReadFile(payloadFile)
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(data)
		return fmt.Sprintf("bytes=%d sha256=%s", len(data), hex.EncodeToString(sum[:])), nil
	})
}
