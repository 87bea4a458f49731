"""Runs a command with stdout to /dev/null; prints wall seconds and the child's peak RSS (KiB) as JSON.

Node cannot read a child's peak RSS (getrusage RUSAGE_CHILDREN); Python can, and python3 is on
every machine this project runs on.
"""
import json
import resource
import subprocess
import sys
import time

start = time.perf_counter()
with open("/dev/null", "wb") as null:
    code = subprocess.call(sys.argv[1:], stdout=null, stderr=subprocess.DEVNULL)
wall = time.perf_counter() - start
print(json.dumps({"code": code, "wall": wall, "maxRssKiB": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
