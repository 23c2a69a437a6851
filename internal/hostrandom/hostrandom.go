// Package hostrandom reads the host kernel's random pool with getrandom(2),
// which is what crypto/rand does on Linux. glue reads it directly because
// importing crypto/rand links the whole FIPS 140 module (DRBG, AES-GCM,
// SHA-2/3, HMAC and their package inits) into every VM process: about
// 0.25 MiB more of the binary resident per VM, measured in
// docs/performance.md.
package hostrandom

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Reader is an io.Reader of random bytes from getrandom(2). It blocks only
// until the kernel's pool is first initialised, early in the host's boot.
var Reader reader

type reader struct{}

// Read fills b whole, or returns how much it filled and the error.
// getrandom(2) returns fewer bytes than asked when a signal arrives or for
// requests over 32 MiB, so it is called until b is full.
func (reader) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := unix.Getrandom(b[n:], 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("hostrandom: getrandom: %w", err)
		}
		n += m
	}
	return n, nil
}
