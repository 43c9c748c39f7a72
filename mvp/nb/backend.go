package nb

import (
	"fmt"
	"os"
	"sync"

	"github.com/gomlx/compute"

	"github.com/gomvp/gomvp/xla"
)

var backendOnce sync.Map // requested spelling → struct{}: the choice is printed once per spelling

// Backend is a notebook's --backend: it resolves requested like the mvp command does ("" means
// $GOMLX_BACKEND, else the fastest backend found: CUDA with a GPU > XLA's CPU plugin > go) and
// prints the choice once on stderr, which GoNB shows under the cell. An explicit request that
// cannot load is an error, never a fallback.
func Backend(requested string) (compute.Backend, error) {
	var c *xla.Choice
	var err error
	if requested == "" {
		c, err = xla.DefaultChoice()
	} else {
		c, err = xla.Select(requested)
	}
	if err != nil {
		return nil, err
	}
	if _, printed := backendOnce.LoadOrStore(requested, struct{}{}); !printed {
		fmt.Fprintln(os.Stderr, c)
	}
	return c.Backend, nil
}
