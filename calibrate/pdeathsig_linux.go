package calibrate

import "syscall"

// setParentDeathSignal asks Linux to SIGTERM a server if the calibration
// process dies without stopping it (kill -9, a crash): the servers of a
// run never outlive it for long, even then. Only the group leader gets
// it; the engines end their own children on SIGTERM.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGTERM }
