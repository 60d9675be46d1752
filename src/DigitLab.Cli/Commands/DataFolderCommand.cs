// `digitlab data folder OUT`: writes MNIST images as an image folder (clean PNGs or photo-like PNG/JPEG), to try folder datasets and the photo path.
using System.CommandLine;
using DigitLab.Data;

namespace DigitLab.Cli.Commands;

internal static class DataFolderCommand
{
    public static Command Create()
    {
        var output = new Argument<string>("OUT") { Description = "Folder to write: OUT/0 … OUT/9 (or OUT/SPLIT/0 … with --split)" };
        var count = new Option<int>("--count") { Description = "How many images: the first N of the source set", DefaultValueFactory = _ => 1000 };
        var style = new Option<string>("--style")
        {
            Description = "clean: MNIST's own 28x28 bytes as PNG; photo: dark ink on shaded paper with a shadow, noise and a tilt, 96-160 px, every 2nd a JPEG, every 3rd in colour",
            DefaultValueFactory = _ => "clean",
        };
        style.AcceptOnlyFromAmong("clean", "photo");
        var split = new Option<string?>("--split") { Description = "Write under OUT/train or OUT/test (default: OUT itself, no split)" };
        split.AcceptOnlyFromAmong("train", "test");
        var from = new Option<string>("--from") { Description = "Source set: MNIST's test or train images", DefaultValueFactory = _ => "test" };
        from.AcceptOnlyFromAmong("test", "train");
        var seed = new Option<ulong>("--seed") { Description = "Seed of the photo rendering", DefaultValueFactory = _ => 1UL };
        var dataDir = CliCommon.DataDirOption();
        var command = new Command("folder", "Write MNIST images as an image folder (ImageFolder convention), clean or photo-like, for --dataset folder:PATH and predict DIR")
        {
            output, count, style, split, from, seed, dataDir,
        };
        command.SetAction((parse, ct) => CliCommon.RunAsync(async () =>
        {
            int n = parse.GetValue(count);
            if (n < 1) throw new ArgumentException($"--count must be at least 1, found {n}.");
            var data = await CliCommon.LoadDataAsync(parse.GetValue(dataDir), DatasetKind.Mnist, quiet: true, ct);
            var source = parse.GetValue(from) == "train" ? data.Train : data.Test;
            if (n > source.Count) throw new ArgumentException($"--count must be at most {source.Count:N0} (the images of {source.Name}), found {n}.");
            var folderStyle = parse.GetValue(style) == "photo" ? FolderStyle.Photo : FolderStyle.Clean;
            string root = parse.GetValue(output)!;
            var paths = FolderGenerator.Write(source, root, n, folderStyle, parse.GetValue(seed), parse.GetValue(split));
            Console.WriteLine($"Wrote {paths.Count:N0} {parse.GetValue(style)} images of {source.Name} to {Path.GetFullPath(parse.GetValue(split) is { } s ? Path.Combine(root, s) : root)}");
            return 0;
        }));
        return command;
    }
}
