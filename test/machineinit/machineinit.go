// Package machineinit holds what the static inits of the test tiers'
// emulated machines share (test/nested/outerinit, test/emulated/emuinit):
// the kernel's file systems, modules loaded from files, a raw serial port
// for marker lines, and the power-off at the end. Each init is PID 1 of a
// machine that QEMU's TCG emulates, with no userspace of its own.
package machineinit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// MountKernelFS mounts proc, sysfs and devtmpfs at their usual places,
// which an initramfs does not have. Errors are ignored: whatever fails
// shows in the step that needs it.
func MountKernelFS() {
	for _, m := range []struct{ fs, dir string }{{"proc", "/proc"}, {"sysfs", "/sys"}, {"devtmpfs", "/dev"}} {
		os.Mkdir(m.dir, 0o755)
		syscall.Mount(m.fs, m.dir, m.fs, 0, "")
	}
}

// LoadModules loads the modules named in the file order, in its order,
// each from dir/NAME.ko; a module already loaded is no error.
func LoadModules(dir, order string) error {
	list, err := os.ReadFile(order)
	if err != nil {
		return err
	}
	for _, name := range strings.Fields(string(list)) {
		image, err := os.ReadFile(filepath.Join(dir, name+".ko"))
		if err != nil {
			return err
		}
		if err := initModule(image); err != nil && !errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("init_module %s: %w", name, err)
		}
	}
	return nil
}

// RawSerial opens the serial port at path for writing, raw, so that the
// tty layer neither echoes nor rewrites the lines written to it.
func RawSerial(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	var t syscall.Termios
	if termios(f.Fd(), syscall.TCGETS, &t) == nil {
		t.Oflag &^= syscall.OPOST
		t.Lflag &^= syscall.ECHO | syscall.ICANON
		termios(f.Fd(), syscall.TCSETS, &t)
	}
	return f, nil
}

// PowerOff syncs and powers the machine off. It returns only if the
// power-off failed, after a minute, by when the host's deadline has ended
// QEMU.
func PowerOff() {
	syscall.Sync()
	syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
	time.Sleep(time.Minute)
}
