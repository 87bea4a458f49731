"""Runs a command with stdout to /dev/null; prints wall seconds and the child's peak RSS (KiB) as JSON.

Node cannot read a child's peak RSS (getrusage RUSAGE_CHILDREN); Python can, and python3 is on
every machine this project runs on. With `--stderr=FILE` first, the command's stderr goes to FILE
(what it says it counted), else nowhere.
"""
import json
import resource
import subprocess
import sys
import time

args = sys.argv[1:]
stderr_path = None
if args and args[0].startswith("--stderr="):
    stderr_path = args[0][len("--stderr="):]
    args = args[1:]

start = time.perf_counter()
with open("/dev/null", "wb") as null, open(stderr_path or "/dev/null", "wb") as err:
    code = subprocess.call(args, stdout=null, stderr=err)
wall = time.perf_counter() - start
print(json.dumps({"code": code, "wall": wall, "maxRssKiB": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
