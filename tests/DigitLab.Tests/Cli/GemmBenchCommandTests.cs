// GemmBenchCommandTests: `digitlab bench kernels` is wired under `bench` and its options parse (no timing here).
using DigitLab.Cli.Commands;

namespace DigitLab.Tests.Cli;

[Collection(ConsoleCollection.Name)]
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

    [Theory]
    [InlineData("--threads", "0")]
    [InlineData("--threads", "1,x")]
    [InlineData("--reps", "0")]
    public async Task BadValueIsAnErrorNamingTheOptionNotACrashOrARun(string option, string value)
    {
        // System.CommandLine also exits 1 on an unhandled exception (printing its stack), so the message is checked too.
        var error = new StringWriter();
        var previous = Console.Error;
        int exit;
        try
        {
            Console.SetError(error);
            exit = await BenchCommand.Create().Parse(["kernels", option, value]).InvokeAsync();
        }
        finally
        {
            Console.SetError(previous);
        }
        Assert.Equal(1, exit);
        Assert.StartsWith($"error: {option}", error.ToString());
        Assert.DoesNotContain("Unhandled", error.ToString());
    }
}
