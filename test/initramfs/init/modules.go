package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// loadOrderFile lists the modules the initramfs carries, one name a line,
// each after the modules it depends on; the module NAME is
// /lib/modules/NAME.ko. It must match initramfs.LoadOrderFile (a test
// there checks).
const loadOrderFile = "/lib/modules/load-order"

// loadModules loads the initramfs's modules in order, as modprobe would:
// with the NAME.param=value entries of the kernel command line as their
// parameters (the kernel applies those itself only to built-in code).
func loadModules(r *report, params map[string]string) {
	list, err := os.ReadFile(loadOrderFile)
	if err != nil {
		r.fail("modules", "%v", err)
		return
	}
	var loaded []string
	failed := false
	for _, name := range strings.Fields(string(list)) {
		image, err := os.ReadFile("/lib/modules/" + name + ".ko")
		if err == nil {
			err = initModule(image, moduleParams(params[rawCmdline], name))
		}
		switch {
		case errors.Is(err, syscall.EEXIST): // already there: built in, or loaded as a dependency
			loaded = append(loaded, name)
		case err != nil:
			r.fail("modules", "%s: %v", name, err)
			failed = true
		default:
			loaded = append(loaded, name)
		}
	}
	if !failed {
		r.pass("modules", "loaded="+strings.Join(loaded, ","))
	}
}

// moduleParams collects the command line's parameters for module name;
// the kernel spells module names with "_" or "-" interchangeably.
func moduleParams(cmdline, name string) string {
	var out []string
	for _, f := range strings.Fields(cmdline) {
		mod, param, ok := strings.Cut(f, ".")
		if ok && strings.ReplaceAll(mod, "-", "_") == name && strings.Contains(param, "=") {
			out = append(out, param)
		}
	}
	return strings.Join(out, " ")
}

func initModule(image []byte, params string) error {
	if err := initModuleSyscall(image, params); err != nil {
		return fmt.Errorf("init_module: %w", err)
	}
	return nil
}
