package initramfs

import (
	"compress/gzip"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// LoadOrderFile is where the archive lists its modules, one name a line
// in load order; module NAME is lib/modules/NAME.ko. The init program
// reads it (init/modules.go spells the same path).
const LoadOrderFile = "lib/modules/load-order"

// InitPackage is the import path of the init program.
const InitPackage = "github.com/gluevmm/glue/test/initramfs/init"

// Spec describes an initramfs.
type Spec struct {
	Init    []byte   // the static init program, packed as /init
	Modules []Module // packed as lib/modules/NAME.ko, loaded by init in this order
	Gzip    bool     // compress the archive (Linux needs CONFIG_RD_GZIP)
}

// Write writes the archive: /init, /dev/console (which the kernel opens
// for init before anything is mounted), the mount points /dev /proc /sys
// /mnt, and the modules with their load order.
func Write(w io.Writer, s Spec) error {
	if len(s.Init) == 0 {
		return errors.New("initramfs: no init program")
	}
	var zw *gzip.Writer
	if s.Gzip {
		zw = gzip.NewWriter(w) // no name or time in the header: reproducible
		w = zw
	}
	cw := NewWriter(w)
	var firstErr error
	add := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	for _, dir := range []string{"dev", "proc", "sys", "mnt"} {
		add(cw.AddDir(dir, 0o755))
	}
	add(cw.AddCharDevice("dev/console", 0o600, 5, 1))
	add(cw.AddFile("init", 0o755, s.Init))
	var order strings.Builder
	for _, m := range s.Modules {
		if m.Name == "" || strings.ContainsAny(m.Name, "/\n ") || len(m.Data) == 0 {
			add(fmt.Errorf("initramfs: module %q from %s: bad name or no data", m.Name, m.Path))
			continue
		}
		add(cw.AddFile("lib/modules/"+m.Name+".ko", 0o644, m.Data))
		fmt.Fprintln(&order, m.Name)
	}
	add(cw.AddFile(LoadOrderFile, 0o644, []byte(order.String())))
	add(cw.Close())
	if firstErr != nil {
		return firstErr
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return fmt.Errorf("initramfs: gzip: %w", err)
		}
	}
	return nil
}

// WriteFile writes the archive to path.
func WriteFile(path string, s Spec) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	if err := Write(f, s); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	return nil
}

// BuildInit builds the init program into out: static (CGO_ENABLED=0, as
// nothing else is in the initramfs to link against) and for x86-64
// whatever the host. It checks the result has no program interpreter.
func BuildInit(ctx context.Context, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, InitPackage)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initramfs: go build %s: %w\n%s", InitPackage, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		return fmt.Errorf("initramfs: built init: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("initramfs: built init %s is dynamically linked", out)
		}
	}
	if f.Machine != elf.EM_X86_64 {
		return fmt.Errorf("initramfs: built init %s is for %v", out, f.Machine)
	}
	return nil
}

// Build builds the init program and an initramfs holding it and mods in
// dir, and returns the archive's path.
func Build(ctx context.Context, dir string, mods []Module, gz bool) (string, error) {
	initPath := filepath.Join(dir, "init")
	if err := BuildInit(ctx, initPath); err != nil {
		return "", err
	}
	init, err := os.ReadFile(initPath)
	if err != nil {
		return "", fmt.Errorf("initramfs: %w", err)
	}
	name := "initramfs.cpio"
	if gz {
		name += ".gz"
	}
	path := filepath.Join(dir, name)
	return path, WriteFile(path, Spec{Init: init, Modules: mods, Gzip: gz})
}
