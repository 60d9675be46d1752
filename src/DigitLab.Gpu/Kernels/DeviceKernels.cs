// DeviceKernels: every device kernel but GEMM (convolution data movement, pooling, batch norm, activations, loss, optimizers).
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace DigitLab.Gpu.Kernels;

/// <summary>A convolution's or pooling window's geometry: input (N, C, H, W), output (N, O, OH, OW), square kernel K.</summary>
public readonly struct ConvShape(int n, int c, int h, int w, int o, int k, int stride, int pad)
{
    public readonly int N = n, C = c, H = h, W = w, O = o, K = k, Stride = stride, Pad = pad;
    public readonly int OH = (h + 2 * pad - k) / stride + 1, OW = (w + 2 * pad - k) / stride + 1;
    /// <summary>Rows of the im2col matrix: N·OH·OW.</summary>
    public int Rows => N * OH * OW;
    /// <summary>Columns of the im2col matrix: C·K·K.</summary>
    public int Cols => C * K * K;
}

/// <summary>Batch-norm sizes: (N, C, S) with S values per sample and channel; Eps and Momentum as PyTorch.</summary>
public readonly struct NormShape(int n, int c, int s, float eps, float momentum)
{
    public readonly int N = n, C = c, S = s;
    public readonly float Eps = eps, Momentum = momentum;
}

/// <summary>Adam's per-step constants, fields as <c>DigitLab.Nn.AdamCoefficients</c>.</summary>
public readonly struct AdamStep(float beta1, float oneMinusBeta1, float beta2, float oneMinusBeta2, float l2, float decay, float bc2Sqrt, float eps, float negStep)
{
    public readonly float Beta1 = beta1, OneMinusBeta1 = oneMinusBeta1, Beta2 = beta2, OneMinusBeta2 = oneMinusBeta2;
    public readonly float L2WeightDecay = l2, DecoupledDecay = decay, BiasCorrection2Sqrt = bc2Sqrt, Epsilon = eps, NegStepSize = negStep;
}

/// <summary>SGD's per-step constants, fields as <c>Sgd.SgdCoefficients</c> (flags as 0/1).</summary>
public readonly struct SgdStep(float negLr, float weightDecay, float momentum, bool useMomentum, bool nesterov)
{
    public readonly float NegLearningRate = negLr, WeightDecay = weightDecay, Momentum = momentum;
    public readonly int UseMomentum = useMomentum ? 1 : 0, Nesterov = nesterov ? 1 : 0;
}

/// <summary>
/// The device kernels. One thread per output element wherever possible; backward passes of convolution and pooling
/// gather (each input element sums the outputs that read it) instead of scattering with atomics, and reductions
/// run in one group per channel in a fixed tree order, so every kernel is deterministic run to run.
/// </summary>
public static class DeviceKernels
{
    /// <summary>Threads per group of the per-channel reduction kernels.</summary>
    public const int ReduceThreads = 256;

    // ---- element-wise ----

    public static void Fill(Index1D i, ArrayView<float> x, float value) => x[i] = value;

    public static void Copy(Index1D i, ArrayView<float> src, ArrayView<float> dst) => dst[i] = src[i];

    public static void Add(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y) => y[i] = a[i] + b[i];

    public static void Multiply(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y) => y[i] = a[i] * b[i];

    public static void Scale(Index1D i, ArrayView<float> x, float factor) => x[i] *= factor;

    public static void ReluForward(Index1D i, ArrayView<float> x, ArrayView<float> y) => y[i] = x[i] > 0f ? x[i] : 0f;

    /// <summary>dx = dy where the forward output y is positive (the gradient at 0 is 0).</summary>
    public static void ReluBackward(Index1D i, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx) => dx[i] = y[i] > 0f ? dy[i] : 0f;

    public static void SigmoidForward(Index1D i, ArrayView<float> x, ArrayView<float> y) => y[i] = 1f / (1f + XMath.Exp(-x[i]));

    public static void SigmoidBackward(Index1D i, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx) => dx[i] = dy[i] * y[i] * (1f - y[i]);

    public static void TanhForward(Index1D i, ArrayView<float> x, ArrayView<float> y) => y[i] = XMath.Tanh(x[i]);

