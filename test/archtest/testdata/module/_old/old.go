// Skipped: the go command ignores names starting with _.
package old

import _ "example.com/fixture/kvm"
