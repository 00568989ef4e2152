"""The `mnn` command line: convert, inspect, run, benchmark and profile models.

Every subcommand takes a model file: an `.mnn` file or any format an installed frontend reads.
Errors print one line to stderr and exit with status 2 (`--debug` shows the traceback instead);
`convert --check` exits with 1 when the model uses unsupported ops.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

import mnn_core
from .dtypes import DType
from .format import save as save_mnn
from .ir import TensorType

ORT_SOURCE_KEY = "source_path"
"""Graph metadata key where `mnn convert` records the model file an `.mnn` was converted from."""


class CLIError(Exception):
    """An error the user can fix; printed as one line without a traceback."""


# ---- helpers -----------------------------------------------------------------------------------
def _context():
    return mnn_core.default_context()


def _load(path: str, optimize: bool = True, on_pass=None) -> "mnn_core.Model":
    source = Path(path)
    if not source.exists():
        raise CLIError(f"no such file: {source}")
    if source.is_dir():
        raise CLIError(f"{source} is a folder, not a model file")
    if source.suffix == ".mnn":
        return mnn_core.load(source)
    return mnn_core.convert(source, _context(), optimize=optimize, on_pass=on_pass)


def _backends(text: Optional[str]) -> Optional[list[str]]:
    return [b.strip() for b in text.split(",") if b.strip()] if text else None


def _session(model, args) -> "mnn_core.Session":
    return model.session(backends=_backends(getattr(args, "backends", None)),
                         threads=getattr(args, "threads", None))


def _concrete(t: TensorType, name: str) -> tuple[DType, tuple[int, ...]]:
    """A runnable dtype and shape for an input: symbolic or unknown dims become 1."""
    if t.shape is None:
        raise CLIError(f"input {name!r} has unknown rank; pass it with --input {name}=file.npy")
    if t.dtype is None:
        raise CLIError(f"input {name!r} has unknown dtype; pass it with --input {name}=file.npy")
    return t.dtype, tuple(d if isinstance(d, int) else 1 for d in t.shape)


def random_inputs(model, seed: int = 0, given: Sequence[str] = ()) -> dict[str, np.ndarray]:
    """Random feeds matching the model's inputs; `given` holds "name=file.npy" overrides.

    Floats are standard normal; integers are 0 or 1 (valid indices into any table of two or more
    rows: token ids, token type ids); inputs whose name mentions a mask are ones, as attention
    masks expect.
    """
    feeds: dict[str, np.ndarray] = {}
    names = list(model.graph.inputs)
    for item in given:
        name, sep, file = item.partition("=")
        if not sep:
            raise CLIError(f"--input expects name=file.npy, got {item!r}")
        if name not in names:
            raise CLIError(f"the model has no input named {name!r}; its inputs are {', '.join(names)}")
        try:
            feeds[name] = np.load(file, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise CLIError(f"cannot read --input {name}: {file}: {error}") from None
    rng = np.random.default_rng(seed)
    for name in names:
        if name in feeds:
            continue
        dtype, shape = _concrete(model.inputs[name], name)
        if dtype.is_float:
            value = rng.standard_normal(shape)
        elif dtype is DType.BOOL:
            value = rng.integers(0, 2, shape)
        elif dtype.is_int:
            value = np.ones(shape) if "mask" in name.lower() else rng.integers(0, 2, shape)
        else:
            raise CLIError(f"cannot make a random {dtype} input for {name!r}; pass --input {name}=file.npy")
        feeds[name] = np.asarray(value).astype(dtype.numpy)
    return feeds


def describe(name: str, array: np.ndarray) -> str:
    array = np.asarray(array)
    head = f"{name}: {TensorType.of(array) if array.dtype.kind not in 'OUS' else array.shape}"
    if array.size == 0 or array.dtype.kind in "OUSV":
        return head
    values = array.astype(np.float64)
    return f"{head} min={values.min():.6g} max={values.max():.6g} mean={values.mean():.6g}"


def _percentiles(times_ms: Sequence[float]) -> tuple[float, float, float]:
    p10, p50, p90 = np.percentile(np.asarray(times_ms), [10, 50, 90])
    return float(p50), float(p10), float(p90)


def _peak_rss_mib() -> Optional[float]:
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def onnx_source(model, path: str) -> Optional[Path]:
    """The ONNX file a model is (or was converted from), if it still exists."""
    if Path(path).suffix.lower() == ".onnx":
        return Path(path)
    recorded = model.graph.metadata.get(ORT_SOURCE_KEY)
    if recorded and Path(recorded).suffix.lower() == ".onnx" and Path(recorded).exists():
        return Path(recorded)
    return None


def ort_session(onnx_path: Path, threads: Optional[int]):
    try:
        import onnxruntime as ort
    except ImportError:
        raise CLIError("onnxruntime is not installed (pip install onnxruntime)") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or 0
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])


def _require_ort_source(model, path: str) -> Path:
    source = onnx_source(model, path)
    if source is None:
        raise CLIError("comparing with onnxruntime needs an ONNX model, or an .mnn converted from one "
                       "whose source file still exists")
    return source


def run_ort(session, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    names = [i.name for i in session.get_inputs()]
    missing = [n for n in names if n not in feeds]
    if missing:
        raise CLIError(f"onnxruntime expects input(s) {missing} that the mnn model does not have")
    outputs = session.run(None, {n: feeds[n] for n in names})
    return {o.name: v for o, v in zip(session.get_outputs(), outputs)}


def similarity(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(cosine similarity, max abs difference) of two arrays of one shape."""
    if np.shape(a) != np.shape(b):
        raise CLIError(f"output shapes differ: mnn {np.shape(a)} vs onnxruntime {np.shape(b)}")
    x, y = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    if x.size == 0:
        return 1.0, 0.0
    norm = np.linalg.norm(x) * np.linalg.norm(y)
    cosine = float(x @ y / norm) if norm else float(np.array_equal(x, y))
    return cosine, float(np.max(np.abs(x - y)))


