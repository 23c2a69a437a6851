package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Linux's input event codes (linux/input-event-codes.h).
const (
	evKey    = 1
	keyPower = 116
	// inputEventSize is struct input_event on 64-bit: a timeval, then
	// type, code and value.
	inputEventSize = 24
)

// powerButtonName is what the ACPI button driver calls the input device
// of a PNP0C0C power button.
const powerButtonName = "Power Button"

// awaitPowerButton does what a system's power daemon does with the ACPI
// power button: it waits for KEY_POWER on the button's input device and
// powers off. GLUE-READY tells the test to press it (glue stop).
func awaitPowerButton(r *report) {
	dev, err := powerButtonDevice()
	if err != nil {
		r.fail("button", "%v", err)
		return
	}
	f, err := os.Open(dev)
	if err != nil {
		r.fail("button", "%v", err)
		return
	}
	defer f.Close()
	r.line("GLUE-READY init button %s", dev)
	if err := awaitKey(f, keyPower); err != nil {
		r.fail("button", "%s: %v", dev, err)
		return
	}
	r.line("GLUE-BUTTON power")
	syscall.Sync()
	err = syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
	r.fail("button", "reboot(POWER_OFF): %v", err)
}

// powerButtonDevice finds the event device of the power button, which
// the button driver registers while loading (evdev gives it its node).
func powerButtonDevice() (string, error) {
	var dev string
	err := waitFor(10*time.Second, func() error {
		names, _ := filepath.Glob("/sys/class/input/event*/device/name")
		for _, n := range names {
			if b, _ := os.ReadFile(n); strings.TrimSpace(string(b)) == powerButtonName {
				dev = "/dev/input/" + filepath.Base(filepath.Dir(filepath.Dir(n)))
				_, err := os.Stat(dev)
				return err
			}
		}
		return fmt.Errorf("no input device named %q (modules button and evdev)", powerButtonName)
	})
	return dev, err
}

// awaitKey reads input events until a press of code.
func awaitKey(r io.Reader, code uint16) error {
	ev := make([]byte, inputEventSize)
	for {
		if _, err := io.ReadFull(r, ev); err != nil {
			return err
		}
		if typ, c, v := keyEvent(ev); typ == evKey && c == code && v == 1 {
			return nil
		}
	}
}

func keyEvent(ev []byte) (typ, code uint16, value int32) {
	return binary.NativeEndian.Uint16(ev[16:]), binary.NativeEndian.Uint16(ev[18:]), int32(binary.NativeEndian.Uint32(ev[20:]))
}
