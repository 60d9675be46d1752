// GemmBenchCommandTests: `digitlab bench kernels` is wired under `bench` and its options parse (no timing here).
using DigitLab.Cli.Commands;

namespace DigitLab.Tests.Kernels;

public class GemmBenchCommandTests
{
    [Fact]
    public void BenchHasKernelsSubcommandWithItsOptions()
    {
        var bench = BenchCommand.Create();
        Assert.Equal("bench", bench.Name);
        var kernels = Assert.Single(bench.Subcommands, c => c.Name == "kernels");
        var result = bench.Parse("kernels --threads 1,2 --reps 3 --large --kernel Avx2");
        Assert.Empty(result.Errors);
        Assert.Contains(kernels.Options, o => o.Name == "--threads");
    }

    [Fact]
    public void UnknownKernelIsAParseError()
    {
        var result = BenchCommand.Create().Parse("kernels --kernel Sse9");
        Assert.NotEmpty(result.Errors);
    }
}