def _compare_lines(ours: dict, theirs: dict) -> list[str]:
    lines = []
    for i, (name, value) in enumerate(ours.items()):
        other = theirs.get(name, list(theirs.values())[i] if i < len(theirs) else None)
        if other is None:
            lines.append(f"{name}: onnxruntime has no such output")
            continue
        cosine, diff = similarity(value, other)
        lines.append(f"{name}: cosine similarity {cosine:.6f}, max abs diff {diff:.3g}")
    return lines


def _time_ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1e3


# ---- subcommands -------------------------------------------------------------------------------
def cmd_convert(args) -> int:
    source = Path(args.model)
    if args.check:
        if not source.exists():
            raise CLIError(f"no such file: {source}")
        ctx = _context()
        frontend = ctx.frontends.for_source(source)
        if frontend is None:
            raise CLIError(f"no installed frontend reads {source}")
        report = frontend.check(source, ops=ctx.ops)
        ops = ", ".join(f"{op} x{n}" for op, n in sorted(report.ops.items()))
        print(f"{source}: {report.format}, {sum(report.ops.values())} nodes: {ops}")
        for note in report.notes:
            print(f"note: {note}")
        if report.ok:
            print("every op is supported")
            return 0
        print(f"{len(report.unsupported)} unsupported op(s):")
        for item in report.unsupported:
            print(f"  - {item}")
        return 1

    def dump(record) -> None:
        mark = " (changed)" if record.changed else ""
        print(f"  pass {record.name:<28} nodes {record.nodes_before:>5} -> {record.nodes_after:<5} "
              f"{record.ms:8.2f} ms{mark}")

    out = Path(args.output) if args.output else source.with_suffix(".mnn")
    if out.resolve() == source.resolve():
        raise CLIError(f"the output {out} would overwrite the model; choose another -o")
    if args.dump_passes:
        print("passes:")
    model = _load(args.model, optimize=not args.no_optimize, on_pass=dump if args.dump_passes else None)
    if source.suffix != ".mnn":
        model.graph.metadata.setdefault(ORT_SOURCE_KEY, str(source.resolve()))
    save_mnn(model.graph, out)
    print(f"wrote {out}: {len(model.graph.nodes)} nodes, {model.graph.param_count():,} params, "
          f"{out.stat().st_size / 2**20:.2f} MiB")
    return 0


