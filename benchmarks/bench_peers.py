"""Benchmark mnn beside its peers (ONNX Runtime, MNN 3.6.1, OpenVINO) on the shared models.

One worker process per engine and (model, thread count): mnn in the interpreter where mnn_core is
installed (this one by default), the peers in the peers venv made by `benchmarks/setup_peers.sh` (MNN's
pip package installs its own `mnn` console script, so it must not share an environment with ours).
The coordinator interleaves the engines round-robin: each round asks every engine, in a rotated
order, for one untimed run then `--runs` timed runs, so machine drift hits all engines alike; the
medians pool all rounds. Only one engine computes at a time; the others wait on their stdin.
Before each turn the coordinator waits `--settle` seconds: ONNX Runtime's pool keeps a worker
spinning for ~45 ms after a run, and on a 2-core machine that took a core from whichever engine
came next (its 2-thread runs up to twice as slow).

Each worker also reports the process CPU time over its timed runs: CPU-time / wall-time is how many
cores it kept busy, which must stay at or below the thread count (spin-waiting thread pools count as
busy, as they are). Every worker runs the same random inputs once and its outputs are compared with
ONNX Runtime's (cosine similarity), so we know each engine ran the real model.

    python benchmarks/bench_peers.py                      # all shared models, threads 1 and 2
    python benchmarks/bench_peers.py --models resnet18 --threads 1 --rounds 3 --runs 5
    python benchmarks/bench_peers.py --engines mnn,ort --json peers.json

Worker processes run this same file with `--worker ENGINE`; that side imports only numpy and the
engine's own package, so it runs in the peers venv.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ENGINES = ("mnn", "ort", "mnn361", "openvino")
LABELS = {"mnn": "mnn", "ort": "ORT", "mnn361": "MNN 3.6.1", "openvino": "OpenVINO"}
PACKAGES = {"mnn": "mnn-core", "ort": "onnxruntime", "mnn361": "MNN (pip mnn)", "openvino": "openvino"}
REFERENCE = "ort"  # outputs of every engine are compared with this one's
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = ROOT.parent / "shared" / "models"
DEFAULT_VENV = Path(os.environ.get("PEERS_VENV", "/work/peers-venv"))
DEFAULT_CACHE = Path(os.environ.get("PEERS_CACHE", Path.home() / ".cache" / "mnn-peers"))


# ==== worker side: stdlib + numpy + the engine's package only ======================================
def _load_mnn(spec: dict):
    import mnn_core

    model = mnn_core.load(spec["onnx"])
    session = model.session(backends=spec["mnn_backends"].split(","), threads=spec["threads"])
    feeds = dict(np.load(spec["inputs"]))
    names = spec["output_names"]

    def run():
        outputs = session.run(feeds)
        return [outputs[n] for n in names] if set(names) <= set(outputs) else list(outputs.values())

    counts = session.plan.backend_counts()
    info = {"version": mnn_core.__version__, "placement": ", ".join(f"{b} {n}" for b, n in counts.items())}
    return run, info


def _load_ort(spec: dict):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = spec["threads"]
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    session = ort.InferenceSession(spec["onnx"], options, providers=["CPUExecutionProvider"])
    feeds = dict(np.load(spec["inputs"]))
    names = spec["output_names"]
    return (lambda: session.run(names, feeds)), {"version": ort.__version__}


def _load_mnn361(spec: dict):
    import MNN
    import MNN.expr as F
    import MNN.nn as nn

    # "normal" precision is fp32 on a CPU without fp16 arithmetic; numThread caps MNN's pool.
    runtime = nn.create_runtime_manager(({"backend": "CPU", "precision": "normal",
                                          "numThread": spec["threads"]},))
    feeds = dict(np.load(spec["inputs"]))
    module = nn.load_module_from_file(spec["mnn_model"], list(feeds), spec["output_names"],
                                      runtime_manager=runtime)
    inputs = []
    for value in feeds.values():
        if value.dtype == np.int64:  # MNN's converter turns int64 tensors into int32
            value = value.astype(np.int32)
        dtype = F.int if value.dtype == np.int32 else F.float
        inputs.append(F.const(value, list(value.shape), F.NCHW, dtype))

    def run():
        # Outputs may be in MNN's packed NC4HW4 layout: converting them to NCHW is part of the work.
        return [F.convert(out, F.NCHW).read() for out in module.onForward(inputs)]

    return run, {"version": MNN.version()}


def _load_openvino(spec: dict):
    import openvino as ov

    core = ov.Core()
    compiled = core.compile_model(core.read_model(spec["onnx"]), "CPU", {
        "INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": spec["threads"],
        "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    feeds = dict(np.load(spec["inputs"]))
    count = len(compiled.outputs)

    def run():
        request.infer(feeds)
        return [request.get_output_tensor(i).data.copy() for i in range(count)]

    return run, {"version": ov.__version__.split("-")[0]}


LOADERS = {"mnn": _load_mnn, "ort": _load_ort, "mnn361": _load_mnn361, "openvino": _load_openvino}


def worker(engine: str) -> int:
    """Serve JSON-line commands on stdin: "load", then any number of "time"; EOF ends."""
    # Engines print banners on stdout (MNN does): keep the real stdout for the protocol only.
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    run = None

    def reply(**message):
        protocol.write(json.dumps(message) + "\n")

    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["cmd"] == "load":
                start = time.perf_counter()
                run, info = LOADERS[engine](request)
                outputs = run()
                np.savez(request["save"], *[np.asarray(o) for o in outputs])
                for _ in range(request["warmup"]):
                    run()
                reply(ok=True, load_s=time.perf_counter() - start, **info)
            elif request["cmd"] == "time":
                for _ in range(request["warm"]):  # re-warm caches after the previous engine's turn
                    run()
                times = []
                cpu0, wall0 = time.process_time(), time.perf_counter()
                for _ in range(request["runs"]):
                    start = time.perf_counter()
                    run()
                    times.append((time.perf_counter() - start) * 1e3)
                reply(ok=True, ms=times, cpu_s=time.process_time() - cpu0,
                      wall_s=time.perf_counter() - wall0)
        except Exception as error:  # report and go on: the coordinator decides what to drop
            reply(ok=False, error=f"{type(error).__name__}: {error}".splitlines()[0])
    return 0


# ==== coordinator side =============================================================================
class Worker:
    def __init__(self, engine: str, python: str, threads: int, env_extra: dict, folder: Path):
        self.engine = engine
        env = dict(os.environ, **env_extra)
        # Cap the BLAS/OpenMP pools too (numpy fallbacks), so a thread count means what it says.
        env["OMP_NUM_THREADS"] = env["OPENBLAS_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(threads)
        self.log = open(folder / f"{engine}.log", "w+")
        self.proc = subprocess.Popen([python, str(Path(__file__).resolve()), "--worker", engine],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     text=True, env=env)

    def send(self, **request) -> None:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()

    def receive(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            self.log.seek(0)
            tail = [t for t in self.log.read().strip().splitlines() if t.strip()][-1:] or ["no output"]
            raise RuntimeError(f"worker exited ({self.proc.wait()}): {tail[0][:200]}")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(reply.get("error", "unknown error"))
        return reply

    def close(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def make_inputs(onnx_path: Path, seed: int = 0) -> tuple[dict[str, np.ndarray], list[str]]:
    """Random feeds for the model's graph inputs and its output names, with the conventions of
    `mnn_core.cli.random_inputs`: floats standard normal, masks ones, other integers 0 or 1."""
    import onnx
    from onnx.helper import tensor_dtype_to_np_dtype

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    initializers = {i.name for i in graph.initializer}
    rng = np.random.default_rng(seed)
    feeds = {}
    for value in graph.input:
        if value.name in initializers:
            continue
        tensor = value.type.tensor_type
        shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in tensor.shape.dim)
        dtype = np.dtype(tensor_dtype_to_np_dtype(tensor.elem_type))
        if dtype.kind == "f":
            array = rng.standard_normal(shape)
        elif "mask" in value.name.lower():
            array = np.ones(shape)
        else:
            array = rng.integers(0, 2, shape)
        feeds[value.name] = np.asarray(array).astype(dtype)
    return feeds, [o.name for o in graph.output]


# MNN's `mnnconvert` console script imports a usage logger that, when its SDK is missing, runs
# `pip install -U aliyun-log-python-sdk` with whatever `pip` is on PATH (the system one, outside an
# activated venv: it downgraded the system protobuf and broke onnx) and then reports to a remote
# service. Call the native converter the script wraps instead; it returns True even on failure,
# so success is judged by its message and the file.
CONVERT = "import sys, _tools; _tools.mnnconvert(['mnnconvert'] + sys.argv[1:])"


def ensure_mnn_model(onnx_path: Path, cache: Path, venv: Path) -> Path:
    """The MNN 3.6.1 model converted from `onnx_path`, converting it with the venv's MNN if the cache
    lacks it or is older than the ONNX file."""
    target = cache / f"{onnx_path.stem}.mnn"
    if target.exists() and target.stat().st_size and target.stat().st_mtime >= onnx_path.stat().st_mtime:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".mnn.partial")
    result = subprocess.run([str(venv / "bin" / "python"), "-c", CONVERT, "-f", "ONNX",
                             "--modelFile", str(onnx_path), "--MNNModel", str(partial), "--bizCode", "biz"],
                            capture_output=True, text=True)
    log = result.stdout + result.stderr
    (cache / f"{onnx_path.stem}.mnn.log").write_text(log)
    if result.returncode != 0 or "Converted Success" not in log or not partial.exists():
        partial.unlink(missing_ok=True)
        raise RuntimeError(f"MNN conversion of {onnx_path.name} failed: {log.strip()[-300:]}")
    partial.replace(target)
    return target


def python_for(engine: str, args) -> str:
    """The interpreter that runs an engine's worker."""
    if engine == "mnn":
        return args.mnn_python
    venv_python = args.peers_venv / "bin" / "python"
    if venv_python.exists():
        return str(venv_python)
    if engine == "ort":  # ONNX Runtime is also a dependency of mnn's tooling: run it here instead
        return sys.executable
    raise RuntimeError(f"no peers venv at {args.peers_venv} (run benchmarks/setup_peers.sh)")


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    x, y = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if x.size != y.size:
        return float("nan")
    norm = np.linalg.norm(x) * np.linalg.norm(y)
    return float(x @ y / norm) if norm else float(np.array_equal(x, y))


