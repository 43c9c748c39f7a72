#!/usr/bin/env bash
# Installs what headless notebook execution needs: Debian's Jupyter (nbconvert + nbclient, run by
# /usr/bin/python3), the GoNB kernel at an exact version built from the module proxy, goimports and
# gopls (GoNB calls both), and the GoNB kernel spec. Idempotent: each step is skipped when its
# result is already there at the pinned version.
#
# Versions are pinned here; the proxy refuses @latest for several modules, so `go install M@latest`
# is never used. The tools are built from scratch modules (out/notebook-tools/*) whose `tool` blocks
# pin them, so the project's own go.mod stays free of tool-only dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

GONB_VERSION=v0.11.3
GOPLS_VERSION=v0.23.0
GOBIN_DIR="$(go env GOBIN)"
[ -n "$GOBIN_DIR" ] || GOBIN_DIR="$(go env GOPATH)/bin"
mkdir -p "$GOBIN_DIR"
export PATH="$GOBIN_DIR:$PATH"

# --- Jupyter from Debian (nbconvert executes notebooks through nbclient + jupyter_client).
need_apt=()
for p in jupyter-nbconvert jupyter-client python3-nbclient python3-nbformat; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_apt+=("$p")
done
if [ ${#need_apt[@]} -gt 0 ]; then
	echo "apt: installing ${need_apt[*]}"
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO="sudo"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
/usr/bin/python3 -c 'import nbconvert, nbclient, jupyter_client, nbformat' ||
	{ echo "Debian's /usr/bin/python3 cannot import nbconvert/nbclient/jupyter_client" >&2; exit 1; }

# --- gonb, goimports, gopls built from a scratch module with a pinned tool block.
have_version() { # binary, module version that `go version -m` must report for its main module
	[ -x "$GOBIN_DIR/$1" ] && go version -m "$GOBIN_DIR/$1" 2>/dev/null | grep -qE "^[[:space:]]+mod[[:space:]].*[[:space:]]$2([[:space:]]|$)"
}
# Two scratch modules, so gonb's dependencies stay exactly those it was released with and gopls
# gets the x/tools it was released with (goimports is built from that same x/tools).
build_tool() { # scratch dir, pinned tool package@version, binary name, package to build
	local dir="out/notebook-tools/$1"
	mkdir -p "$dir"
	(
		cd "$dir"
		# The Makefile's GOFLAGS/GOEXPERIMENT are for the project, not for the tools.
		export GOFLAGS=-buildvcs=false GOEXPERIMENT= CGO_ENABLED=0
		[ -f go.mod ] || go mod init "gomvp.local/notebook-tools/$1" >/dev/null 2>&1
		go get -tool "$2"
		shift 2
		while [ $# -gt 0 ]; do
			go build -o "$GOBIN_DIR/$1" "$2"
			shift 2
		done
	)
}
if ! have_version gonb "$GONB_VERSION"; then
	build_tool gonb "github.com/janpfeifer/gonb@$GONB_VERSION" gonb github.com/janpfeifer/gonb
fi
if ! have_version gopls "$GOPLS_VERSION" || [ ! -x "$GOBIN_DIR/goimports" ]; then
	build_tool gopls "golang.org/x/tools/gopls@$GOPLS_VERSION" gopls golang.org/x/tools/gopls
	# goimports from the x/tools version gopls selected (a bare `go get -tool` would upgrade it).
	xtools="$(cd out/notebook-tools/gopls && GOFLAGS=-buildvcs=false go list -m -f '{{.Version}}' golang.org/x/tools)"
	build_tool gopls "golang.org/x/tools/cmd/goimports@$xtools" goimports golang.org/x/tools/cmd/goimports
fi
echo "gonb: $(go version -m "$GOBIN_DIR/gonb" | awk '$1=="mod"{print $3; exit}'), gopls: $(go version -m "$GOBIN_DIR/gopls" | awk '$1=="mod"{print $3; exit}'), goimports: $GOBIN_DIR/goimports"

# --- Kernel spec: `gonb --install` writes ~/.local/share/jupyter/kernels/gonb pointing at this binary.
kernel_json="$(/usr/bin/python3 -c 'from jupyter_core.paths import jupyter_data_dir; print(jupyter_data_dir())')/kernels/gonb/kernel.json"
if [ ! -f "$kernel_json" ] || ! grep -q "$GOBIN_DIR/gonb" "$kernel_json"; then
	"$GOBIN_DIR/gonb" --install --logtostderr
fi
/usr/bin/python3 -m jupyter kernelspec list 2>/dev/null | grep -q '^ *gonb ' ||
	{ echo "the gonb kernel spec is not registered with Debian's jupyter" >&2; exit 1; }
echo "notebooks: setup done (kernel spec $kernel_json)"