def cmd_info(args) -> int:
    from .format import read_header
    from .shape_inference import infer_types
    from .stats import model_stats

    model = _load(args.model, optimize=not args.no_optimize)
    graph = model.graph
    print(f"model: {args.model}")
    if Path(args.model).suffix == ".mnn":
        print(f"format: .mnn version {read_header(args.model).version}")
    for key, value in graph.metadata.items():
        print(f"  {key}: {value}")
    print("inputs:")
    for name, t in model.inputs.items():
        print(f"  {name}: {t}")
    types, error = {}, None
    try:
        types, _ = infer_types(graph, model.context.ops)
    except Exception as exc:  # info still shows what does not need types
        error = f"{type(exc).__name__}: {exc}"
    print("outputs:")
    for name in graph.outputs:
        print(f"  {name}: {types.get(name) or graph.type_of(name)}")
    counts = sorted(graph.op_counts().items(), key=lambda kv: (-kv[1], kv[0]))
    print(f"nodes: {sum(n for _, n in counts)} ({', '.join(f'{op} {n}' for op, n in counts)})")
    stats = model_stats(graph, types)
    print(stats.summary())
    if error:
        print(f"note: type inference failed, costs are partial: {error}")
    if args.verbose:
        print(stats.table())
    return 0


def cmd_run(args) -> int:
    model = _load(args.model)
    feeds = random_inputs(model, args.seed, args.input or ())
    session = _session(model, args)
    ms = _time_ms(lambda: session.run(feeds))
    outputs = session.run(feeds)
    for name, value in feeds.items():
        print("input  " + describe(name, value))
    for name, value in outputs.items():
        print("output " + describe(name, value))
    counts = ", ".join(f"{b}: {n}" for b, n in session.plan.backend_counts().items())
    print(f"first run {ms:.2f} ms; nodes per backend: {counts}")
    if args.save:
        np.savez(args.save, **outputs)
        print(f"wrote outputs to {args.save}")
    return 0


def cmd_bench(args) -> int:
    model = _load(args.model)
    feeds = random_inputs(model, args.seed, args.input or ())
    start = time.perf_counter()
    session = _session(model, args)
    session.run(feeds)
    setup_ms = (time.perf_counter() - start) * 1e3
    ort = None
    if args.compare:
        if args.compare != "onnxruntime":
            raise CLIError(f"--compare knows only onnxruntime, not {args.compare!r}")
        ort = ort_session(_require_ort_source(model, args.model), args.threads)
        run_ort(ort, feeds)
    for _ in range(args.warmup):
        session.run(feeds)
        if ort is not None:
            run_ort(ort, feeds)
    ours, theirs = [], []
    for i in range(args.runs):  # interleaved, alternating who goes first, so drift hits both alike
        order = [(ours, lambda: session.run(feeds))]
        if ort is not None:
            order.append((theirs, lambda: run_ort(ort, feeds)))
        for times, fn in (order if i % 2 == 0 else order[::-1]):
            times.append(_time_ms(fn))
    median, p10, p90 = _percentiles(ours)
    threads = args.threads if args.threads else "default"
    print(f"mnn: median {median:.3f} ms, p10 {p10:.3f} ms, p90 {p90:.3f} ms over {args.runs} runs "
          f"(warmup {args.warmup}); threads {threads}")
    counts = ", ".join(f"{b}: {n}" for b, n in session.plan.backend_counts().items())
    planned = session.plan.peak_bytes + sum(s.executable.planned_bytes() or 0 for s in session.plan.segments)
    print(f"backends: {counts}; first run incl. session setup {setup_ms:.1f} ms")
    if ort is not None:
        o_median, o_p10, o_p90 = _percentiles(theirs)
        print(f"onnxruntime: median {o_median:.3f} ms, p10 {o_p10:.3f} ms, p90 {o_p90:.3f} ms; "
              f"intra-op threads {threads}, inter-op 1")
        print(f"ratio mnn/onnxruntime (median): {median / o_median:.2f}x")
    rss = _peak_rss_mib()
    print(f"planned peak memory: {planned / 2**20:.2f} MiB; process peak RSS: "
          + (f"{rss:.1f} MiB" if rss is not None else "unknown"))
    if args.json:
        result = {"model": args.model, "median_ms": median, "p10_ms": p10, "p90_ms": p90,
                  "runs": args.runs, "threads": args.threads, "planned_peak_bytes": planned,
                  "peak_rss_mib": rss}
        if ort is not None:
            result.update(ort_median_ms=o_median, ort_p10_ms=o_p10, ort_p90_ms=o_p90)
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


