// Skipped: the go command ignores names starting with a dot.
package hidden

import _ "example.com/fixture/kvm"
