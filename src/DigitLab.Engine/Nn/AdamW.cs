// AdamW: Adam with decoupled weight decay, as torch.optim.AdamW (1.13, amsgrad off).
namespace DigitLab.Nn;

/// <summary>
/// AdamW as PyTorch 1.13 defines it: p *= 1 - lr·wd, then the Adam update with no L2 term in the gradient.
/// </summary>
/// <remarks>
/// The default weight decay is PyTorch's 0.01. Same state names as <see cref="Adam"/>
/// ("exp_avg.{name}", "exp_avg_sq.{name}").
/// </remarks>
public sealed class AdamW(IEnumerable<(string Name, Parameter Parameter)> parameters, double lr = 1e-3,
    double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0.01)
    : Adam(parameters, lr, beta1, beta2, eps, weightDecay, decoupledWeightDecay: true);
