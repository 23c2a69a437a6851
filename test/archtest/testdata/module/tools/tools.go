// Skipped: a nested module is not part of this one.
package tools

import _ "example.com/fixture/kvm"
