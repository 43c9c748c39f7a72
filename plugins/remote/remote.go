// Package remote drives environments that live in Python — gymnasium ids, OGBench environments,
// robomimic (robosuite) tasks — through a server process speaking a line protocol over stdio
// (PROTOCOL.md). Names are "remote:<kind>:<id>":
//
//	remote:gym:Pendulum-v1
//	remote:ogbench:cube-double-play-singletask-task2-v0
//	remote:robomimic:lift
//
// Every call has a deadline; a server that exits, stops answering, answers something that is not
// the protocol, or sends observations of another size than announced gives an error naming the
// environment and the call, the server is killed, and later calls return the same error.
// NewPool starts several servers for parallel evaluation.
//
// Import it for its side effects:
//
//	import _ "github.com/gomvp/gomvp/plugins/remote"
package remote

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gomvp/gomvp/plugins"
)

// Prefix is the registry prefix of remote environments.
const Prefix = "remote"

// PythonEnvVar names the environment variable that overrides the Python interpreter.
const PythonEnvVar = "MVP_PYTHON"

//go:embed server.py
var serverSource string

func init() {
	plugins.RegisterEnv(Prefix, func(name string, opts plugins.EnvOptions) (plugins.Env, error) {
		cfg, err := ConfigFromExtra(opts.Extra)
		if err != nil {
			return nil, err
		}
		cfg.Seed = opts.Seed
		return New(name, cfg)
	}, plugins.Info{
		Description: "Python environments (gymnasium, OGBench, robosuite) driven through a server process over stdio",
		Names:       []string{"gym:Pendulum-v1", "ogbench:cube-double-play-singletask-task2-v0", "robomimic:lift"},
		Options:     OptionKeys,
	})
}

// Config sets how the server is started and watched. The zero value uses the defaults below.
type Config struct {
	// Python is the interpreter. Default: $MVP_PYTHON, else the nearest .venv/bin/python from the
	// working directory upwards, else python3 on PATH.
	Python string
	// Server is a server script to run instead of the embedded server.py.
	Server string
	// StartTimeout bounds the make call (starting Python, importing the simulator, building the
	// environment). Default 120 s.
	StartTimeout time.Duration
	// CallTimeout bounds every reset and step. Default 30 s.
	CallTimeout time.Duration
	// RescaleActions maps actions from [−1, 1] to the environment's action bounds (for gymnasium
	// environments whose bounds are not [−1, 1]). Default false: actions are passed unchanged.
	RescaleActions bool
	// Kwargs are passed to the environment's constructor (gymnasium.make, OGBench's
	// make_env_and_datasets, robosuite.make).
	Kwargs map[string]any
	// ObsDim and ActDim, when not zero, are the dimensions the caller expects (those of its
	// dataset); an environment that announces others is refused.
	ObsDim, ActDim int
	// Seed is passed to the first reset done by make.
	Seed int64
	// Env holds extra "KEY=value" settings for the server process (e.g. MUJOCO_GL=egl).
	Env []string
}

func (c Config) withDefaults() Config {
	if c.StartTimeout <= 0 {
		c.StartTimeout = 120 * time.Second
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 30 * time.Second
	}
	if c.Python == "" {
		c.Python = FindPython()
	}
	return c
}

// OptionKeys are the plugin options ConfigFromExtra reads.
var OptionKeys = []string{"python", "server", "start_timeout", "call_timeout", "rescale_actions", "kwargs", "obs_dim", "act_dim"}

// ConfigFromExtra reads plugin options: "python", "server", "start_timeout" and "call_timeout"
// (Go durations, e.g. "90s"), "rescale_actions" (bool), "kwargs" (a JSON object), "obs_dim",
// "act_dim". Other keys are ignored.
func ConfigFromExtra(extra map[string]string) (Config, error) {
	var c Config
	for k, v := range extra {
		var err error
		switch k {
		case "python":
			c.Python = v
		case "server":
			c.Server = v
		case "start_timeout":
			c.StartTimeout, err = time.ParseDuration(v)
		case "call_timeout":
			c.CallTimeout, err = time.ParseDuration(v)
		case "rescale_actions":
			c.RescaleActions, err = strconv.ParseBool(v)
		case "kwargs":
			err = json.Unmarshal([]byte(v), &c.Kwargs)
		case "obs_dim":
			c.ObsDim, err = strconv.Atoi(v)
		case "act_dim":
			c.ActDim, err = strconv.Atoi(v)
		}
		if err != nil {
			return c, fmt.Errorf("remote: option %s=%q: %w", k, v, err)
		}
	}
	return c, nil
}

