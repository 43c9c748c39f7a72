"""A stand-in for server.py that needs only the standard library, for the remote plugin's tests.

It speaks the protocol of PROTOCOL.md for environments named fake:<mode>:
  normal      x ← x + a[0] + a[1]/2 (obs [x, t], 2-d actions), reward −|x|, success |x| < 0.1
              (terminates), truncated at t = 10.
  crash       exits with status 3 at the second step.
  hang        stops answering at the second step.
  hangmake    never answers make.
  garbage     answers the second step with a line that is not JSON.
  wrongdims   announces obs_dim 2 but sends 3 values from the second step on.
  noisy       writes junk to stdout from a C-level write before each reply (the real server
              redirects such output to stderr; this one checks the client survives it on stderr).
"""

import json
import os
import sys
import time


def main():
    mode = None
    x, t, steps = 0.0, 0, 0
    for line in sys.stdin:
        req = json.loads(line)
        cmd = req["cmd"]
        if cmd == "make":
            mode = req["name"].split(":", 1)[1]
            if mode == "hangmake":
                time.sleep(3600)
            if mode not in ("normal", "crash", "hang", "garbage", "wrongdims", "noisy"):
                reply = {"ok": False, "error": f"ValueError: unknown fake mode {mode!r}"}
            else:
                reply = {"ok": True, "obs_dim": 2, "act_dim": 2, "max_episode_steps": 10,
                         "act_low": [-1, -1], "act_high": [1, 1], "protocol": 1}
        elif cmd == "reset":
            seed = req.get("seed") or 0
            x, t = 1.0 + (seed % 7) / 10, 0
            reply = {"ok": True, "obs": [x, t]}
        elif cmd == "step":
            steps += 1
            if steps == 2 and mode == "crash":
                sys.stderr.write("fake server: crashing on purpose\n")
                sys.exit(3)
            if steps == 2 and mode == "hang":
                time.sleep(3600)
            if steps == 2 and mode == "garbage":
                sys.stdout.write("this is not json\n")
                sys.stdout.flush()
                continue
            a = req["action"]
            if len(a) != 2:
                reply = {"ok": False, "error": f"ValueError: action has shape [{len(a)}], want [2]"}
            else:
                x += a[0] + a[1] / 2
                t += 1
                success = abs(x) < 0.1
                obs = [x, t] + ([0.0] if mode == "wrongdims" and steps >= 2 else [])
                reply = {"ok": True, "obs": obs, "reward": -abs(x), "terminated": success,
                         "truncated": t >= 10 and not success, "success": success}
        elif cmd == "close":
            sys.stdout.write(json.dumps({"ok": True}) + "\n")
            sys.stdout.flush()
            return
        else:
            reply = {"ok": False, "error": f"ValueError: unknown cmd {cmd!r}"}
        if mode == "noisy":
            os.write(2, b"some library chatter\n")
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
