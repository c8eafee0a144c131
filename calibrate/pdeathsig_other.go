//go:build !linux

package calibrate

import "syscall"

// setParentDeathSignal does nothing where the kernel has no parent-death
// signal: stopping a run (even by Ctrl-C) still stops its servers.
func setParentDeathSignal(*syscall.SysProcAttr) {}
