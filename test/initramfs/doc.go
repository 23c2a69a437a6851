// Package initramfs builds the initial RAM filesystems that the
// hardware-KVM test tier boots Linux into: a newc cpio writer, the kernel
// modules an init needs (found and ordered from the kernel package's own
// files), and the build of the static init program in ./init.
//
// It exists for tests: everything here runs without KVM and without root,
// so the whole chain up to the guest can be checked on any host, while the
// boot itself needs hardware KVM (docs/testing.md, tier 4).
//
// The archive is what Linux's init/initramfs.c unpacks, and nothing more:
// every entry is owned by root, has mtime 0 (the same inputs make the same
// bytes), and parent directories are written before their contents,
// because the kernel creates each entry as it reads it and never makes a
// missing parent.
package initramfs
