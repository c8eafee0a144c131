//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package calibrate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockDir takes the run folder's lock: flock(LOCK_EX|LOCK_NB) on its
// LockFile, held until release. The kernel drops a flock when its holder
// dies, so a killed run leaves no stale lock behind; the file stays, with
// the last holder's pid in it. Locks belong to an open file, so a second
// Runner in the same process is refused too.
func lockDir(dir string) (release func(), err error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock run %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := "another process"
			if data, _ := os.ReadFile(path); len(data) > 0 {
				if pid, perr := strconv.Atoi(strings.TrimSpace(string(data))); perr == nil {
					holder = fmt.Sprintf("another process (pid %d)", pid)
				}
			}
			return nil, fmt.Errorf("run %s is in use: %s is running it; wait for it to end or stop it, then --resume", dir, holder)
		}
		return nil, fmt.Errorf("lock run %s: %w", dir, err)
	}
	// The pid is for the message above; the lock is the flock.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
