package initramfs

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// RootfsModules are the modules init's rootfs check needs to mount an
// ext4 disk when the kernel builds ext4 as a module (Debian does). Resolve
// adds ext4's hard dependencies (jbd2, mbcache, crc16) from its .modinfo;
// crc32c_generic is only a soft dependency there ("softdep=pre: crc32c",
// which modprobe would honour), yet ext4 needs it for the metadata
// checksums mkfs.ext4 enables by default, and there is no modprobe in the
// initramfs to load it on demand.
var RootfsModules = []string{"ext4", "crc32c_generic"}

// RootfsFile is the file the rootfs check reads from the ext4 image, and
// RootfsContent its content for a token; they match init's rootfs.go.
const RootfsFile = "etc/glue-rootfs"

func RootfsContent(token string) string { return "glue-rootfs " + token + "\n" }

// MkfsExt4 finds mkfs.ext4 (e2fsprogs), also in the sbin directories a
// non-root PATH may leave out.
func MkfsExt4() (string, error) {
	if p, err := exec.LookPath("mkfs.ext4"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("initramfs: mkfs.ext4 (e2fsprogs) is not installed: %w", exec.ErrNotFound)
}

// RootfsImage writes an ext4 image of sizeMiB at img, made by
// mkfs.ext4 -d from a directory holding RootfsFile with the token. The
// error wraps exec.ErrNotFound when mkfs.ext4 is missing.
func RootfsImage(ctx context.Context, img string, sizeMiB int, token string) error {
	mkfs, err := MkfsExt4()
	if err != nil {
		return err
	}
	root, err := os.MkdirTemp(filepath.Dir(img), "rootfs-")
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	defer os.RemoveAll(root)
	file := filepath.Join(root, RootfsFile)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	if err := os.WriteFile(file, []byte(RootfsContent(token)), 0o644); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	out, err := exec.CommandContext(ctx, mkfs, "-q", "-F", "-d", root, img, strconv.Itoa(sizeMiB)+"M").CombinedOutput()
	if err != nil {
		return fmt.Errorf("initramfs: mkfs.ext4 -d %s %s: %v\n%s", root, img, err, out)
	}
	return nil
}