def cmd_plan(args) -> int:
    model = _load(args.model)
    session = _session(model, args)
    plan = session.plan
    if plan is None:  # dynamic input shapes: plan for symbolic dims set to 1
        plan = session.resize({n: _concrete(t, n)[1] for n, t in model.inputs.items()})
    for name, reason in session.unavailable.items():
        print(f"backend {name} unavailable: {reason}")
    print(plan)
    return 0


def cmd_plugins(args) -> int:
    ctx = _context()
    print("plugins:")
    for r in ctx.plugin_reports:
        origin = f"{r.distribution} {r.version}".strip() or "-"
        reason = f": {r.reason}" if r.reason else ""
        print(f"  {r.name:<16} {origin:<28} {r.status}{reason}")
    print("backends:")
    for factory in ctx.backends:
        try:
            probe = factory.probe()
            state = (", ".join(f"{d.name} ({d.kind}, {d.memory})" for d in probe.devices)
                     if probe.available else f"unavailable: {probe.unavailable_reason or 'no device'}")
        except Exception as error:  # a probe must not raise; report it rather than crash
            state = f"probe failed: {type(error).__name__}: {error}"
        print(f"  {factory.name:<16} priority {factory.priority:>4}  {state}")
    print("frontends: " + (", ".join(f"{f.name} ({' '.join(f.suffixes)})" for f in ctx.frontends)
                           or "none"))
    print(f"passes: {', '.join(ctx.passes.names()) or 'none'}")
    print(f"ops: {len(ctx.ops)}")
    return 0


def cmd_compare(args) -> int:
    model = _load(args.model)
    ort = ort_session(_require_ort_source(model, args.model), args.threads)
    feeds = random_inputs(model, args.seed, args.input or ())
    ours = _session(model, args).run(feeds)
    for line in _compare_lines(ours, run_ort(ort, feeds)):
        print(line)
    return 0


def cmd_profile(args) -> int:
    from .profiler import Profiler

    model = _load(args.model)
    feeds = random_inputs(model, args.seed, args.input or ())
    session = _session(model, args)
    session.run(feeds)  # warm up outside the profile
    profiler = Profiler()
    for _ in range(args.runs):
        session.run(feeds, profiler=profiler)
    print(profiler.table(top=args.top))
    if args.trace:
        profiler.save_chrome_trace(args.trace)
        print(f"wrote Chrome trace to {args.trace} (open in https://ui.perfetto.dev)")
    return 0


def cmd_demo(args) -> int:
    from .demo import DEMO_MODEL

    if _context().frontends.for_source(DEMO_MODEL) is None:
        raise CLIError("the demo converts an ONNX model: install mnn-frontend-onnx")
    print(f"converting {DEMO_MODEL.name}")
    model = mnn_core.convert(DEMO_MODEL, _context())
    with tempfile.TemporaryDirectory(prefix="mnn-demo-") as folder:
        path = save_mnn(model.graph, Path(folder) / "tiny_cnn.mnn")
        print(f"saved {path.name}: {path.stat().st_size / 1024:.1f} KiB; reloading it")
        model = mnn_core.load(path)
        session = _session(model, args)
        print(session.plan)
        feeds = random_inputs(model, args.seed)
        outputs = session.run(feeds)
        for name, value in outputs.items():
            print("output " + describe(name, value))
            if value.ndim == 2:
                print(f"  top class {int(np.argmax(value[0]))} (p={float(np.max(value[0])):.3f})")
        times = [_time_ms(lambda: session.run(feeds)) for _ in range(args.runs)]
        print(f"median latency {_percentiles(times)[0]:.3f} ms over {args.runs} runs")
        try:
            import onnxruntime  # noqa: F401
        except ImportError:
            print("onnxruntime not installed: skipping the comparison")
            return 0
        for line in _compare_lines(outputs, run_ort(ort_session(DEMO_MODEL, args.threads), feeds)):
            print("vs onnxruntime: " + line)
    return 0


