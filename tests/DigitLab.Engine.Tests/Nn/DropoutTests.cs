// Dropout: seeded determinism, identity in eval mode, inverted scaling, and gradients through the mask.
using DigitLab.Nn;
using DigitLab.Tensors;

namespace DigitLab.Tests.Nn;

public class DropoutTests
{
    [Fact]
    public void SameSeedGivesSameMasks()
    {
        var x = TestUtil.Random(new Rng(1), 8, 100);
        var a = new Dropout(0.3f);
        var b = new Dropout(0.3f);
        a.ResetParameters(new Rng(42));
        b.ResetParameters(new Rng(42));
        for (int step = 0; step < 3; step++)
            Assert.Equal(a.Forward(x).ReadOnlySpan.ToArray(), b.Forward(x).ReadOnlySpan.ToArray());
        var c = new Dropout(0.3f);
        c.ResetParameters(new Rng(43));
        Assert.NotEqual(a.Forward(x).ReadOnlySpan.ToArray(), c.Forward(x).ReadOnlySpan.ToArray());
    }

    [Fact]
    public void RestoringTheRngStateRepeatsTheMask()
    {
        var x = TestUtil.Random(new Rng(2), 4, 50);
        var d = new Dropout(0.5f);
        d.ResetParameters(new Rng(3));
        var (name, rng) = Assert.Single(d.NamedRngs());
        Assert.Equal("rng", name);
        var state = rng.GetState();
        var first = d.Forward(x).ReadOnlySpan.ToArray();
        Assert.NotEqual(first, d.Forward(x).ReadOnlySpan.ToArray());
        rng.SetState(state);
        Assert.Equal(first, d.Forward(x).ReadOnlySpan.ToArray());
    }

    [Fact]
    public void EvalIsIdentity()
    {
        var x = TestUtil.Random(new Rng(4), 3, 7);
        var d = new Dropout(0.9f);
        d.ResetParameters(new Rng(5));
        d.Eval();
        Assert.Equal(x.ReadOnlySpan.ToArray(), d.Forward(x).ReadOnlySpan.ToArray());
        var g = TestUtil.Random(new Rng(6), 3, 7);
        Assert.Equal(g.ReadOnlySpan.ToArray(), d.Backward(g).ReadOnlySpan.ToArray());
    }

    [Fact]
    public void KeepsAboutOneMinusPAndScalesByItsInverse()
    {
        const float p = 0.25f;
        const int n = 40000;
        var x = new Tensor(n);
        x.Span.Fill(1f);
        var d = new Dropout(p);
        d.ResetParameters(new Rng(7));
        var y = d.Forward(x);
        int kept = 0;
        foreach (float v in y.ReadOnlySpan)
        {
            if (v != 0f) { Assert.Equal(1f / (1f - p), v); kept++; }
        }
        // Binomial(n, 0.75): standard deviation √(n·p·(1−p)) ≈ 87; allow 5 of them.
        Assert.InRange(kept, n * (1 - p) - 5 * 87, n * (1 - p) + 5 * 87);
    }

    [Fact]
    public void GradientsMatchFiniteDifferences()
    {
        var d = new Dropout(0.4f);
        d.ResetParameters(new Rng(8));
        GradCheck.Module(d, TestUtil.Random(new Rng(9), 3, 4, 5), seed: 10);
    }

    [Fact]
    public void ExtremeProbabilities()
    {
        var x = TestUtil.Random(new Rng(11), 2, 9);
        Assert.Equal(x.ReadOnlySpan.ToArray(), new Dropout(0f).Forward(x).ReadOnlySpan.ToArray());
        Assert.All(new Dropout(1f).Forward(x).ReadOnlySpan.ToArray(), v => Assert.Equal(0f, v));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Dropout(1.5f));
        Assert.Equal("Dropout(p=0.5)", new Dropout(0.5f).ToString());
    }
}