// FindPython returns the interpreter used when Config.Python is empty: $MVP_PYTHON, else the
// nearest .venv/bin/python from the working directory upwards, else "python3".
func FindPython() string {
	if p := os.Getenv(PythonEnvVar); p != "" {
		return p
	}
	if dir, err := os.Getwd(); err == nil {
		for {
			p := filepath.Join(dir, ".venv", "bin", "python")
			if st, err := os.Stat(p); err == nil && !st.IsDir() {
				return p
			}
			up := filepath.Dir(dir)
			if up == dir {
				break
			}
			dir = up
		}
	}
	return "python3"
}

// Env is one environment served by one Python process. It is not safe for concurrent use.
type Env struct {
	name string
	cfg  Config
	info makeReply

	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan []byte   // replies, closed at end of output
	readEr error         // why lines closed, read after it is closed
	exited chan struct{} // closed when the process has been waited for
	exitEr error
	stderr *tail
	killed chan struct{} // closed by kill
	once   sync.Once
	broken error // set by a fatal error; every later call returns it
}

type makeReply struct {
	OK              bool       `json:"ok"`
	Error           string     `json:"error"`
	ObsDim          int        `json:"obs_dim"`
	ActDim          int        `json:"act_dim"`
	MaxEpisodeSteps int        `json:"max_episode_steps"`
	ActLow          []*float64 `json:"act_low"`
	ActHigh         []*float64 `json:"act_high"`
	Protocol        int        `json:"protocol"`
}

type stepReply struct {
	OK         bool      `json:"ok"`
	Error      string    `json:"error"`
	Obs        []float32 `json:"obs"`
	Reward     *float64  `json:"reward"`
	Terminated bool      `json:"terminated"`
	Truncated  bool      `json:"truncated"`
	Success    bool      `json:"success"`
}

// New starts a server and makes the environment name ("gym:Pendulum-v1", without "remote:").
func New(name string, cfg Config) (*Env, error) {
	cfg = cfg.withDefaults()
	e := &Env{name: name, cfg: cfg, stderr: &tail{max: 4096}}
	args := []string{"-u"}
	if cfg.Server != "" {
		args = append(args, cfg.Server)
	} else {
		args = append(args, "-c", serverSource)
	}
	e.cmd = exec.Command(cfg.Python, args...)
	e.cmd.Env = append(os.Environ(), cfg.Env...)
	e.cmd.Stderr = e.stderr
	setProcessGroup(e.cmd)
	var err error
	if e.stdin, err = e.cmd.StdinPipe(); err != nil {
		return nil, e.errorf("make", "%w", err)
	}
	// A pipe of our own rather than StdoutPipe: Wait must not close it before the last reply of
	// a server that exits right after writing it has been read.
	stdout, pw, err := os.Pipe()
	if err != nil {
		return nil, e.errorf("make", "%w", err)
	}
	e.cmd.Stdout = pw
	err = e.cmd.Start()
	pw.Close()
	if err != nil {
		stdout.Close()
		e.stdin.Close()
		return nil, e.errorf("make", "starting %s (set %s or the \"python\" option to choose the interpreter): %w", cfg.Python, PythonEnvVar, err)
	}
	e.lines = make(chan []byte, 1)
	e.exited = make(chan struct{})
	e.killed = make(chan struct{})
	go e.readLines(stdout)
	go func() {
		e.exitEr = e.cmd.Wait()
		close(e.exited)
	}()

	req := map[string]any{"cmd": "make", "name": name, "seed": cfg.Seed, "rescale_actions": cfg.RescaleActions}
	if cfg.Kwargs != nil {
		req["kwargs"] = cfg.Kwargs
	}
	if err := e.call("make", req, cfg.StartTimeout, &e.info); err != nil {
		e.kill()
		return nil, err
	}
	fail := func(format string, args ...any) (*Env, error) {
		e.kill()
		return nil, e.errorf("make", format, args...)
	}
	if !e.info.OK {
		return fail("the server refused: %s", e.info.Error)
	}
	if e.info.ObsDim <= 0 || e.info.ActDim <= 0 {
		return fail("the server announced observation dim %d and action dim %d", e.info.ObsDim, e.info.ActDim)
	}
	if cfg.ObsDim > 0 && cfg.ObsDim != e.info.ObsDim || cfg.ActDim > 0 && cfg.ActDim != e.info.ActDim {
		return fail("the environment has observation dim %d and action dim %d, the caller expects %d and %d",
			e.info.ObsDim, e.info.ActDim, cfg.ObsDim, cfg.ActDim)
	}
	return e, nil
}

