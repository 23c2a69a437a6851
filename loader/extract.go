package loader

import "context"

// ExtractVmlinux returns the vmlinux ELF inside a bzImage and the
// payload's compression format, as glue's default extraction finds them,
// so that a test or a user can keep the ELF and pass it to -k (tools like
// the kernel's scripts/extract-vmlinux do the same). At most
// MaxDecompressedSize bytes are decompressed.
func ExtractVmlinux(image []byte) (vmlinux []byte, format string, err error) {
	src := bytesSource(image)
	bz, err := parseBzImage(src)
	if err != nil {
		return nil, "", err
	}
	payload, err := bz.readPayload(src)
	if err != nil {
		return nil, "", err
	}
	return decompress(context.Background(), payload, MaxDecompressedSize)
}
