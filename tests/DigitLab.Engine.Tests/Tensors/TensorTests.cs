using DigitLab.Tensors;

namespace DigitLab.Tests;

public class TensorTests
{
    [Fact]
    public void ViewWithWrongLengthNamesBothShapes()
    {
        var t = new Tensor(2, 3);
        var ex = Assert.Throws<ArgumentException>(() => t.View(4, 2));
        Assert.Contains("(2, 3)", ex.Message);
        Assert.Contains("(4, 2)", ex.Message);
    }

    [Fact]
    public void ResizeReusesLargerBuffer()
    {
        var t = new Tensor(4, 10);
        var data = t.Data;
        t.Resize(2, 10);
        Assert.Same(data, t.Data);
        Assert.Equal(20, t.Length);
    }

    [Fact]
    public void RngStateRoundTripsExactly()
    {
        var a = new Rng(42);
        for (int i = 0; i < 10; i++) a.NextUInt64();
        var b = new Rng(0);
        b.SetState(a.GetState());
        for (int i = 0; i < 100; i++) Assert.Equal(a.NextUInt64(), b.NextUInt64());
    }
}