    public static void TanhBackward(Index1D i, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx) => dx[i] = dy[i] * (1f - y[i] * y[i]);

    /// <summary>y = a + b, then max(·, 0) when <paramref name="relu"/> is 1 (the residual sum).</summary>
    public static void AddRelu(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> y, int relu)
    {
        float v = a[i] + b[i];
        y[i] = relu != 0 && !(v > 0f) ? 0f : v;
    }

    // ---- convolution data movement ----

    /// <summary>cols (N·OH·OW, C·K·K): row (n, oh, ow) holds the K×K windows of every channel, zero where padded.</summary>
    public static void Im2Col(Index1D i, ArrayView<float> x, ArrayView<float> cols, ConvShape g)
    {
        int cols_ = g.Cols;
        int row = i / cols_, col = i % cols_;
        int kw = col % g.K, kh = col / g.K % g.K, c = col / (g.K * g.K);
        int ow = row % g.OW, oh = row / g.OW % g.OH, n = row / (g.OW * g.OH);
        int h = oh * g.Stride - g.Pad + kh, w = ow * g.Stride - g.Pad + kw;
        cols[i] = h >= 0 && h < g.H && w >= 0 && w < g.W ? x[((n * g.C + c) * g.H + h) * g.W + w] : 0f;
    }

    /// <summary>dx (N, C, H, W) from dcols (N·OH·OW, C·K·K): each input sums the column entries that copied it (im2col's adjoint).</summary>
    public static void Col2Im(Index1D i, ArrayView<float> cols, ArrayView<float> dx, ConvShape g)
    {
        int w = i % g.W, h = i / g.W % g.H, c = i / (g.W * g.H) % g.C, n = i / (g.W * g.H * g.C);
        float sum = 0;
        for (int kh = 0; kh < g.K; kh++)
        {
            int ohs = h + g.Pad - kh;
            if (ohs < 0 || ohs % g.Stride != 0) continue;
            int oh = ohs / g.Stride;
            if (oh >= g.OH) continue;
            for (int kw = 0; kw < g.K; kw++)
            {
                int ows = w + g.Pad - kw;
                if (ows < 0 || ows % g.Stride != 0) continue;
                int ow = ows / g.Stride;
                if (ow >= g.OW) continue;
                int row = (n * g.OH + oh) * g.OW + ow;
                sum += cols[(long)row * g.Cols + (c * g.K + kh) * g.K + kw];
            }
        }
        dx[i] = sum;
    }

    /// <summary>y (N, O, OH, OW) from the product (N·OH·OW, O), plus bias[o] when <paramref name="hasBias"/> is 1.</summary>
    public static void RowsToChannels(Index1D i, ArrayView<float> product, ArrayView<float> bias, ArrayView<float> y, ConvShape g, int hasBias)
    {
        int p = g.OH * g.OW;
        int pos = i % p, o = i / p % g.O, n = i / (p * g.O);
        float v = product[(n * p + pos) * g.O + o];
        y[i] = hasBias != 0 ? v + bias[o] : v;
    }

    /// <summary>The product layout (N·OH·OW, O) from dy (N, O, OH, OW): RowsToChannels' transpose.</summary>
    public static void ChannelsToRows(Index1D i, ArrayView<float> dy, ArrayView<float> rows, ConvShape g)
    {
        int p = g.OH * g.OW;
        int o = i % g.O, r = i / g.O;
        int pos = r % p, n = r / p;
        rows[i] = dy[(n * g.O + o) * p + pos];
    }

    // ---- pooling ----

    /// <summary>Max over each window (padding counts as −∞); argmax holds h·W + w of the first maximum.</summary>
    public static void MaxPoolForward(Index1D i, ArrayView<float> x, ArrayView<float> y, ArrayView<int> argmax, ConvShape g)
    {
        int ow = i % g.OW, oh = i / g.OW % g.OH, plane = i / (g.OW * g.OH);
        long b = (long)plane * g.H * g.W;
        float best = float.NegativeInfinity;
        int at = -1;
        for (int kh = 0; kh < g.K; kh++)
        {
            int h = oh * g.Stride - g.Pad + kh;
            if (h < 0 || h >= g.H) continue;
            for (int kw = 0; kw < g.K; kw++)
            {
                int w = ow * g.Stride - g.Pad + kw;
                if (w < 0 || w >= g.W) continue;
                float v = x[b + h * g.W + w];
                if (at < 0 || v > best) { best = v; at = h * g.W + w; }
            }
        }
        y[i] = best;
        argmax[i] = at;
    }

