// Package guestmem is guest RAM: anonymous host mappings placed at
// guest-physical addresses, accessed only through bounds- and
// overflow-checked methods.
//
// Every access names a guest-physical range [addr, addr+len) that must lie
// entirely inside one region; anything else is an error, never a panic, so a
// hostile guest (or a malformed kernel image) can only make a request fail.
// Raw host mappings are handed out only through Region.Host, which exists for
// the one caller that must have them: KVM's user memory slots.
package guestmem
