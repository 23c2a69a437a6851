package initramfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// The x86 boot protocol's setup header (Documentation/arch/x86/boot.rst):
// "HdrS" at 0x202 and, from protocol 2.00, kernel_version at 0x20e, a
// pointer to a NUL-terminated string, counted from 0x200.
const (
	hdrMagicOff   = 0x202
	hdrVersionOff = 0x206
	hdrKernelVer  = 0x20e
	setupMax      = 0x200 + 0x10000 // kernel_version is a 16-bit offset from 0x200
)

// KernelRelease returns the release of a bzImage ("6.1.0-56-amd64"): the
// first word of the version string its setup header points to. That is
// the name of its module directory, whatever the file is called.
func KernelRelease(bzImage string) (string, error) {
	f, err := os.Open(bzImage)
	if err != nil {
		return "", fmt.Errorf("initramfs: %w", err)
	}
	defer f.Close()
	head := make([]byte, setupMax)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return "", fmt.Errorf("initramfs: %s: %w", bzImage, err)
	}
	release, err := releaseFromSetup(head[:n])
	if err != nil {
		return "", fmt.Errorf("initramfs: %s: %w", bzImage, err)
	}
	return release, nil
}

func releaseFromSetup(head []byte) (string, error) {
	if len(head) < hdrKernelVer+2 || string(head[hdrMagicOff:hdrMagicOff+4]) != "HdrS" {
		return "", errors.New("not a bzImage (no HdrS setup header)")
	}
	if v := binary.LittleEndian.Uint16(head[hdrVersionOff:]); v < 0x200 {
		return "", fmt.Errorf("boot protocol %#x has no kernel_version", v)
	}
	off := int(binary.LittleEndian.Uint16(head[hdrKernelVer:])) + 0x200
	if off >= len(head) {
		return "", fmt.Errorf("kernel_version at %#x is outside the setup code", off)
	}
	s := head[off:]
	end := bytes.IndexByte(s, 0)
	if end < 0 {
		return "", errors.New("kernel_version is not NUL-terminated")
	}
	release, _, _ := bytes.Cut(s[:end], []byte(" "))
	if len(release) == 0 {
		return "", errors.New("kernel_version is empty")
	}
	return string(release), nil
}

// ModulesDir finds the module directory of a kernel unpacked from a
// distribution package (dpkg -x, rpm2cpio): the kernel is ROOT/boot/FILE,
// its modules ROOT/lib/modules/RELEASE or, with a merged /usr,
// ROOT/usr/lib/modules/RELEASE. The error wraps fs.ErrNotExist when
// neither exists (a kernel with its drivers built in needs none).
func ModulesDir(kernel string) (string, error) {
	release, err := KernelRelease(kernel)
	if err != nil {
		return "", err
	}
	root := filepath.Dir(filepath.Dir(kernel))
	var tried []string
	for _, dir := range []string{"lib/modules", "usr/lib/modules"} {
		path := filepath.Join(root, dir, release)
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			return path, nil
		}
		tried = append(tried, path)
	}
	return "", fmt.Errorf("initramfs: no modules for %s at %s: %w", release, tried, fs.ErrNotExist)
}
