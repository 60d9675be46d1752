using System.CommandLine;
using System.Text.Json;
using DigitLab.Cli.Commands;
using DigitLab.Reports;
using DigitLab.IO;

namespace DigitLab.Tests.Data;

/// <summary>`digitlab data` end to end on the real MNIST in the default data directory (fetched by the real fetcher if missing).</summary>
[Collection(ConsoleCollection.Name)]
public class DataCommandTests
{
    [Fact]
    public async Task JsonReportAndGridForOneDigit()
    {
        new DigitLab.Data.DatasetStore().Ensure(); // fetch first if this is the first test to need the data
        using var dir = new SyntheticData.TempDir();
        string grid = dir.File("sevens.png");
        var output = new StringWriter();
        var previous = Console.Out;
        int exit;
        try
        {
            Console.SetOut(output);
            exit = await DataCommand.Create().Parse(["--json", "--out", grid, "--digit", "7", "--rows", "2", "--per-row", "3", "--zoom", "1"]).InvokeAsync();
        }
        finally
        {
            Console.SetOut(previous);
        }
        Assert.Equal(0, exit);
        using var json = JsonDocument.Parse(output.ToString());
        var root = json.RootElement;
        Assert.Equal("mnist", root.GetProperty("dataset").GetString());
        Assert.Equal(6265, root.GetProperty("train").GetProperty("classCounts")[7].GetInt32());
        Assert.Equal(1009, root.GetProperty("test").GetProperty("classCounts")[9].GetInt32());
        Assert.Equal(grid, root.GetProperty("grid").GetString());
        // The second and later runs find the verified files: no fetch.
        Assert.Equal("store", root.GetProperty("source").GetString());

        var png = PngReader.Read(grid);
        Assert.Equal((4 * 28 + 5 * 2, 2 * 28 + 3 * 2), (png.Width, png.Height));
    }

    [Fact]
    public async Task BadDigitIsAnErrorNotACrash()
    {
        var error = new StringWriter();
        var previous = Console.Error;
        int exit;
        try
        {
            Console.SetError(error);
            exit = await DataCommand.Create().Parse(["--digit", "12", "--out", "/tmp/never.png"]).InvokeAsync();
        }
        finally
        {
            Console.SetError(previous);
        }
        Assert.Equal(1, exit);
        Assert.Contains("--digit must be 0..9, found 12", error.ToString());
    }

    [Theory]
    [InlineData("--per-row", "0", "--per-row must be at least 1, found 0")]
    [InlineData("--rows", "-2", "--rows must be at least 1, found -2")]
    [InlineData("--zoom", "17", "--zoom must be 1..16, found 17")]
    public async Task BadGridOptionIsNamedBeforeAnythingIsLoaded(string option, string value, string message)
    {
        // A data dir that does not exist: the option check must come first, or this would try to fetch.
        string never = Path.Combine(Path.GetTempPath(), "digitlab-never-" + Guid.NewGuid().ToString("N"));
        var error = new StringWriter();
        var previous = Console.Error;
        int exit;
        try
        {
            Console.SetError(error);
            exit = await DataCommand.Create().Parse(["--data-dir", never, "--digit", "3", "--out", Path.Combine(never, "g.png"), option, value]).InvokeAsync();
        }
        finally
        {
            Console.SetError(previous);
        }
        Assert.Equal(1, exit);
        Assert.Contains(message, error.ToString());
        Assert.False(Directory.Exists(never), "the command touched the data directory before checking its options");
    }
}