    /// <summary>dx: each input sums the gradients of the windows whose maximum it was.</summary>
    public static void MaxPoolBackward(Index1D i, ArrayView<float> dy, ArrayView<int> argmax, ArrayView<float> dx, ConvShape g)
    {
        int w = i % g.W, h = i / g.W % g.H, plane = i / (g.W * g.H);
        int self = h * g.W + w;
        float sum = 0;
        int ohLo = XMath.Max(0, (h + g.Pad - g.K + g.Stride) / g.Stride), ohHi = XMath.Min(g.OH - 1, (h + g.Pad) / g.Stride);
        int owLo = XMath.Max(0, (w + g.Pad - g.K + g.Stride) / g.Stride), owHi = XMath.Min(g.OW - 1, (w + g.Pad) / g.Stride);
        for (int oh = ohLo; oh <= ohHi; oh++)
            for (int ow = owLo; ow <= owHi; ow++)
            {
                int o = (plane * g.OH + oh) * g.OW + ow;
                if (argmax[o] == self) sum += dy[o];
            }
        dx[i] = sum;
    }

    /// <summary>Mean of each K×K window (no padding).</summary>
    public static void AvgPoolForward(Index1D i, ArrayView<float> x, ArrayView<float> y, ConvShape g)
    {
        int ow = i % g.OW, oh = i / g.OW % g.OH, plane = i / (g.OW * g.OH);
        long b = (long)plane * g.H * g.W;
        float sum = 0;
        for (int kh = 0; kh < g.K; kh++)
            for (int kw = 0; kw < g.K; kw++)
                sum += x[b + (oh * g.Stride + kh) * g.W + ow * g.Stride + kw];
        y[i] = sum / (g.K * g.K);
    }

    /// <summary>dx: each input sums 1/K² of the gradients of the windows that hold it.</summary>
    public static void AvgPoolBackward(Index1D i, ArrayView<float> dy, ArrayView<float> dx, ConvShape g)
    {
        int w = i % g.W, h = i / g.W % g.H, plane = i / (g.W * g.H);
        float sum = 0;
        int ohLo = XMath.Max(0, (h - g.K + g.Stride) / g.Stride), ohHi = XMath.Min(g.OH - 1, h / g.Stride);
        int owLo = XMath.Max(0, (w - g.K + g.Stride) / g.Stride), owHi = XMath.Min(g.OW - 1, w / g.Stride);
        for (int oh = ohLo; oh <= ohHi; oh++)
            for (int ow = owLo; ow <= owHi; ow++)
                sum += dy[(plane * g.OH + oh) * g.OW + ow];
        dx[i] = sum / (g.K * g.K);
    }

    /// <summary>y (planes) = the mean of each plane of <paramref name="size"/> values.</summary>
    public static void GlobalAvgForward(Index1D i, ArrayView<float> x, ArrayView<float> y, int size)
    {
        float sum = 0;
        long b = (long)(int)i * size;
        for (int j = 0; j < size; j++) sum += x[b + j];
        y[i] = sum / size;
    }

    public static void GlobalAvgBackward(Index1D i, ArrayView<float> dy, ArrayView<float> dx, int size) => dx[i] = dy[i / size] / size;

    // ---- per-channel reductions: one group per channel ----

    /// <summary>Sums <paramref name="shared"/>[0..ReduceThreads) into element 0, in a fixed tree order; every thread must call it.</summary>
    private static double GroupSum(ArrayView<double> shared, double value)
    {
        int t = Group.IdxX;
        shared[t] = value;
        Group.Barrier();
        for (int half = ReduceThreads / 2; half > 0; half /= 2)
        {
            if (t < half) shared[t] += shared[t + half];
            Group.Barrier();
        }
        double total = shared[0];
        Group.Barrier();
        return total;
    }

