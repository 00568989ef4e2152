"""The CUDA kernels, run through the host emulation (module `_emulated`), against numpy."""
import numpy as np
import pytest

E = pytest.importorskip("mnn_backend_cuda._emulated", reason="mnn-backend-cuda is not built")
rng = np.random.default_rng(0)


def upload(a):
    a = np.ascontiguousarray(a)
    ptr = E.malloc(a.nbytes)
    E.upload(ptr, a.reshape(-1).view(np.uint8))
    return ptr


def download(ptr, shape, dtype=np.float32):
    out = np.empty(shape, dtype)
    E.download(out.reshape(-1).view(np.uint8), ptr)
    return out


@pytest.mark.parametrize("M,N,K,batch", [(1, 1, 1, 1), (17, 33, 40, 1), (5, 16, 16, 3)])
def test_tiled_gemm_matches_numpy(M, N, K, batch):
    a = rng.standard_normal((batch, M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)  # shared by the batch: offset 0
    bias = rng.standard_normal(N).astype(np.float32)
    offsets = np.array([[i * M * K, 0] for i in range(batch)], np.int64)
    out = E.malloc(batch * M * N * 4)
    E.gemm(upload(a), upload(b), upload(bias), out, upload(offsets), batch, M, N, K, [K, 1, N, 1], 1, 1, 0.5,
           0.0, 0.0)
    want = np.maximum(0.5 * (a @ b) + bias, 0)
    np.testing.assert_allclose(download(out, want.shape), want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("n", [1, 255, 1000])
def test_block_reductions_see_every_thread(n):
    # Softmax and LayerNorm reduce across 256 threads through shared memory: wrong barriers show here.
    x = rng.standard_normal((3, n)).astype(np.float32) * 4
    y = E.malloc(x.nbytes)
    E.softmax(upload(x), y, 3, n, 1, 0)
    e = np.exp(x - x.max(1, keepdims=True))
    np.testing.assert_allclose(download(y, x.shape), e / e.sum(1, keepdims=True), rtol=1e-5, atol=1e-7)
    E.layernorm(upload(x), 0, 0, y, 3, n, 1e-5)
    want = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(download(y, x.shape), want, rtol=1e-4, atol=1e-4)


def test_depthwise_conv_with_padding_and_stride():
    x = rng.standard_normal((1, 4, 9, 9)).astype(np.float32)
    w = rng.standard_normal((4, 1, 3, 3)).astype(np.float32)
    y = E.malloc(4 * 5 * 5 * 4)
    E.conv2d(upload(x), upload(w), 0, y, [1, 4, 9, 9, 4, 5, 5, 3, 3, 2, 2, 1, 1, 1, 1, 4], 0, 0.0, 0.0)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    want = np.zeros((1, 4, 5, 5), np.float32)
    for c in range(4):
        for i in range(5):
            for j in range(5):
                want[0, c, i, j] = (xp[0, c, 2 * i:2 * i + 3, 2 * j:2 * j + 3] * w[c, 0]).sum()
    np.testing.assert_allclose(download(y, want.shape), want, rtol=1e-5, atol=1e-5)


def test_strided_copy_transposes_any_element_size():
    x = np.arange(24, dtype=np.int64).reshape(2, 3, 4)
    y = E.malloc(x.nbytes)
    # output [4, 2, 3] = x.transpose(2, 0, 1): input strides of the output's axes
    E.copy(upload(x), y, 8, 24, [4, 2, 3], [1, 12, 4], 0, [6, 3, 1], 0)
    np.testing.assert_array_equal(download(y, (4, 2, 3), np.int64), x.transpose(2, 0, 1))
