package tap

import "fmt"

// CheckName reports whether Open would accept name as an interface name, by
// the kernel's rules, without opening anything. A VMM calls it to refuse a
// bad name before it creates anything.
func CheckName(name string) error {
	if err := validName(name); err != nil {
		return fmt.Errorf("tap: %q: %w", name, err)
	}
	return nil
}
