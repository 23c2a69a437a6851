// Skipped: the go command ignores testdata.
package skip

import _ "example.com/fixture/kvm"
