package deploy

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoTrainingImports keeps the deploy package free of training code: no agents, losses,
// training loops, datasets, plugins or optimizers among its dependencies.
func TestNoTrainingImports(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-tags", "noxla", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list returned %d packages: %q", len(deps), deps)
	}
	for _, d := range deps {
		banned := d == "github.com/gomvp/gomvp/mvp" ||
			strings.HasPrefix(d, "github.com/gomvp/gomvp/datasets") ||
			strings.HasPrefix(d, "github.com/gomvp/gomvp/plugins") ||
			strings.HasPrefix(d, "github.com/gomvp/gomvp/xla/jvp") ||
			strings.HasPrefix(d, "github.com/gomlx/gomlx/ml/train")
		if banned {
			t.Errorf("deploy depends on training code: %s", d)
		}
	}
}
