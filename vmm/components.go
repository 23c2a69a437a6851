package vmm

import (
	"fmt"
	"slices"
)

// A build of glue can leave optional devices out with Go build tags (see
// docs/building.md): each optional device lives in a file of this package
// guarded by its tag, which imports the device's package and provides the
// function that adds the device to a VM. The core knows every optional
// component by name, tag and Config field, so that it can refuse a config
// asking for one the build lacks; it never imports a device package, so a
// left-out device is not compiled into the binary at all.

// Component is a part of glue that a build may or may not contain.
type Component struct {
	// Name is how `glue -V -v` lists it: "serial", "virtio-blk", ...
	Name string
	// Tag is the build tag that leaves it out ("glue_no_blk"); "" for the
	// serial console, which every build has.
	Tag string
	// Field is the Config field that asks for it; "" for the serial console.
	Field string
	// LeftOutBy is the build tag that left it out of this build (Tag, or
	// glue_minimal), or "" when this build contains it.
	LeftOutBy string
}

// Included reports whether this build contains the component.
func (c Component) Included() bool { return c.LeftOutBy == "" }

// MinimalTag leaves out every optional component: serial console only.
const MinimalTag = "glue_minimal"

// minimal is set by components_minimal.go in a glue_minimal build.
var minimal bool

// optional is one optional component and its hook into Build.
type optional struct {
	Component
	// wanted reports whether cfg asks for the component.
	wanted func(cfg *Config) bool
	// add creates the component's devices for vm.cfg; nil when the build
	// left the component out (its file provides it otherwise).
	add func(vm *VM) error
}

// optionals lists the optional components in the order their devices are
// created, which is the order the guest finds them in.
var optionals = []*optional{
	{
		Component: Component{Name: "virtio-blk", Tag: "glue_no_blk", Field: "Disks"},
		wanted:    func(c *Config) bool { return len(c.Disks) > 0 },
	},
	{
		Component: Component{Name: "virtio-net", Tag: "glue_no_net", Field: "Nets"},
		wanted:    func(c *Config) bool { return len(c.Nets) > 0 },
	},
	{
		Component: Component{Name: "virtio-rng", Tag: "glue_no_rng", Field: "RNG"},
		wanted:    func(c *Config) bool { return c.RNG },
	},
	{
		Component: Component{Name: "virtio-console", Tag: "glue_no_vconsole", Field: "ConsoleDevice"},
		wanted:    func(c *Config) bool { return c.ConsoleDevice == ConsoleVirtio },
	},
}

// provide registers the function that adds the named component's devices.
// The component files call it from init; a name the core does not know, or
// one provided twice, is a programming error.
func provide(name string, add func(vm *VM) error) {
	i := slices.IndexFunc(optionals, func(o *optional) bool { return o.Name == name })
	if i < 0 || optionals[i].add != nil {
		panic("vmm: provide " + name + ": unknown or provided twice")
	}
	optionals[i].add = add
}

// serialComponent is the COM1 UART: always built in, as the console of last
// resort and the channel the built-in guest reports on.
var serialComponent = Component{Name: "serial"}

// Components lists every component glue knows, serial first, then the
// optional ones in device order, each marked with whether this build
// contains it.
func Components() []Component {
	list := []Component{serialComponent}
	for _, o := range optionals {
		list = append(list, o.component())
	}
	return list
}

// component returns o's description with LeftOutBy filled in.
func (o *optional) component() Component {
	c := o.Component
	if o.add == nil {
		c.LeftOutBy = c.Tag
		if minimal {
			c.LeftOutBy = MinimalTag
		}
	}
	return c
}

// MissingComponentError is a Config that asks for a component this build
// of glue left out. It comes wrapped in a *ConfigError naming the field.
type MissingComponentError struct {
	Component Component
}

func (e *MissingComponentError) Error() string {
	return fmt.Sprintf("this glue was built without %s (build tag %s)", e.Component.Name, e.Component.LeftOutBy)
}

// CheckComponents refuses a config that asks for a component this build
// does not contain, with a *ConfigError on the field that asks for it
// wrapping a *MissingComponentError. Build calls it before creating any
// device; a program can call it earlier to refuse its input sooner.
func (c *Config) CheckComponents() error {
	for _, o := range optionals {
		if o.add == nil && o.wanted(c) {
			return &ConfigError{Field: o.Field, Err: &MissingComponentError{Component: o.component()}}
		}
	}
	return nil
}
