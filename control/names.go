package control

import (
	"encoding/hex"
	"fmt"

	"github.com/gluevmm/glue/internal/hostrandom"
)

// MaxNameLen is the longest VM name.
const MaxNameLen = 64

// ValidName reports whether name can name a VM: 1 to 64 characters of
// [A-Za-z0-9._-], and not "." or "..". Names become file names in the
// runtime directory, so nothing that could be a path is allowed.
func ValidName(name string) error {
	if name == "" {
		return fmt.Errorf("control: empty VM name")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("control: VM name %q is %d characters; at most %d", truncate(name, MaxNameLen), len(name), MaxNameLen)
	}
	if name == "." || name == ".." {
		return fmt.Errorf("control: VM name %q is not allowed", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("control: VM name %q: character %q is not allowed (use A-Z a-z 0-9 . _ -)", name, name[i:i+1])
		}
	}
	return nil
}

// GenerateName returns a readable name such as "vm-3f9a1c". It is only
// probably unique; Listen with an empty name retries on a collision.
func GenerateName() string {
	var b [3]byte
	// A failed read leaves zeros: the name is still valid, and Listen
	// retries a collision.
	hostrandom.Reader.Read(b[:])
	return "vm-" + hex.EncodeToString(b[:])
}