func (e *Env) readLines(r io.ReadCloser) {
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	for sc.Scan() {
		line := append([]byte(nil), sc.Bytes()...)
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		select {
		case e.lines <- line:
		case <-e.killed:
			close(e.lines)
			return
		}
	}
	e.readEr = sc.Err()
	close(e.lines)
}

// call sends one request and decodes its reply into reply. Any failure but an error reply from a
// healthy server is fatal: the server is killed and the error kept.
func (e *Env) call(what string, req any, timeout time.Duration, reply any) error {
	if e.broken != nil {
		return e.broken
	}
	fatal := func(err error) error {
		e.broken = err
		e.kill()
		return err
	}
	b, err := json.Marshal(req)
	if err != nil {
		return e.errorf(what, "encoding the request: %w", err)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	written := make(chan error, 1)
	go func() {
		_, err := e.stdin.Write(append(b, '\n'))
		written <- err
	}()
	select {
	case err := <-written:
		if err != nil {
			return fatal(e.deadError(what, fmt.Errorf("sending the request: %w", err)))
		}
	case <-timer.C:
		return fatal(e.errorf(what, "the server did not read the request within %v; killed it", timeout))
	}
	select {
	case line, ok := <-e.lines:
		if !ok {
			return fatal(e.deadError(what, e.readEr))
		}
		if err := json.Unmarshal(line, reply); err != nil {
			return fatal(e.errorf(what, "the server's reply is not the protocol (%v): %q; killed it", err, clip(string(line), 200)))
		}
		return nil
	case <-timer.C:
		return fatal(e.errorf(what, "no reply within %v; killed the server", timeout))
	}
}

// deadError describes a server whose output ended: its exit status and the end of its stderr.
func (e *Env) deadError(what string, cause error) error {
	select {
	case <-e.exited:
	case <-time.After(2 * time.Second):
		e.kill()
		<-e.exited
	}
	status := "exited"
	if e.exitEr != nil {
		status = "exited: " + e.exitEr.Error()
	}
	if cause != nil {
		status += " (" + cause.Error() + ")"
	}
	return e.errorf(what, "the server %s; its stderr ends with:\n%s", status, e.stderr.String())
}

func (e *Env) errorf(what, format string, args ...any) error {
	return fmt.Errorf("remote env %s: %s: %w", e.name, what, fmt.Errorf(format, args...))
}

func (e *Env) kill() {
	if e.cmd == nil || e.cmd.Process == nil {
		return
	}
	killProcessGroup(e.cmd)
	e.once.Do(func() { close(e.killed) })
	if e.exited != nil {
		select {
		case <-e.exited:
		case <-time.After(5 * time.Second):
		}
	}
}

func (e *Env) ObservationDim() int  { return e.info.ObsDim }
func (e *Env) ActionDim() int       { return e.info.ActDim }
func (e *Env) MaxEpisodeSteps() int { return e.info.MaxEpisodeSteps }

// ActionBounds returns the environment's own action bounds (NaN where unbounded).
func (e *Env) ActionBounds() (low, high []float64) {
	conv := func(v []*float64) []float64 {
		out := make([]float64, len(v))
		for i, x := range v {
			if x == nil {
				out[i] = nan()
			} else {
				out[i] = *x
			}
		}
		return out
	}
	return conv(e.info.ActLow), conv(e.info.ActHigh)
}

// Reset starts an episode from seed.
func (e *Env) Reset(seed int64) ([]float32, error) {
	var r stepReply
	if err := e.call("reset", map[string]any{"cmd": "reset", "seed": seed}, e.cfg.CallTimeout, &r); err != nil {
		return nil, err
	}
	if !r.OK {
		return nil, e.errorf("reset", "%s", r.Error)
	}
	if err := e.checkObs("reset", r.Obs); err != nil {
		return nil, err
	}
	return r.Obs, nil
}

// Step sends one action.
func (e *Env) Step(action []float32) (plugins.Step, error) {
	if len(action) != e.info.ActDim {
		return plugins.Step{}, e.errorf("step", "action has %d values, want %d", len(action), e.info.ActDim)
	}
	for i, a := range action {
		if a != a || a > 3.4e38 || a < -3.4e38 {
			return plugins.Step{}, e.errorf("step", "action[%d] is %v", i, a)
		}
	}
	var r stepReply
	if err := e.call("step", map[string]any{"cmd": "step", "action": action}, e.cfg.CallTimeout, &r); err != nil {
		return plugins.Step{}, err
	}
	if !r.OK {
		return plugins.Step{}, e.errorf("step", "%s", r.Error)
	}
	if err := e.checkObs("step", r.Obs); err != nil {
		return plugins.Step{}, err
	}
	if r.Reward == nil {
		e.broken = e.errorf("step", "the reply has no reward; killed the server")
		e.kill()
		return plugins.Step{}, e.broken
	}
	return plugins.Step{Observation: r.Obs, Reward: *r.Reward, Terminated: r.Terminated, Truncated: r.Truncated, Success: r.Success}, nil
}

func (e *Env) checkObs(what string, obs []float32) error {
	if len(obs) != e.info.ObsDim {
		e.broken = e.errorf(what, "the observation has %d values, the server announced %d; killed it", len(obs), e.info.ObsDim)
		e.kill()
		return e.broken
	}
	return nil
}

// Close asks the server to close the environment and exit, and kills it (and anything it
// started) if it does not within a few seconds. It is safe to call more than once.
func (e *Env) Close() error {
	if e.cmd == nil || e.cmd.Process == nil {
		return nil
	}
	select {
	case <-e.exited:
		e.kill() // reap anything left in its process group
		return nil
	default:
	}
	var err error
	if e.broken == nil {
		var r struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		if cerr := e.call("close", map[string]any{"cmd": "close"}, 5*time.Second, &r); cerr != nil {
			err = cerr
		} else if !r.OK {
			err = e.errorf("close", "%s", r.Error)
		}
		_ = e.stdin.Close()
		select {
		case <-e.exited:
		case <-time.After(5 * time.Second):
		}
	}
	e.kill()
	if e.broken == nil {
		e.broken = e.errorf("call", "the environment is closed")
	}
	return err
}

// NewPool starts n servers of the same environment in parallel, the i-th with seed cfg.Seed+i,
// for parallel evaluation. On any failure the servers already started are closed.
func NewPool(name string, n int, cfg Config) (*plugins.VecEnv, error) {
	if n < 1 {
		return nil, fmt.Errorf("remote: NewPool(%s): %d servers requested", name, n)
	}
	return plugins.StartVecEnv(n, func(i int) (plugins.Env, error) {
		c := cfg
		c.Seed = cfg.Seed + int64(i)
		env, err := New(name, c)
		if err != nil {
			return nil, err // not env: a nil *Env would be a non-nil plugins.Env
		}
		return env, nil
	})
}

// tail keeps the last max bytes written to it (a server's stderr, for error messages).
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimRight(string(t.buf), "\n")
	if s == "" {
		return "(nothing)"
	}
	return s
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
