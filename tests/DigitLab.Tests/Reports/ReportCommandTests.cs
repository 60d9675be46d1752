// ReportCommandTests: `digitlab report` refuses bad option values with a line naming the option, before reading any run.
using DigitLab.Cli.Commands;

namespace DigitLab.Tests.Reports;

[Collection(ConsoleCollection.Name)]
public class ReportCommandTests
{
    [Theory]
    [InlineData("--tsne-points", "-3", "--tsne-points: each map needs at least 10 points (or 0 for none), found -3")]
    [InlineData("--tsne-points", "1000,5", "--tsne-points: each map needs at least 10 points (or 0 for none), found 5")]
    [InlineData("--tsne-points", "ten", "--tsne-points: 'ten' is not a valid value")]
    [InlineData("--tsne-iterations", "0", "--tsne-iterations must be at least 1, found 0")]
    public async Task BadValueIsNamed(string option, string value, string message)
    {
        using var runs = new Data.SyntheticData.TempDir();
        var error = new StringWriter();
        var previous = Console.Error;
        int exit;
        try
        {
            Console.SetError(error);
            exit = await ReportCommand.Create().Parse(["--runs", runs.Path, "--out", runs.File("report"), option, value]).InvokeAsync();
        }
        finally
        {
            Console.SetError(previous);
        }
        Assert.Equal(1, exit);
        Assert.Contains(message, error.ToString());
        Assert.False(Directory.Exists(runs.File("report")), "the report was written despite the bad option");
    }
}
