package remote_test

import (
	"fmt"
	"time"

	"github.com/gomvp/gomvp/plugins/remote"
)

// A server is any program that speaks PROTOCOL.md; this one is the standard-library fake used by
// the tests. Without Server, the embedded server.py runs gymnasium, OGBench or robosuite.
func ExampleNew() {
	env, err := remote.New("fake:normal", remote.Config{Server: "testdata/fake_server.py", StartTimeout: 30 * time.Second})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer env.Close()
	obs, _ := env.Reset(3)
	st, _ := env.Step([]float32{-1, -0.6})
	fmt.Println(env.ObservationDim(), env.ActionDim(), env.MaxEpisodeSteps(), obs)
	fmt.Printf("x=%.1f success=%v terminated=%v\n", st.Observation[0], st.Success, st.Terminated)
	// Output:
	// 2 2 10 [1.3 0]
	// x=0.0 success=true terminated=true
}