# ---- parser and entry point --------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks instead of one-line errors")
    model = argparse.ArgumentParser(add_help=False, parents=[common])
    model.add_argument("model", help="an .mnn file or a model an installed frontend reads (.onnx)")
    running = argparse.ArgumentParser(add_help=False, parents=[model])
    running.add_argument("--backends", help="comma-separated backends in priority order")
    running.add_argument("--threads", type=int, help="threads per backend (and for onnxruntime)")
    running.add_argument("--input", action="append", metavar="NAME=FILE.npy",
                         help="feed an input from a .npy file (repeatable); others are random")
    running.add_argument("--seed", type=int, default=0, help="seed of the random inputs")

    parser = argparse.ArgumentParser(prog="mnn", description=__doc__.splitlines()[0], parents=[common])
    parser.add_argument("--version", action="version", version=f"mnn-core {mnn_core.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("convert", parents=[model], help="convert a model to .mnn")
    p.add_argument("-o", "--output", help="output .mnn path (default: MODEL with suffix .mnn)")
    p.add_argument("--no-optimize", action="store_true", help="skip the optimisation passes")
    p.add_argument("--dump-passes", action="store_true", help="print each pass: nodes before/after, ms")
    p.add_argument("--check", action="store_true",
                   help="only report unsupported ops (exit 1 if any), without converting")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("info", parents=[model], help="inputs, outputs, op counts, params, FLOPs")
    p.add_argument("--no-optimize", action="store_true", help="describe the graph before passes")
    p.add_argument("-v", "--verbose", action="store_true", help="also print FLOPs per op type")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("run", parents=[running], help="run once and summarise the outputs")
    p.add_argument("--save", metavar="OUT.npz", help="save the outputs")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("bench", parents=[running], help="latency percentiles, memory, vs onnxruntime")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--compare", metavar="ENGINE", help="also time this engine, interleaved (onnxruntime)")
    p.add_argument("--json", metavar="OUT.json", help="write the figures as JSON")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("plan", parents=[running], help="print the session's placement and memory plan")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("plugins", parents=[common], help="installed plugins and backend devices")
    p.set_defaults(func=cmd_plugins)

    p = sub.add_parser("compare", parents=[running], help="mnn vs onnxruntime on one random input")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("profile", parents=[running], help="per-op timings, optional Chrome trace")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--top", type=int, default=20, help="rows of the table")
    p.add_argument("--trace", metavar="OUT.json", help="write a Chrome trace (Perfetto opens it)")
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("demo", parents=[common], help="convert, save, reload, plan, run the demo model")
    p.add_argument("--backends", help="comma-separated backends in priority order")
    p.add_argument("--threads", type=int)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_demo)
    return parser


def _one_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = "; ".join(lines) or type(error).__name__
    known = (CLIError, OSError, ValueError, RuntimeError, KeyError)
    return text if isinstance(error, known) else f"{type(error).__name__}: {text}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # usage errors (2) and --help/--version (0) as return codes
        return int(exit_.code or 0)
    debug = getattr(args, "debug", False)

    def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        if not debug:
            warnings.showwarning = show_warning
        try:
            return int(args.func(args) or 0)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # `mnn info model | head`
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
        except Exception as error:
            if debug:
                traceback.print_exc()
            else:
                print(f"mnn {args.command}: error: {_one_line(error)}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
