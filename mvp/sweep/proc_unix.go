//go:build unix

package sweep

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// processAlive tells whether process pid on host still exists; a process on another host is
// assumed alive (its heartbeat decides).
func processAlive(host string, pid int) bool {
	if h, err := os.Hostname(); err != nil || h != host || pid <= 0 {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// lockRunDir takes an exclusive advisory lock (flock) on dir's lock file, held until unlock or the
// process's death, so that two executors never run the same run at once. ok is false when another
// process holds it. A file system without flock support (some network mounts) is not locked.
func lockRunDir(dir string) (unlock func(), ok bool, err error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, false, nil
		}
		if errors.Is(err, syscall.ENOLCK) || errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.EINVAL) {
			return func() { f.Close() }, true, nil
		}
		f.Close()
		return nil, false, err
	}
	return func() { f.Close() }, true, nil // closing the file releases the lock
}
