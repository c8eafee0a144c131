//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package calibrate

// lockDir does not lock where there is no flock: a lock file that a
// killed process leaves behind would block the run forever.
func lockDir(dir string) (release func(), err error) { return func() {}, nil }