    /// <summary>grad[c] += Σ over n, s of dy (N, C, S): the bias gradient of a convolution.</summary>
    public static void ChannelSum(ArrayView<float> dy, ArrayView<float> grad, NormShape g)
    {
        var shared = SharedMemory.Allocate<double>(ReduceThreads);
        int c = Grid.IdxX, count = g.N * g.S;
        double sum = 0;
        for (int t = Group.IdxX; t < count; t += ReduceThreads) sum += dy[((long)(t / g.S) * g.C + c) * g.S + t % g.S];
        double total = GroupSum(shared, sum);
        if (Group.IdxX == 0) grad[c] += (float)total;
    }

    /// <summary>
    /// Training-mode batch norm of channel Grid.IdxX: batch mean and biased variance (two passes, in double), the running
    /// averages moved by momentum with the unbiased variance, the statistics saved for Backward, then y = γ·x̂ + β.
    /// </summary>
    public static void BatchNormTrain(ArrayView<float> x, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> runningMean,
        ArrayView<float> runningVar, ArrayView<float> savedMean, ArrayView<float> savedInvStd, ArrayView<float> y, NormShape g)
    {
        var shared = SharedMemory.Allocate<double>(ReduceThreads);
        int c = Grid.IdxX, count = g.N * g.S;
        double sum = 0;
        for (int t = Group.IdxX; t < count; t += ReduceThreads) sum += x[((long)(t / g.S) * g.C + c) * g.S + t % g.S];
        double mean = GroupSum(shared, sum) / count;
        double sq = 0;
        for (int t = Group.IdxX; t < count; t += ReduceThreads)
        {
            double d = x[((long)(t / g.S) * g.C + c) * g.S + t % g.S] - mean;
            sq += d * d;
        }
        double variance = GroupSum(shared, sq) / count;
        float invStd = (float)(1.0 / XMath.Sqrt(variance + g.Eps));
        float m = (float)mean;
        if (Group.IdxX == 0)
        {
            savedMean[c] = m;
            savedInvStd[c] = invStd;
            double unbiased = count > 1 ? variance * count / (count - 1) : variance;
            runningMean[c] = (float)((1 - g.Momentum) * runningMean[c] + g.Momentum * mean);
            runningVar[c] = (float)((1 - g.Momentum) * runningVar[c] + g.Momentum * unbiased);
        }
        float scale = gamma[c] * invStd, shift = beta[c];
        for (int t = Group.IdxX; t < count; t += ReduceThreads)
        {
            long k = ((long)(t / g.S) * g.C + c) * g.S + t % g.S;
            y[k] = (x[k] - m) * scale + shift;
        }
    }

    /// <summary>Evaluation-mode batch norm with the running statistics; one thread per element.</summary>
    public static void BatchNormEval(Index1D i, ArrayView<float> x, ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> runningMean,
        ArrayView<float> runningVar, ArrayView<float> y, NormShape g)
    {
        int c = i / g.S % g.C;
        float invStd = 1f / XMath.Sqrt(runningVar[c] + g.Eps);
        y[i] = (x[i] - runningMean[c]) * (gamma[c] * invStd) + beta[c];
    }

    /// <summary>Training-mode batch-norm backward of channel Grid.IdxX: γ and β gradients accumulated, dx overwritten.</summary>
    public static void BatchNormBackward(ArrayView<float> x, ArrayView<float> dy, ArrayView<float> gamma, ArrayView<float> savedMean,
        ArrayView<float> savedInvStd, ArrayView<float> dx, ArrayView<float> gammaGrad, ArrayView<float> betaGrad, NormShape g)
    {
        var shared = SharedMemory.Allocate<double>(ReduceThreads);
        int c = Grid.IdxX, count = g.N * g.S;
        float mean = savedMean[c], invStd = savedInvStd[c];
        double sumDy = 0, sumDyXhat = 0;
        for (int t = Group.IdxX; t < count; t += ReduceThreads)
        {
            long k = ((long)(t / g.S) * g.C + c) * g.S + t % g.S;
            sumDy += dy[k];
            sumDyXhat += (double)dy[k] * ((x[k] - mean) * invStd);
        }
        double totalDy = GroupSum(shared, sumDy);
        double totalDyXhat = GroupSum(shared, sumDyXhat);
        if (Group.IdxX == 0)
        {
            gammaGrad[c] += (float)totalDyXhat;
            betaGrad[c] += (float)totalDy;
        }
        float meanDy = (float)(totalDy / count), meanDyXhat = (float)(totalDyXhat / count), scale = gamma[c] * invStd;
        for (int t = Group.IdxX; t < count; t += ReduceThreads)
        {
            long k = ((long)(t / g.S) * g.C + c) * g.S + t % g.S;
            float xhat = (x[k] - mean) * invStd;
            dx[k] = scale * (dy[k] - meanDy - xhat * meanDyXhat);
        }
    }

