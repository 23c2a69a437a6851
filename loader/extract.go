package loader

import "context"

// ExtractVmlinux returns the vmlinux ELF inside a bzImage and the
// payload's compression format, as glue's default extraction finds them,
// so that a test or a user can keep the ELF and pass it to -k (tools like
// the kernel's scripts/extract-vmlinux do the same). At most
// MaxDecompressedSize bytes are decompressed.
func ExtractVmlinux(image []byte) (vmlinux []byte, format string, err error) {
	bz, err := parseBzImage(image)
	if err != nil {
		return nil, "", err
	}
	if bz.payload == nil {
		return nil, "", errorf(ErrPayloadRange, "payload_length is 0: nothing to extract")
	}
	return decompress(context.Background(), bz.payload, MaxDecompressedSize)
}
