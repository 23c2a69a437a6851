package vmm

import "fmt"

// A build of glue can leave optional devices out with Go build tags (see
// docs/building.md). Each optional device has two files in this package,
// and the build tags pick exactly one:
//
//	device_blk.go          !glue_no_blk && !glue_minimal   wires virtio/blk
//	device_blk_missing.go   glue_no_blk ||  glue_minimal   says which tag left it out
//
// and likewise device_net, device_rng, device_vconsole, device_balloon,
// device_vsock and the transports
// transport_pci and transport_mmio. Both files
// define the same functions (addDisks, checkDisk, ...) and a constant saying
// whether the device is linked; only the first imports the device's
// packages, so a left-out device is not compiled into the binary at all.
// The core below knows every optional component by name, tag and Config
// field, so that it can refuse a config asking for one the build lacks.

// Component is a part of glue that a build may or may not contain.
type Component struct {
	// Name is how `glue -V -v` lists it: "serial", "virtio-blk", ...
	Name string
	// Tag is the build tag that leaves it out ("glue_no_blk"); "" for the
	// serial console, which every build has.
	Tag string
	// Field is the Config field that asks for it; 0 for the serial console.
	Field Field
	// LeftOutBy is the build tag that left it out of this build (Tag, or
	// glue_minimal), or "" when this build contains it.
	LeftOutBy string
}

// Included reports whether this build contains the component.
func (c Component) Included() bool { return c.LeftOutBy == "" }

// MinimalTag leaves out every optional component: serial console only.
const MinimalTag = "glue_minimal"

// The optional components, as the device files name them.
var (
	blkComponent      = Component{Name: "virtio-blk", Tag: "glue_no_blk", Field: FieldDisks}
	netComponent      = Component{Name: "virtio-net", Tag: "glue_no_net", Field: FieldNets}
	rngComponent      = Component{Name: "virtio-rng", Tag: "glue_no_rng", Field: FieldRNG}
	vconsoleComponent = Component{Name: "virtio-console", Tag: "glue_no_vconsole", Field: FieldConsoleDevice}
	balloonComponent  = Component{Name: "virtio-balloon", Tag: "glue_no_balloon", Field: FieldBalloon}
	vsockComponent    = Component{Name: "virtio-vsock", Tag: "glue_no_vsock", Field: FieldVsock}
)

// optional is one optional component: whether this build links it (the
// constant its device file defines) and whether a config asks for it.
type optional struct {
	Component
	linked bool
	wanted func(cfg *Config) bool
}

// optionals lists the optional components: the devices in the order
// createDevices adds them, which is the order the guest finds them in, then
// the transports.
var optionals = []optional{
	{blkComponent, blkLinked, func(c *Config) bool { return len(c.Disks) > 0 }},
	{netComponent, netLinked, func(c *Config) bool { return len(c.Nets) > 0 }},
	{rngComponent, rngLinked, func(c *Config) bool { return c.RNG }},
	{vconsoleComponent, vconsoleLinked, func(c *Config) bool { return c.ConsoleDevice == ConsoleVirtio }},
	{balloonComponent, balloonLinked, func(c *Config) bool { return c.Balloon != nil }},
	{vsockComponent, vsockLinked, func(c *Config) bool { return c.Vsock != nil }},
	{pciComponent, pciLinked, func(c *Config) bool { return c.wantsTransport(TransportPCI) }},
	{mmioComponent, mmioLinked, func(c *Config) bool { return c.wantsTransport(TransportMMIO) }},
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
		c := o.Component
		if !o.linked {
			c.LeftOutBy = leftOutBy(c)
		}
		list = append(list, c)
	}
	return list
}

// leftOutBy is the tag that removed c from this build: glue_minimal if it
// was given (it removes everything), else c's own.
func leftOutBy(c Component) string {
	if minimal {
		return MinimalTag
	}
	return c.Tag
}

// MissingComponentError is a Config that asks for a component this build
// of glue left out. It comes wrapped in a *ConfigError naming the field.
type MissingComponentError struct {
	Component Component
}

func (e *MissingComponentError) Error() string {
	return fmt.Sprintf("this glue was built without %s (build tag %s)", e.Component.Name, e.Component.LeftOutBy)
}

// missingComponent is what the functions of a left-out device return: a
// *ConfigError on the component's field wrapping a *MissingComponentError
// that names the tag that left it out.
func missingComponent(c Component) error {
	c.LeftOutBy = leftOutBy(c)
	return &ConfigError{Field: c.Field, Err: &MissingComponentError{Component: c}}
}

// CheckComponents refuses a config that asks for a component this build
// does not contain, with a *ConfigError on the field that asks for it
// wrapping a *MissingComponentError. Build calls it before creating any
// device; a program can call it earlier to refuse its input sooner.
func (c *Config) CheckComponents() error {
	for _, o := range optionals {
		if !o.linked && o.wanted(c) {
			return missingComponent(o.Component)
		}
	}
	return nil
}