    // ---- loss ----

    /// <summary>
    /// Fused softmax + label-smoothed cross-entropy for row i of logits (N, classes): probabilities, the row's loss,
    /// 1 when its first largest logit is at the label, and dL/dlogits = (p − q)·<paramref name="gradScale"/>.
    /// </summary>
    public static void SoftmaxCrossEntropy(Index1D i, ArrayView<float> logits, ArrayView<int> labels, ArrayView<float> probabilities,
        ArrayView<float> rowLoss, ArrayView<int> rowCorrect, ArrayView<float> grad, int classes, float smoothing, float gradScale)
    {
        long b = (long)(int)i * classes;
        float max = logits[b];
        int arg = 0;
        for (int c = 1; c < classes; c++) if (logits[b + c] > max) { max = logits[b + c]; arg = c; }
        float sum = 0;
        for (int c = 0; c < classes; c++) sum += XMath.Exp(logits[b + c] - max);
        float logSum = XMath.Log(sum);
        int label = labels[i];
        float loss = 0;
        for (int c = 0; c < classes; c++)
        {
            float logP = logits[b + c] - max - logSum;
            float p = XMath.Exp(logP);
            float q = (c == label ? 1f - smoothing : 0f) + smoothing / classes;
            loss -= q * logP;
            probabilities[b + c] = p;
            grad[b + c] = (p - q) * gradScale;
        }
        rowLoss[i] = loss;
        rowCorrect[i] = arg == label ? 1 : 0;
    }

    // ---- optimizers (PyTorch 1.13's single-tensor updates) ----

    public static void AdamUpdate(Index1D i, ArrayView<float> param, ArrayView<float> grad, ArrayView<float> expAvg, ArrayView<float> expAvgSq, AdamStep c)
    {
        float p = param[i];
        float g = c.L2WeightDecay != 0 ? p * c.L2WeightDecay + grad[i] : grad[i];
        if (c.DecoupledDecay != 1) p *= c.DecoupledDecay;
        float m = g * c.OneMinusBeta1 + expAvg[i] * c.Beta1;
        float v = expAvgSq[i] * c.Beta2 + c.OneMinusBeta2 * g * g;
        float denom = XMath.Sqrt(v) / c.BiasCorrection2Sqrt + c.Epsilon;
        expAvg[i] = m;
        expAvgSq[i] = v;
        param[i] = p + c.NegStepSize * m / denom;
    }

    public static void SgdUpdate(Index1D i, ArrayView<float> param, ArrayView<float> grad, ArrayView<float> buffer, SgdStep c)
    {
        float d = c.WeightDecay != 0 ? param[i] * c.WeightDecay + grad[i] : grad[i];
        if (c.UseMomentum != 0)
        {
            float b = buffer[i] * c.Momentum + d;
            buffer[i] = b;
            d = c.Nesterov != 0 ? b * c.Momentum + d : b;
        }
        param[i] = d * c.NegLearningRate + param[i];
    }

    /// <summary>One group: result[0] = Σ x² over the whole view (the squared global gradient norm for clipping).</summary>
    public static void SumOfSquares(ArrayView<float> x, ArrayView<float> result, int length)
    {
        var shared = SharedMemory.Allocate<double>(ReduceThreads);
        double sum = 0;
        for (int t = Group.IdxX; t < length; t += ReduceThreads) sum += (double)x[t] * x[t];
        double total = GroupSum(shared, sum);
        if (Group.IdxX == 0) result[0] = (float)total;
    }
}
