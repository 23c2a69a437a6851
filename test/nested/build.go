package nested

import (
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gluevmm/glue/test/initramfs"
	"github.com/gluevmm/glue/test/nested/plan"
	"github.com/gluevmm/glue/test/scenario"
)

// Packages built into the outer initramfs.
const (
	gluePackage      = "github.com/gluevmm/glue/cmd/glue"
	outerInitPackage = "github.com/gluevmm/glue/test/nested/outerinit"
)

// OuterModules are the modules the outer kernel loads; Resolve adds their
// dependencies (Debian's kvm.ko needs irqbypass): KVM, and tun for the
// taps of the network scenarios.
var OuterModules = []string{"kvm", "kvm_amd", "tun"}

// InnerModules are the drivers the inner init loads for the device
// scenarios: both virtio transports, each device's driver, ext4 for the
// root disk, the ACPI power button with evdev, its input node, and the
// virtio transport of Linux's vsock (which pulls in vsock itself).
var InnerModules = append([]string{"virtio_pci", "virtio_mmio", "virtio_blk", "virtio_net", "virtio_rng", "virtio_console",
	"vmw_vsock_virtio_transport", "virtio_balloon",
	"button", "evdev"}, initramfs.RootfsModules...)

// rootImageMiB is the size of the root-disk scenarios' ext4 image.
const rootImageMiB = 32

// BuildStatic builds pkg into out as a static x86-64 Linux program: the
// outer initramfs has no libc to link against.
func BuildStatic(ctx context.Context, pkg, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nested: go build %s: %w\n%s", pkg, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		return fmt.Errorf("nested: built %s: %w", pkg, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("nested: built %s is dynamically linked", out)
		}
	}
	return nil
}

// Outer describes the outer initramfs.
type Outer struct {
	Init, Glue      []byte   // static programs
	Kernel, Vmlinux []byte   // the inner kernel, and the ELF inside it
	Initrd          []byte   // the inner initramfs
	InnerModules    []string // the modules it carries, in load order
	RootImage       []byte   // the ext4 image of the root-disk scenarios
	Fsck            []byte   // a static e2fsck
	Modules         []initramfs.Module
	Plan            plan.Plan
	Extra           []File // QEMU, for the comparison
}

// Write writes the outer initramfs, uncompressed: QEMU hands it to the
// outer kernel in memory, and decompressing it under emulation would
// cost more than reading it.
func (o Outer) Write(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("nested: %w", err)
	}
	defer f.Close()
	planJSON, err := json.MarshalIndent(o.Plan, "", "  ")
	if err != nil {
		return fmt.Errorf("nested: plan: %w", err)
	}
	w := initramfs.NewWriter(f)
	var firstErr error
	add := func(err error) {
		if firstErr == nil && err != nil {
			firstErr = fmt.Errorf("nested: outer initramfs: %w", err)
		}
	}
	for _, dir := range []string{"dev", "proc", "sys", "tmp"} {
		add(w.AddDir(dir, 0o755))
	}
	add(w.AddCharDevice("dev/console", 0o600, 5, 1))
	add(w.AddFile("init", 0o755, o.Init))
	add(w.AddFile(strings.TrimPrefix(plan.Glue, "/"), 0o755, o.Glue))
	add(w.AddFile(strings.TrimPrefix(plan.Kernel, "/"), 0o644, o.Kernel))
	add(w.AddFile(strings.TrimPrefix(plan.Vmlinux, "/"), 0o644, o.Vmlinux))
	add(w.AddFile(strings.TrimPrefix(plan.Initrd, "/"), 0o644, o.Initrd))
	add(w.AddDir("sbin", 0o755))
	add(w.AddFile(strings.TrimPrefix(plan.RootImage, "/"), 0o644, o.RootImage))
	add(w.AddFile(strings.TrimPrefix(plan.Fsck, "/"), 0o755, o.Fsck))
	var order []string
	for _, m := range o.Modules {
		add(w.AddFile(strings.TrimPrefix(plan.ModuleDir, "/")+"/"+m.Name+".ko", 0o644, m.Data))
		order = append(order, m.Name)
	}
	add(w.AddFile(strings.TrimPrefix(plan.LoadOrderFile, "/"), 0o644, []byte(strings.Join(order, "\n")+"\n")))
	add(w.AddFile(strings.TrimPrefix(plan.Path, "/"), 0o644, planJSON))
	for _, f := range o.Extra {
		add(w.AddFile(strings.TrimPrefix(f.Path, "/"), f.Mode, f.Data))
	}
	add(w.Close())
	if firstErr != nil {
		return firstErr
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("nested: %w", err)
	}
	return nil
}

// Build builds in dir everything the outer initramfs holds for kernel (a
// bzImage unpacked from its package, with lib/modules next to it), with
// the root disk's image for token, a static e2fsck (fsck, from Debian's
// e2fsck-static) and extra; the caller sets the plan and writes it.
func Build(ctx context.Context, dir, kernel, token, fsck string, extra []File) (*Outer, error) {
	modDir, err := initramfs.ModulesDir(kernel)
	if err != nil {
		return nil, err
	}
	mods, err := initramfs.Resolve(modDir, OuterModules...)
	if err != nil {
		return nil, err
	}
	inner, err := initramfs.Resolve(modDir, InnerModules...)
	if err != nil {
		return nil, err
	}
	var o Outer
	o.Modules, o.Extra = mods, extra
	for _, m := range inner {
		o.InnerModules = append(o.InnerModules, m.Name)
	}
	image := filepath.Join(dir, "rootfs.ext4")
	if err := initramfs.RootfsImage(ctx, image, rootImageMiB, token); err != nil {
		return nil, err
	}
	if o.RootImage, err = os.ReadFile(image); err != nil {
		return nil, fmt.Errorf("nested: %w", err)
	}
	if o.Fsck, err = os.ReadFile(fsck); err != nil {
		return nil, fmt.Errorf("nested: %w", err)
	}
	for _, b := range []struct {
		pkg  string
		dest *[]byte
	}{{outerInitPackage, &o.Init}, {gluePackage, &o.Glue}} {
		out := filepath.Join(dir, filepath.Base(b.pkg))
		if err := BuildStatic(ctx, b.pkg, out); err != nil {
			return nil, err
		}
		if *b.dest, err = os.ReadFile(out); err != nil {
			return nil, fmt.Errorf("nested: %w", err)
		}
	}
	innerDir := filepath.Join(dir, "inner")
	if err := os.Mkdir(innerDir, 0o755); err != nil {
		return nil, fmt.Errorf("nested: %w", err)
	}
	initrd, err := initramfs.Build(ctx, innerDir, inner, true)
	if err != nil {
		return nil, err
	}
	if o.Initrd, err = os.ReadFile(initrd); err != nil {
		return nil, fmt.Errorf("nested: %w", err)
	}
	if o.Kernel, err = os.ReadFile(kernel); err != nil {
		return nil, fmt.Errorf("nested: %w", err)
	}
	vmlinux := filepath.Join(dir, "vmlinux")
	if err := scenario.WriteVmlinux(kernel, vmlinux); err != nil {
		return nil, err
	}
	if o.Vmlinux, err = os.ReadFile(vmlinux); err != nil {
		return nil, fmt.Errorf("nested: %w", err)
	}
	return &o, nil
}
