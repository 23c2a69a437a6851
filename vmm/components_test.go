package vmm

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// wantsOnly is, per optional component, a config that asks for it alone.
// A component added to optionals without a case here fails the test.
var wantsOnly = map[string]Config{
	"virtio-blk":     {Disks: []Disk{{Path: "disk.img"}}},
	"virtio-net":     {Nets: []Net{{Tap: "tap0"}}},
	"virtio-rng":     {RNG: true},
	"virtio-console": {ConsoleDevice: ConsoleVirtio},
	"virtio-balloon": {Balloon: &Balloon{}},
	"virtio-vsock":   {Vsock: &Vsock{CID: 3, Socket: "/tmp/v.sock"}},
	"virtio-pci":     {Transport: TransportPCI},
	"virtio-mmio":    {Transport: TransportMMIO},
}

// The registry describes itself consistently, whatever the build tags.
func TestComponents(t *testing.T) {
	t.Parallel()
	list := Components()
	if list[0].Name != "serial" || !list[0].Included() {
		t.Fatalf("first component %+v: want serial, always included", list[0])
	}
	seen := map[string]bool{}
	for _, c := range list[1:] {
		if seen[c.Name] {
			t.Errorf("%s listed twice", c.Name)
		}
		seen[c.Name] = true
		if !strings.HasPrefix(c.Tag, "glue_no_") {
			t.Errorf("%s: tag %q, want glue_no_*", c.Name, c.Tag)
		}
		if _, ok := reflect.TypeFor[Config]().FieldByName(c.Field.String()); !ok {
			t.Errorf("%s: Config has no field %q", c.Name, c.Field)
		}
		if !c.Included() && c.LeftOutBy != c.Tag && c.LeftOutBy != MinimalTag {
			t.Errorf("%s: left out by %q, want %q or %q", c.Name, c.LeftOutBy, c.Tag, MinimalTag)
		}
		if minimal && c.Included() {
			t.Errorf("%s is included in a %s build", c.Name, MinimalTag)
		}
		if _, ok := wantsOnly[c.Name]; !ok {
			t.Errorf("%s: no case in wantsOnly", c.Name)
		}
	}
}

// A config asking for a left-out component is refused on its field; one
// asking for an included component passes. Run under different -tags to
// exercise both sides (the integration tests build such variants).
func TestCheckComponents(t *testing.T) {
	t.Parallel()
	for _, c := range Components()[1:] {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			cfg := wantsOnly[c.Name]
			err := cfg.CheckComponents()
			if c.Included() {
				if err != nil {
					t.Fatalf("included component refused: %v", err)
				}
				return
			}
			var ce *ConfigError
			var missing *MissingComponentError
			if !errors.As(err, &ce) || ce.Field != c.Field || !errors.As(err, &missing) || missing.Component.Name != c.Name {
				t.Fatalf("got %#v, want a ConfigError on %s wrapping a MissingComponentError for %s", err, c.Field, c.Name)
			}
			if msg := err.Error(); !strings.Contains(msg, c.Name) || !strings.Contains(msg, c.LeftOutBy) {
				t.Errorf("message %q names neither %s nor %s", msg, c.Name, c.LeftOutBy)
			}
		})
	}
	var empty Config
	if err := empty.CheckComponents(); err != nil {
		t.Fatalf("a config without devices: %v", err)
	}
}
