package tap

import (
	"strings"
	"testing"
)

// CheckName gives the verdict Open's own name check gives (validName's
// cases are in TestValidName), naming the tap.
func TestCheckName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"tap0", "glue%d", ""} {
		if err := CheckName(name); err != nil {
			t.Errorf("CheckName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"abcdefghijklmnop", "a/b", "t%s"} {
		err := CheckName(name)
		if err == nil || !strings.Contains(err.Error(), `tap: "`+name+`"`) {
			t.Errorf("CheckName(%q) = %v, want an error naming it", name, err)
		}
	}
}

func TestExists(t *testing.T) {
	t.Parallel()
	if !Exists("lo") {
		t.Error(`Exists("lo") = false: every network namespace has a loopback`)
	}
	for _, name := range []string{"glue-none0", "a-name-too-long-for-linux"} {
		if Exists(name) {
			t.Errorf("Exists(%q) = true", name)
		}
	}
}
