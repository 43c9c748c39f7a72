package mvp

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every Gaussian draw in the agents' graphs goes through xla.Normal / xla.StoreNormal: GoMLX's
// RandomNormal returns ±Inf for one uniform draw in 2³² on XLA's CPU backend (it flushes the
// denormal that guards log 0), and one infinite noise sample turns a whole TD target into NaN.
func TestNoGoMLXRandomNormal(t *testing.T) {
	use := regexp.MustCompile(`\bRandomNormal\(`)
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			if code, _, _ := strings.Cut(line, "//"); use.MatchString(code) {
				t.Errorf("%s:%d calls GoMLX's RandomNormal; use xla.Normal or xla.StoreNormal: %s", path, i+1, strings.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
