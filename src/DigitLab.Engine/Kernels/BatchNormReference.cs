// BatchNormReference: readable, not fast. Batch normalisation written from its definition, in double.
namespace DigitLab.Kernels;

public static class BatchNormReference
{
    /// <summary>Normalises (N, C, S) with batch statistics (training) or running statistics; updates the running ones in training.</summary>
    public static void Forward(int n, int c, int s, ReadOnlySpan<float> x, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        float eps, float momentum, bool training, Span<float> runningMean, Span<float> runningVar, Span<float> y)
    {
        int count = n * s;
        for (int ch = 0; ch < c; ch++)
        {
            double mean = 0, variance = 0;
            if (training)
            {
                for (int i = 0; i < n; i++) for (int j = 0; j < s; j++) mean += x[(i * c + ch) * s + j];
                mean /= count;
                for (int i = 0; i < n; i++) for (int j = 0; j < s; j++) variance += Math.Pow(x[(i * c + ch) * s + j] - mean, 2);
                variance /= count;
                runningMean[ch] = (float)((1 - momentum) * runningMean[ch] + momentum * mean);
                runningVar[ch] = (float)((1 - momentum) * runningVar[ch] + momentum * variance * count / (count - 1));
            }
            else
            {
                mean = runningMean[ch];
                variance = runningVar[ch];
            }
            for (int i = 0; i < n; i++)
                for (int j = 0; j < s; j++)
                {
                    int k = (i * c + ch) * s + j;
                    y[k] = (float)(gamma[ch] * (x[k] - mean) / Math.Sqrt(variance + eps) + beta[ch]);
                }
        }
    }

    /// <summary>Training-mode gradients (batch statistics): overwrites inputGrad, accumulates γ and β gradients.</summary>
    public static void BackwardTraining(int n, int c, int s, ReadOnlySpan<float> x, ReadOnlySpan<float> outputGrad, ReadOnlySpan<float> gamma,
        float eps, Span<float> inputGrad, Span<float> gammaGrad, Span<float> betaGrad)
    {
        int count = n * s;
        for (int ch = 0; ch < c; ch++)
        {
            double mean = 0, variance = 0;
            for (int i = 0; i < n; i++) for (int j = 0; j < s; j++) mean += x[(i * c + ch) * s + j];
            mean /= count;
            for (int i = 0; i < n; i++) for (int j = 0; j < s; j++) variance += Math.Pow(x[(i * c + ch) * s + j] - mean, 2);
            variance /= count;
            double invStd = 1 / Math.Sqrt(variance + eps);
            double sumDy = 0, sumDyXhat = 0;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < s; j++)
                {
                    int k = (i * c + ch) * s + j;
                    sumDy += outputGrad[k];
                    sumDyXhat += outputGrad[k] * (x[k] - mean) * invStd;
                }
            gammaGrad[ch] += (float)sumDyXhat;
            betaGrad[ch] += (float)sumDy;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < s; j++)
                {
                    int k = (i * c + ch) * s + j;
                    double xhat = (x[k] - mean) * invStd;
                    inputGrad[k] = (float)(gamma[ch] * invStd * (outputGrad[k] - sumDy / count - xhat * sumDyXhat / count));
                }
        }
    }
}
