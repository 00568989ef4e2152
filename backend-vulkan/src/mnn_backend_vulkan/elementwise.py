"""The table of elementwise ops: one GLSL expression each. `tools/gen_shaders.py` turns every row into
a compute shader at build time; the lowering reads the same table to know what it can claim.

Unary expressions see `x` (type T: float, or float16_t in fp16 builds) and the push-constant
parameters `a`, `b`; binary expressions see `x`, `y` of the compute type of their element type.
"""
from __future__ import annotations

# op -> (expression, attribute names bound to a and b, their defaults)
UNARY: dict[str, tuple[str, tuple[str, ...], tuple[float, ...]]] = {
    "Relu": ("max(x, T(0))", (), ()),
    "LeakyRelu": ("x >= T(0) ? x : x * T(a)", ("alpha",), (0.01,)),
    "Elu": ("x >= T(0) ? float(x) : a * (exp(float(x)) - 1.0)", ("alpha",), (1.0,)),
    "Selu": ("x > T(0) ? b * float(x) : b * a * (exp(float(x)) - 1.0)", ("alpha", "gamma"),
             (1.67326319217681884765625, 1.05070102214813232421875)),
    "Celu": ("max(0.0, float(x)) + min(0.0, a * (exp(float(x) / a) - 1.0))", ("alpha",), (1.0,)),
    "ThresholdedRelu": ("x > T(a) ? x : T(0)", ("alpha",), (1.0,)),
    "Sigmoid": ("sigmoid_acc(float(x))", (), ()),
    "HardSigmoid": ("clamp(float(x) * a + b, 0.0, 1.0)", ("alpha", "beta"), (0.2, 0.5)),
    "HardSwish": ("x * clamp(x / T(6) + T(0.5), T(0), T(1))", (), ()),
    "Tanh": ("tanh_acc(float(x))", (), ()),
    "Softplus": ("max(float(x), 0.0) + log(1.0 + exp(-abs(float(x))))", (), ()),
    "Softsign": ("x / (T(1) + abs(x))", (), ()),
    "Mish": ("float(x) * tanh_acc(max(float(x), 0.0) + log(1.0 + exp(-abs(float(x)))))", (), ()),
    "Gelu": ("0.5 * float(x) * (1.0 + erf_acc(float(x) * 0.7071067811865476))", (), ()),
    "GeluTanh": ("0.5 * float(x) * (1.0 + tanh_acc(0.7978845608028654 * (float(x) + 0.044715 * float(x) * float(x) * float(x))))", (), ()),
    "Swish": ("float(x) * sigmoid_acc(a * float(x))", ("alpha",), (1.0,)),
    "Clip": ("min(max(x, T(a)), T(b))", ("min", "max"), (-3.4028234663852886e38, 3.4028234663852886e38)),
    "Neg": ("-x", (), ()),
    "Abs": ("abs(x)", (), ()),
    "Sign": ("sign(x)", (), ()),
    "Reciprocal": ("1.0 / float(x)", (), ()),
    "Sqrt": ("sqrt(float(x))", (), ()),
    "Exp": ("exp(float(x))", (), ()),
    "Log": ("log(float(x))", (), ()),
    "Floor": ("floor(float(x))", (), ()),
    "Ceil": ("ceil(float(x))", (), ()),
    "Round": ("roundEven(float(x))", (), ()),
    "Erf": ("erf_acc(float(x))", (), ()),
    "Sin": ("sin(float(x))", (), ()),
    "Cos": ("cos(float(x))", (), ()),
    "Tan": ("tan(float(x))", (), ()),
    "Asin": ("asin(float(x))", (), ()),
    "Acos": ("acos(float(x))", (), ()),
    "Atan": ("atan(float(x))", (), ()),
    "Sinh": ("sinh(float(x))", (), ()),
    "Cosh": ("cosh(float(x))", (), ()),
    "Asinh": ("asinh(float(x))", (), ()),
    "Acosh": ("acosh(float(x))", (), ()),
    "Atanh": ("atanh(float(x))", (), ()),
    "Identity": ("x", (), ()),
}

# Element types of binary shaders: storage type, compute type, GLSL extension needed.
TYPES = {"f32": ("float", "T", ""), "i32": ("int", "int", ""),
         "i64": ("int64_t", "int64_t", "GL_EXT_shader_explicit_arithmetic_types_int64"),
         "bool": ("uint", "bool", "")}

# op -> (expression, element types, result is bool)
BINARY: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "Add": ("x + y", ("f32", "i32", "i64"), False),
    "Sub": ("x - y", ("f32", "i32", "i64"), False),
    "Mul": ("x * y", ("f32", "i32", "i64"), False),
    "Div": ("x / y", ("f32", "i32", "i64"), False),  # GLSL integer division truncates, as ONNX
    "Max": ("max(x, y)", ("f32", "i32", "i64"), False),
    "Min": ("min(x, y)", ("f32", "i32", "i64"), False),
    "Pow": ("pow_signed(float(x), float(y))", ("f32",), False),
    "PRelu": ("x < T(0) ? x * y : x", ("f32",), False),
    "Mod": ("x - y * trunc(x / y)", ("f32",), False),  # fmod=1 (float Mod must use it)
    "Equal": ("x == y", ("f32", "i32", "i64", "bool"), True),
    "Greater": ("x > y", ("f32", "i32", "i64"), True),
    "Less": ("x < y", ("f32", "i32", "i64"), True),
    "GreaterOrEqual": ("x >= y", ("f32", "i32", "i64"), True),
    "LessOrEqual": ("x <= y", ("f32", "i32", "i64"), True),
    "And": ("x && y", ("bool",), True),
    "Or": ("x || y", ("bool",), True),
    "Xor": ("x != y", ("bool",), True),
}

BOOL_UNARY = {"Not": "!x"}
