// `digitlab data`: fetch and verify a dataset, print its statistics, optionally write a PNG grid of samples.
using System.CommandLine;
using System.Text.Json;
using DigitLab.Data;
using DigitLab.Reports;
using Spectre.Console;
using DigitLab.IO;

namespace DigitLab.Cli.Commands;

internal static class DataCommand
{
    public static Command Create()
    {
        var dataDir = CliCommon.DataDirOption();
        var dataset = CliCommon.DatasetOption();
        var json = CliCommon.JsonOption();
        var output = new Option<string?>("--out") { Description = "Write a PNG grid of sample images with their labels to this file" };
        var digit = new Option<int?>("--digit") { Description = "Only this class (0..9) in the grid" };
        var perRow = new Option<int>("--per-row") { Description = "Samples per grid row", DefaultValueFactory = _ => 10 };
        var rows = new Option<int>("--rows") { Description = "Rows in the grid when --digit is given", DefaultValueFactory = _ => 5 };
        var split = new Option<string>("--split") { Description = "Which set the grid shows: train or test", DefaultValueFactory = _ => "train" };
        split.AcceptOnlyFromAmong("train", "test");
        var zoom = new Option<int>("--zoom") { Description = "Grid pixel size (1 = 28 px per image)", DefaultValueFactory = _ => 2 };
        var seed = new Option<ulong>("--seed") { Description = "Seed for picking (and augmenting) the grid's samples", DefaultValueFactory = _ => 1UL };
        var augment = new Option<string>("--augment") { Description = "Show the grid's samples augmented as training would: none, affine, elastic, affine+elastic or robust (affine plus noise, speckles, blur, lighting, clutter or stroke width on half the images)", DefaultValueFactory = _ => "none" };
        augment.AcceptOnlyFromAmong("none", "affine", "elastic", "affine+elastic", "robust");

        var command = new Command("data", "Fetch and verify the dataset (SHA-256), print per-class counts and pixel statistics, optionally write a sample grid")
        {
            dataDir, dataset, json, output, digit, perRow, rows, split, zoom, seed, augment,
        };
        command.Subcommands.Add(DataFolderCommand.Create());
        command.SetAction((parse, ct) => CliCommon.RunAsync(async () =>
        {
            bool asJson = parse.GetValue(json);
            int? onlyDigit = parse.GetValue(digit);
            if (onlyDigit is < 0 or > 9) throw new ArgumentException($"--digit must be 0..9, found {onlyDigit}.");
            // The grid's options are checked before the (possibly slow) fetch, and named as the user typed them.
            int samplesPerRow = parse.GetValue(perRow), gridRows = parse.GetValue(rows), pixelZoom = parse.GetValue(zoom);
            if (samplesPerRow < 1) throw new ArgumentException($"--per-row must be at least 1, found {samplesPerRow}.");
            if (gridRows < 1) throw new ArgumentException($"--rows must be at least 1, found {gridRows}.");
            if (pixelZoom is < 1 or > SampleGrid.MaxZoom) throw new ArgumentException($"--zoom must be 1..{SampleGrid.MaxZoom}, found {pixelZoom}.");
            var data = await CliCommon.LoadDataAsync(parse.GetValue(dataDir), CliCommon.Kind(parse, dataset), asJson, ct);

            string? gridPath = parse.GetValue(output);
            if (gridPath is not null)
            {
                var source = parse.GetValue(split) == "test" ? data.Test : data.Train;
                int[] labels = onlyDigit is int d ? Enumerable.Repeat(d, gridRows).ToArray() : Enumerable.Range(0, 10).ToArray();
                var options = AugmentationOptions.Parse(parse.GetValue(augment) ?? "none");
                var grid = SampleGrid.Render(source, labels, samplesPerRow, parse.GetValue(seed), pixelZoom,
                    options is null ? null : new Augmenter(options));
                PngWriter.WriteGrey(gridPath, grid.Width, grid.Height, grid.Pixels);
                gridPath = Path.GetFullPath(gridPath);
            }

            if (asJson) PrintJson(data, gridPath);
            else PrintTables(data, gridPath);
            return 0;
        }));
        return command;
    }

    private static object Stats(MnistDataset set) => new
    {
        name = set.Name,
        count = set.Count,
        classCounts = set.ClassCounts(),
        pixelMean = Math.Round(set.PixelMean(), 6),
        pixelStd = Math.Round(set.PixelStd(), 6),
    };

    private static void PrintJson(LoadedData data, string? gridPath)
    {
        var report = new
        {
            dataset = data.Spec.Id,
            source = data.Source.Source.ToString().ToLowerInvariant(),
            sourceDetail = data.Source.Detail,
            directory = data.Source.Directory,
            classNames = data.Spec.ClassNames,
            train = Stats(data.Train),
            test = Stats(data.Test),
            grid = gridPath,
        };
        Console.WriteLine(JsonSerializer.Serialize(report, CliCommon.Json));
    }

    private static void PrintTables(LoadedData data, string? gridPath)
    {
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(data.Spec.DisplayName)}[/], all four files verified by SHA-256.");
        AnsiConsole.MarkupLine($"Source: {Markup.Escape(data.SourceLine)}");
        var trainCounts = data.Train.ClassCounts();
        var testCounts = data.Test.ClassCounts();
        bool named = data.Spec.ClassNames.Any(n => n.Length > 1);
        var table = new Table().Border(TableBorder.Rounded).Title("Images per class");
        table.AddColumn("Class");
        if (named) table.AddColumn("Name");
        table.AddColumn(new TableColumn("Train").RightAligned());
        table.AddColumn(new TableColumn("Test").RightAligned());
        for (int c = 0; c < MnistDataset.Classes; c++)
        {
            var cells = new List<string> { c.ToString() };
            if (named) cells.Add(Markup.Escape(data.Spec.ClassNames[c]));
            cells.Add(trainCounts[c].ToString("N0"));
            cells.Add(testCounts[c].ToString("N0"));
            table.AddRow(cells.ToArray());
        }
        var totals = new List<string> { "[bold]total[/]" };
        if (named) totals.Add("");
        totals.Add($"[bold]{data.Train.Count:N0}[/]");
        totals.Add($"[bold]{data.Test.Count:N0}[/]");
        table.AddRow(totals.ToArray());
        AnsiConsole.Write(table);

        var stats = new Table().Border(TableBorder.Rounded).Title("Pixels (scaled to [[0, 1]])");
        stats.AddColumn("Set");
        stats.AddColumn(new TableColumn("Mean").RightAligned());
        stats.AddColumn(new TableColumn("Std").RightAligned());
        foreach (var set in new[] { data.Train, data.Test })
            stats.AddRow(Markup.Escape(set.Name), set.PixelMean().ToString("F4"), set.PixelStd().ToString("F4"));
        AnsiConsole.Write(stats);
        if (gridPath is not null) AnsiConsole.MarkupLine($"Sample grid written to [green]{Markup.Escape(gridPath)}[/]");
    }
}
