package vmm

import (
	"errors"
	"fmt"
)

// ConfigError is a Config value that cannot work. Field names the Config
// field at fault (the CLI maps it to its flag); Build returns it before
// touching KVM where it can, and when the kernel turns out not to fit in
// memory.
type ConfigError struct {
	Field Field
	Err   error
}

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Field is a Config field that a ConfigError can be about.
type Field int

// The fields. A new one needs a name in fieldNames and, in cmd/glue, a flag
// (its test goes over Fields).
const (
	FieldCPUs Field = iota + 1
	FieldMemMiB
	FieldKernel
	FieldInitrd
	FieldCmdline
	FieldBoot
	FieldDisks
	FieldNets
	FieldRNG
	FieldConsoleDevice
	FieldTransport
	FieldNoACPI
	FieldBalloon
	FieldVsock
	fieldEnd // after the last field
)

// fieldNames are the Config fields' Go names.
var fieldNames = [fieldEnd]string{
	FieldCPUs:          "CPUs",
	FieldMemMiB:        "MemMiB",
	FieldKernel:        "Kernel",
	FieldInitrd:        "Initrd",
	FieldCmdline:       "Cmdline",
	FieldBoot:          "Boot",
	FieldDisks:         "Disks",
	FieldNets:          "Nets",
	FieldRNG:           "RNG",
	FieldConsoleDevice: "ConsoleDevice",
	FieldTransport:     "Transport",
	FieldNoACPI:        "NoACPI",
	FieldBalloon:       "Balloon",
	FieldVsock:         "Vsock",
}

// String returns the Config field's Go name ("MemMiB").
func (f Field) String() string {
	if f > 0 && f < fieldEnd {
		return fieldNames[f]
	}
	return fmt.Sprintf("Field(%d)", int(f))
}

// Fields lists every Field, in declaration order.
func Fields() []Field {
	fields := make([]Field, 0, fieldEnd-1)
	for f := Field(1); f < fieldEnd; f++ {
		fields = append(fields, f)
	}
	return fields
}

func configErr(field Field, format string, args ...any) error {
	return &ConfigError{Field: field, Err: fmt.Errorf(format, args...)}
}

// fieldError attributes err to field, unless it already is a ConfigError
// (a missing component names its own field).
func fieldError(field Field, err error) error {
	var ce *ConfigError
	if errors.As(err, &ce) {
		return err
	}
	return &ConfigError{Field: field, Err: err}
}
