//go:build ignore

// A generator: never part of package kvm.
package main

import "C"

func main() {}