def bench_case(onnx_path: Path, threads: int, args, folder: Path) -> dict:
    """Time every engine on one model at one thread count; returns a row for the tables."""
    feeds, output_names = make_inputs(onnx_path)
    inputs = folder / "inputs.npz"
    np.savez(inputs, **feeds)
    row: dict = {"model": onnx_path.stem, "threads": threads, "engines": {}}
    workers: dict[str, Worker] = {}
    for engine in args.engines:
        result = row["engines"][engine] = {}
        try:
            spec = {"cmd": "load", "onnx": str(onnx_path), "threads": threads, "inputs": str(inputs),
                    "output_names": output_names, "save": str(folder / f"{engine}_out.npz"),
                    "warmup": args.warmup, "mnn_backends": args.mnn_backends}
            python = python_for(engine, args)
            if engine == "mnn361":
                spec["mnn_model"] = str(ensure_mnn_model(onnx_path, args.mnn_cache, args.peers_venv))
            env = {"MNN_BACKENDS": args.mnn_backends} if engine == "mnn" else {}
            workers[engine] = Worker(engine, python, threads, env, folder)
            workers[engine].send(**spec)
        except Exception as error:
            result["error"] = f"{type(error).__name__}: {error}"
    for engine, w in list(workers.items()):  # the loads ran in parallel; nothing is timed yet
        try:
            row["engines"][engine].update(w.receive())
        except Exception as error:
            row["engines"][engine]["error"] = str(error)
            w.close()
            del workers[engine]

    samples = {e: {"ms": [], "cpu_s": 0.0, "wall_s": 0.0} for e in workers}
    deadline = time.perf_counter() + args.budget
    order = list(workers)
    for round_ in range(args.rounds if order else 0):
        shift = round_ % len(order)  # rotate who goes first, so no engine always follows the same one
        for engine in order[shift:] + order[:shift]:
            if engine not in workers:
                continue
            try:
                time.sleep(args.settle)  # let the previous engine's spinning threads go idle
                workers[engine].send(cmd="time", runs=args.runs, warm=1)
                reply = workers[engine].receive()
            except Exception as error:
                row["engines"][engine]["error"] = str(error)
                workers.pop(engine).close()
                continue
            pooled = samples[engine]
            pooled["ms"] += reply["ms"]
            pooled["cpu_s"] += reply["cpu_s"]
            pooled["wall_s"] += reply["wall_s"]
        if round_ >= 1 and time.perf_counter() > deadline:
            break
    for w in workers.values():
        w.close()

    reference = _outputs(folder / f"{REFERENCE}_out.npz")
    for engine, result in row["engines"].items():
        pooled = samples.get(engine)
        if "error" in result or not pooled or not pooled["ms"]:
            continue
        result.update(median_ms=float(np.median(pooled["ms"])), runs=len(pooled["ms"]),
                      p10_ms=float(np.percentile(pooled["ms"], 10)),
                      p90_ms=float(np.percentile(pooled["ms"], 90)),
                      busy_cores=pooled["cpu_s"] / pooled["wall_s"])
        ours = _outputs(folder / f"{engine}_out.npz")
        if reference and ours:
            result["cosine"] = min(cosine(a, b) for a, b in zip(ours, reference))
    return row


