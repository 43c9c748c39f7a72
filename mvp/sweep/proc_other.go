//go:build !unix

package sweep

// processAlive cannot look at processes here; the heartbeat decides.
func processAlive(host string, pid int) bool { return true }

// lockRunDir cannot lock here: the run-state check before each start is the only guard.
func lockRunDir(dir string) (unlock func(), ok bool, err error) { return func() {}, true, nil }
