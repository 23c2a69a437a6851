package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// The root-filesystem protocol with the test: the host makes an ext4 image
// with mkfs.ext4 -d from a directory holding rootfsFile, whose content is
// rootfsPrefix + TOKEN + "\n"; init mounts it read-only at /mnt and reads
// the token back.
const (
	rootfsFile   = "/etc/glue-rootfs"
	rootfsPrefix = "glue-rootfs "
	rootfsMount  = "/mnt"
)

// rootfsCheck mounts the disk named by glue.hw.rootfs=DEV (default vda)
// read-only as ext4 and reads rootfsFile from it: Linux's ext4 (a module
// in Debian's kernel, with jbd2, mbcache, crc16 and crc32c) on top of
// virtio-blk. The token must be glue.hw.token's when that is set.
func rootfsCheck(r *report, params map[string]string) {
	dev := params["glue.hw.rootfs"]
	if dev == "" || dev == "1" {
		dev = "vda"
	}
	details, err := mountRootfs(dev, params["glue.hw.token"])
	if err != nil {
		r.fail("rootfs", "%s: %v", dev, err)
		return
	}
	r.pass("rootfs", details)
}

func mountRootfs(dev, want string) (string, error) {
	node := "/dev/" + dev
	if err := waitFor(10*time.Second, func() error { _, err := os.Stat(node); return err }); err != nil {
		return "", err
	}
	os.Mkdir(rootfsMount, 0o755)
	if err := syscall.Mount(node, rootfsMount, "ext4", syscall.MS_RDONLY, ""); err != nil {
		if _, serr := os.Stat("/sys/fs/ext4"); serr != nil {
			err = fmt.Errorf("%w (no /sys/fs/ext4: the ext4 module is not loaded)", err)
		}
		return "", fmt.Errorf("mount -t ext4 -o ro %s %s: %w", node, rootfsMount, err)
	}
	defer syscall.Unmount(rootfsMount, 0)
	opts, err := mountOptions(rootfsMount)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(opts, "ro,") && opts != "ro" {
		return "", fmt.Errorf("mounted with %q, want read-only", opts)
	}
	b, err := os.ReadFile(rootfsMount + rootfsFile)
	if err != nil {
		return "", err
	}
	token, ok := strings.CutPrefix(string(b), rootfsPrefix)
	token, nl := strings.CutSuffix(token, "\n")
	if !ok || !nl || strings.ContainsAny(token, " \n") {
		return "", fmt.Errorf("%s holds %q, want %q", rootfsFile, b, rootfsPrefix+"TOKEN\n")
	}
	if want != "" && token != want {
		return "", fmt.Errorf("%s holds token %q, want %q (glue.hw.token)", rootfsFile, token, want)
	}
	return fmt.Sprintf("token=%s dev=%s fs=ext4 ro=1", token, dev), nil
}

// mountOptions returns the options /proc/mounts lists for an ext4 mount
// at dir.
func mountOptions(dir string) (string, error) {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[1] == dir && f[2] == "ext4" {
			return f[3], nil
		}
	}
	return "", errors.New("no ext4 mount at " + dir + " in /proc/mounts")
}
