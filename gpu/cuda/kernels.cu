// Elementwise kernels of gradmesh's CUDA MLP; the matrix products run in
// cuBLAS. kernels.ptx is generated from this file (make ptx) and embedded in
// the Go binary, which loads it with cuModuleLoadDataEx, so building gradmesh
// needs no CUDA toolkit.
//
// Matrices are row-major, one row per sample. Every kernel walks its work
// items with a grid-stride loop, so any grid size computes the right result
// and the host may cap the grid. Indices are 64-bit so rows*cols never
// overflows. The arithmetic mirrors training/mlp.go and training/loss.go step
// by step (float32 except the softmax normaliser, which is float64 as on the
// CPU), so CPU and GPU peers agree to rounding.
//
// Parameter types are part of the Go side's contract (kernels.go): pointers,
// int and float only.

#define GRID_STRIDE_LOOP(i, n)                                                   \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)

// out[r][c] = out[r][c] + bias[c], then max(0, ·) when relu is nonzero: the
// bias and activation after the layer's matrix product.
extern "C" __global__ void gm_bias_act(float *out, const float *bias, int rows, int cols, int relu)
{
    long long n = (long long)rows * cols;
    GRID_STRIDE_LOOP(i, n)
    {
        float v = out[i] + bias[i % cols];
        if (relu && v < 0.0f) {
            v = 0.0f;
        }
        out[i] = v;
    }
}

// delta[i] = 0 where the ReLU unit was off (act[i] <= 0): no gradient flows
// through it.
extern "C" __global__ void gm_relu_backward(float *delta, const float *act, int n)
{
    GRID_STRIDE_LOOP(i, (long long)n)
    {
        if (act[i] <= 0.0f) {
            delta[i] = 0.0f;
        }
    }
}

// One thread per row: row_loss[r] = cross-entropy of softmax(logits[r])
// against labels[r], and delta[r] = scale * (softmax(logits[r]) - onehot).
// A label outside [0, cols) gives a NaN loss and a zero delta row instead of
// touching memory it does not own.
extern "C" __global__ void gm_softmax_xent(const float *logits, const int *labels, int rows, int cols,
                                           float scale, float *delta, double *row_loss)
{
    GRID_STRIDE_LOOP(r, (long long)rows)
    {
        const float *z = logits + r * cols;
        float *d = delta + r * cols;
        int label = labels[r];
        if (label < 0 || label >= cols) {
            for (int j = 0; j < cols; j++) {
                d[j] = 0.0f;
            }
            row_loss[r] = __longlong_as_double(0x7ff8000000000000LL);
            continue;
        }
        float m = z[0];
        for (int j = 1; j < cols; j++) {
            if (z[j] > m) {
                m = z[j];
            }
        }
        double sum = 0.0;
        for (int j = 0; j < cols; j++) {
            sum += exp((double)(z[j] - m));
        }
        for (int j = 0; j < cols; j++) {
            float p = (float)(exp((double)(z[j] - m)) / sum);
            if (j == label) {
                p -= 1.0f;
            }
            d[j] = p * scale;
        }
        row_loss[r] = log(sum) - (double)(z[label] - m);
    }
}

// One thread per row: row_loss[r] as in gm_softmax_xent, and row_correct[r]
// = 1 when the first largest logit is the label's, else 0.
extern "C" __global__ void gm_xent_eval(const float *logits, const int *labels, int rows, int cols,
                                        double *row_loss, int *row_correct)
{
    GRID_STRIDE_LOOP(r, (long long)rows)
    {
        const float *z = logits + r * cols;
        int label = labels[r];
        if (label < 0 || label >= cols) {
            row_loss[r] = __longlong_as_double(0x7ff8000000000000LL);
            row_correct[r] = 0;
            continue;
        }
        float m = z[0];
        int best = 0;
        for (int j = 1; j < cols; j++) {
            if (z[j] > m) {
                m = z[j];
                best = j;
            }
        }
        double sum = 0.0;
        for (int j = 0; j < cols; j++) {
            sum += exp((double)(z[j] - m));
        }
        row_loss[r] = log(sum) - (double)(z[label] - m);
        row_correct[r] = best == label;
    }
}

// One thread per column: out[c] = sum over rows of m[r][c], added in row
// order like the CPU's bias gradient.
extern "C" __global__ void gm_col_sum(const float *m, int rows, int cols, float *out)
{
    GRID_STRIDE_LOOP(c, (long long)cols)
    {
        float s = 0.0f;
        for (long long r = 0; r < rows; r++) {
            s += m[r * cols + c];
        }
        out[c] = s;
    }
}
