package plugins_test

import (
	"fmt"
	"strings"

	"github.com/gomvp/gomvp/datasets"
	"github.com/gomvp/gomvp/plugins"
)

// A package outside this repository adds a dataset format by registering a loader in its init
// function; programs link it in with a blank import, as database/sql drivers are.
func ExampleRegisterDataset() {
	// In package mylab: func init() { plugins.RegisterDataset("mylab", load, plugins.Info{...}) }
	plugins.RegisterDataset("mylab", func(name string, opts plugins.DatasetOptions) (*datasets.Dataset, error) {
		if name != "reach" {
			return nil, fmt.Errorf("mylab: unknown dataset %q", name)
		}
		return &datasets.Dataset{Name: "mylab:reach", ObsDim: 1, ActDim: 1,
			Observations: []float32{0, 1}, NextObservations: []float32{1, 2}, Actions: []float32{1, 1},
			Rewards: []float32{-1, 0}, Masks: []float32{1, 0}, Terminals: []float32{0, 1}}, nil
	}, plugins.Info{Description: "my lab's reaching demos", Names: []string{"reach"}})

	// In the program: import _ "example.com/mylab", then
	d, err := plugins.LoadDataset("mylab:reach", plugins.DatasetOptions{})
	fmt.Println(d.Name, d.Len(), err)
	_, err = plugins.LoadDataset("mylab:push", plugins.DatasetOptions{})
	fmt.Println(err)
	_, err = plugins.LoadDataset("nolab:reach", plugins.DatasetOptions{})
	fmt.Println(strings.Split(err.Error(), " (")[0])
	// Output:
	// mylab:reach 2 <nil>
	// plugins: loading dataset "mylab:push": mylab: unknown dataset "push"
	// plugins: no dataset plugin "nolab" for "nolab:reach"
}