def _outputs(path: Path) -> list[np.ndarray]:
    if not path.exists():
        return []
    with np.load(path) as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


# ---- report ---------------------------------------------------------------------------------------
def _ms(result: dict) -> str:
    if "error" in result:
        return "error"
    return f"{result['median_ms']:.2f}" if "median_ms" in result else "-"


def markdown(rows: list[dict], engines: list[str]) -> str:
    peers = [e for e in engines if e != "mnn"]
    ratios = "mnn" in engines and peers
    head = ["model", "threads"] + [f"{LABELS[e]} ms" for e in engines]
    if ratios:
        head += [f"mnn/{LABELS[e]}" for e in peers] + ["mnn/best peer"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for row in rows:
        results = row["engines"]
        cells = [row["model"], str(row["threads"])] + [_ms(results.get(e, {})) for e in engines]
        if ratios:
            ours = results.get("mnn", {}).get("median_ms")
            timed = {e: results[e]["median_ms"] for e in peers if "median_ms" in results.get(e, {})}
            cells += [f"{ours / timed[e]:.2f}" if ours and e in timed else "-" for e in peers]
            cells.append(f"{ours / min(timed.values()):.2f} ({LABELS[min(timed, key=timed.get)]})"
                         if ours and timed else "-")
        lines.append("| " + " | ".join(cells) + " |")

    lines += ["", "Checks: busy cores = process CPU time / wall time over the timed runs (must be at most "
              f"the thread count); cos = cosine similarity of the outputs with {LABELS[REFERENCE]}'s; "
              "p10-p90 in ms.", "",
              "| model | threads | " + " | ".join(LABELS[e] for e in engines) + " | mnn nodes per backend |",
              "|---|---:|" + "---|" * (len(engines) + 1)]
    for row in rows:
        cells = [row["model"], str(row["threads"])]
        for e in engines:
            r = row["engines"].get(e, {})
            if "error" in r:
                cells.append(f"error: {r['error'][:120]}")
            elif "median_ms" in r:
                over = " **over cap**" if r["busy_cores"] > row["threads"] + 0.1 else ""
                cos = f"cos {r['cosine']:.6f}" if "cosine" in r else "cos -"
                if not r.get("cosine", 1.0) >= 0.999:  # nan (shape mismatch) is flagged too
                    cos += " **mismatch**"
                cells.append(f"{r['busy_cores']:.2f} cores{over}, {cos}, "
                             f"{r['p10_ms']:.2f}-{r['p90_ms']:.2f} ({r['runs']} runs)")
            else:
                cells.append("-")
        cells.append(row["engines"].get("mnn", {}).get("placement", "-"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def header(rows: list[dict], args) -> str:
    versions = {}
    for row in rows:
        for e, r in row["engines"].items():
            if "version" in r:
                versions.setdefault(e, r["version"])
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{datetime.date.today().isoformat()}, {cpu}, {os.cpu_count()} logical CPUs; "
            + ", ".join(f"{PACKAGES[e]} {v}" for e, v in versions.items())
            + f"; {args.rounds} rounds x {args.runs} runs per engine (+1 untimed per round), "
            f"warmup {args.warmup}; mnn backends {args.mnn_backends}")


def _model_paths(args) -> list[Path]:
    paths = sorted(args.dir.glob("*.onnx"))
    if args.models:
        wanted = args.models.split(",")
        paths = [p for p in paths if p.stem in wanted]
        missing = set(wanted) - {p.stem for p in paths}
        if missing:
            raise SystemExit(f"no such model(s) in {args.dir}: {', '.join(sorted(missing))}")
    if not paths:
        raise SystemExit(f"no .onnx models in {args.dir}")
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, default=DEFAULT_MODELS, help=f"models folder ({DEFAULT_MODELS})")
    parser.add_argument("--models", help="comma-separated model names (file stems); default: all")
    parser.add_argument("--threads", default="1,2", type=lambda s: [int(t) for t in s.split(",")])
    parser.add_argument("--engines", default=",".join(ENGINES), type=lambda s: s.split(","),
                        help=f"comma-separated, from {', '.join(ENGINES)} (default: all)")
    parser.add_argument("--rounds", type=int, default=8, help="round-robin rounds (default 8)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per engine per round (default 5)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs after loading")
    parser.add_argument("--budget", type=float, default=60.0,
                        help="seconds of rounds per model and thread count before stopping early "
                             "(min 2 rounds)")
    parser.add_argument("--settle", type=float, default=0.1,
                        help="seconds to wait before each engine's turn, for the previous engine's "
                             "spinning threads to go idle (default 0.1)")
    parser.add_argument("--peers-venv", type=Path, default=DEFAULT_VENV, help=f"({DEFAULT_VENV})")
    parser.add_argument("--mnn-cache", type=Path, default=DEFAULT_CACHE,
                        help=f"MNN 3.6.1 models converted from the ONNX ones ({DEFAULT_CACHE})")
    parser.add_argument("--mnn-python", default=sys.executable,
                        help="interpreter with mnn_core installed (default: this one)")
    parser.add_argument("--mnn-backends", default="cpu", help="mnn backends in priority order (default cpu)")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    parser.add_argument("--convert-only", action="store_true",
                        help="only convert the models for MNN 3.6.1 into --mnn-cache, then exit")
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker)
    if args.convert_only:  # used by setup_peers.sh; runs in any interpreter (numpy + stdlib)
        for path in _model_paths(args):
            print(f"{path.name} -> {ensure_mnn_model(path, args.mnn_cache, args.peers_venv)}")
        return 0

    unknown = [e for e in args.engines if e not in ENGINES]
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(unknown)}; known: {', '.join(ENGINES)}")
    if not (args.peers_venv / "bin" / "python").exists() and set(args.engines) & {"mnn361", "openvino"}:
        print(f"warning: no peers venv at {args.peers_venv} (run benchmarks/setup_peers.sh): "
              "MNN 3.6.1 and OpenVINO cannot run; ORT runs in this interpreter", file=sys.stderr)
    paths = _model_paths(args)
    rows = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mnn-peers-") as tmp:
        for path in paths:
            for threads in args.threads:
                print(f"{path.stem}, {threads} thread(s) ...", file=sys.stderr, flush=True)
                folder = Path(tmp) / f"{path.stem}_{threads}"
                folder.mkdir()
                rows.append(bench_case(path, threads, args, folder))
    print(header(rows, args))
    given = " ".join(argv if argv is not None else sys.argv[1:])
    print(f"command: python benchmarks/{Path(__file__).name} {given}"
          f" ({time.perf_counter() - started:.0f} s)")
    print()
    print(markdown(rows, args.engines))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
