#!/usr/bin/env python
"""Run the ONNX backend test suite shipped in the onnx wheel against mnn and summarise it.

    MNN_BACKENDS=reference python tools/onnx_suite.py --kinds node --list-failures
    python tools/onnx_suite.py -k conv --json /tmp/suite.json

Cases are the ones `onnx.backend.test.BackendTest` generates (same data loading and comparison as
the onnx runner: rtol 1e-3 / atol 1e-7 unless a case says otherwise, exact shapes and dtypes). Each
case runs on its own with a time limit: an exception or timeout fails that case only. Prints
pass/fail/total per kind, the vision milestone over /work/shared/conformance/vision_core_cases.txt
(when present), and failures grouped by op and reason.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
import unittest
import warnings
from collections import Counter, defaultdict
from pathlib import Path

KINDS = {"node": "OnnxBackendNodeModelTest", "simple": "OnnxBackendSimpleModelTest",
         "pytorch-converted": "OnnxBackendPyTorchConvertedModelTest",
         "pytorch-operator": "OnnxBackendPyTorchOperatorModelTest", "real": "OnnxBackendRealModelTest"}
VISION_CASES = Path(os.environ.get(
    "MNN_VISION_CASES",
    Path(__file__).resolve().parents[2] / "shared" / "conformance" / "vision_core_cases.txt"))


def vision_cases() -> list[str]:
    """The 595 float32 vision-op node cases of the milestone list (empty when the list is absent)."""
    if not VISION_CASES.exists():
        return []
    names = [line.split("#")[0].strip() for line in VISION_CASES.read_text().splitlines()]
    return [n for n in names if n]


class CaseTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise CaseTimeout("case exceeded its time limit")


def case_ops(kind: str) -> dict[str, list[str]]:
    """Case name -> op types of its model (for --ops and for grouping failures)."""
    import onnx
    from onnx.backend.test.loader import load_model_tests

    result = {}
    for case in load_model_tests(kind=kind):
        model = case.model
        if model is None and case.model_dir:
            try:
                model = onnx.load(os.path.join(case.model_dir, "model.onnx"), load_external_data=False)
            except Exception:
                model = None
        result[case.name] = sorted({n.op_type for n in model.graph.node}) if model is not None else []
    return result


def reason_of(trace: str) -> str:
    """One line saying why a case failed, from its traceback text."""
    lines = [line for line in trace.strip().splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if re.match(r"^[\w.]+(Error|Exception|Timeout|Unavailable)\b", line):
            text = line.split(".")[-1] if line.startswith("mnn") else line
            if "unsupported op(s):" in trace:  # name the unsupported ops, not just the model
                ops = sorted(set(re.findall(r"^\s+- (\S+)", trace, re.M)))
                return f"ConversionError: unsupported {', '.join(ops)}"
            if i + 1 < len(lines) and text.endswith(":") or text.rstrip().endswith("AssertionError:"):
                text = f"{text} {lines[i + 1].strip()}" if i + 1 < len(lines) else text
            return text[:200]
    return (lines[-1] if lines else "unknown")[:200]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma list of " + ", ".join(KINDS))
    parser.add_argument("-k", dest="pattern", default=None, help="regex over case names")
    parser.add_argument("--ops", default=None, help="comma list: only cases whose model uses one of them")
    parser.add_argument("--list-failures", action="store_true", help="print every failing case")
    parser.add_argument("--json", dest="json_out", default=None, help="write per-case results here")
    parser.add_argument("--timeout", type=int, default=60, help="seconds per case (default 60)")
    parser.add_argument("--vision", action="store_true",
                        help="only the node cases of the vision milestone list")
    args = parser.parse_args(argv)

    warnings.filterwarnings("ignore")
    import onnx.backend.test

    from mnn_core.testing.onnx_backend import MnnBackend

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        parser.error(f"unknown kind(s) {unknown}; known: {', '.join(KINDS)}")
    wanted_ops = {o.strip() for o in args.ops.split(",")} if args.ops else None
    pattern = re.compile(args.pattern) if args.pattern else None
    only = set(vision_cases()) if args.vision else None
    if args.vision and not only:
        parser.error(f"--vision needs the milestone list at {VISION_CASES} (or MNN_VISION_CASES)")

    suite = onnx.backend.test.BackendTest(MnnBackend, "mnn_onnx_suite")
    classes = suite.test_cases
    signal.signal(signal.SIGALRM, _alarm)
    results: dict[str, dict] = {}
    totals: dict[str, Counter] = {}
    started = time.perf_counter()
    for kind in kinds:
        ops = case_ops(kind)
        cls = classes[KINDS[kind]]
        counter = totals.setdefault(kind, Counter())
        for method in sorted(m for m in dir(cls) if m.startswith("test_") and m.endswith("_cpu")):
            name = method[: -len("_cpu")]
            if pattern and not pattern.search(name):
                continue
            if only is not None and name not in only:
                continue
            if wanted_ops is not None and not wanted_ops & set(ops.get(name, ())):
                continue
            outcome = unittest.TestResult()
            t0 = time.perf_counter()
            signal.alarm(args.timeout)
            try:
                cls(method).run(outcome)
            except CaseTimeout:  # raised outside the test body (set-up): still this case's failure
                outcome.errors.append((None, "CaseTimeout: case exceeded its time limit"))
            finally:
                signal.alarm(0)
            trace = ""
            if outcome.skipped:
                status, reason = "skip", outcome.skipped[0][1]
            elif outcome.errors or outcome.failures:
                trace = (outcome.errors + outcome.failures)[0][1]
                status, reason = "fail", reason_of(trace)
            else:
                status, reason = "pass", ""
            counter[status] += 1
            results[name] = {"kind": kind, "status": status, "reason": reason, "ops": ops.get(name, []),
                             "seconds": round(time.perf_counter() - t0, 3), "trace": trace[-2000:]}

    print(f"ONNX backend test suite through mnn (MNN_BACKENDS={os.environ.get('MNN_BACKENDS', '')!r}, "
          f"MNN_STRICT={os.environ.get('MNN_STRICT', '')!r}), {time.perf_counter() - started:.0f} s")
    grand = Counter()
    for kind, counter in totals.items():
        total = sum(counter.values())
        grand.update(counter)
        print(f"  {kind:18s} pass {counter['pass']:5d}  fail {counter['fail']:5d}  skip {counter['skip']:4d}"
              f"  total {total:5d}")
    print(f"  {'all':18s} pass {grand['pass']:5d}  fail {grand['fail']:5d}  skip {grand['skip']:4d}"
          f"  total {sum(grand.values()):5d}")
    vision = vision_cases()
    if vision:
        ran = [v for v in vision if v in results]
        passed = sum(results[v]["status"] == "pass" for v in ran)
        print(f"  vision milestone: pass {passed} of {len(vision)} ({len(ran)} run)")

    failures = {n: r for n, r in results.items() if r["status"] == "fail"}
    by_op: dict[str, Counter] = defaultdict(Counter)
    for name, r in failures.items():
        by_op[",".join(r["ops"][:3]) or "?"][r["reason"]] += 1
    if failures:
        print("failures by op (count, op, top reason):")
        for op, reasons in sorted(by_op.items(), key=lambda kv: -sum(kv[1].values()))[:40]:
            reason, _ = reasons.most_common(1)[0]
            print(f"  {sum(reasons.values()):4d}  {op:28s} {reason[:110]}")
    if args.list_failures:
        for name, r in sorted(failures.items()):
            print(f"FAIL {name} [{','.join(r['ops'][:3])}] {r['reason']}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=1, sort_keys=True))
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
