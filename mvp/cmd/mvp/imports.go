package main

// Concrete plugins linked into the command, one per line.
import (
	_ "github.com/gomvp/gomvp/plugins/ogbench"
	_ "github.com/gomvp/gomvp/plugins/remote"
	_ "github.com/gomvp/gomvp/plugins/robomimic"
	_ "github.com/gomvp/gomvp/plugins/toy"
)
