// SweepCommand: `digitlab sweep` trains a grid of (model × learning rate × batch size × training-set size), resumably.
using System.CommandLine;
using System.Globalization;
using DigitLab.Cluster;
using DigitLab.Data;
using DigitLab.Interop;
using DigitLab.Models;
using DigitLab.Reports;
using DigitLab.Training;
using Spectre.Console;
using DigitLab.IO;
using DigitLab.Evaluation;
using DigitLab.Experiments;

namespace DigitLab.Cli.Commands;

internal static class SweepCommand
{
    public static Command Create()
    {
        var defaults = new TrainerOptions();
        var models = new Option<string>("--models") { Description = $"Comma-separated architectures ({string.Join(", ", ModelZoo.Names)})", DefaultValueFactory = _ => "mlp,lenet5" };
        var lrs = new Option<string>("--lr") { Description = "Learning rates, comma-separated", DefaultValueFactory = _ => "0.02,0.01,0.0002,0.0001" };
        var batchSizes = new Option<string>("--batch-sizes") { Description = "Batch sizes, comma-separated", DefaultValueFactory = _ => defaults.BatchSize.ToString(CultureInfo.InvariantCulture) };
        var trainSizes = new Option<string>("--train-sizes") { Description = "Training-set sizes (stratified subsets), comma-separated; 'all' for the whole set", DefaultValueFactory = _ => "all" };
        var epochs = new Option<int>("--epochs") { Description = "Epochs per trial", DefaultValueFactory = _ => 10 };
        var optimizer = new Option<string>("--optimizer") { Description = "Optimizer: adam or sgd", DefaultValueFactory = _ => RecipeChoices.Name(defaults.Optimizer) };
        var validation = new Option<int>("--validation") { Description = "Training images held out for validation (stratified)", DefaultValueFactory = _ => defaults.ValidationCount };
        var seed = new Option<ulong>("--seed") { Description = "Seed for every trial (init, shuffling, subsets)", DefaultValueFactory = _ => defaults.Seed };
        var threads = new Option<int>("--threads") { Description = "Kernel threads; 0 = all cores", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Folder for one trial-*.json per finished trial (rerun to resume) and sweep.csv/json", DefaultValueFactory = _ => Path.Combine("runs", "sweep") };
        var tensorboard = TrainCommand.TensorBoardOption("one run folder per trial, named by its key (DIR/mlp_adam_lr0.01_bs64_nall_e10_s1)");
        var cluster = ClusterCli.ClusterOption();
        var checkpoints = new Option<bool>("--checkpoints") { Description = "Also keep each trial's checkpoint (trial-*.safetensors beside its trial-*.json)" };
        var data = new DataOptions(folders: true);

        var command = new Command("sweep", "Train every combination of models, learning rates, batch sizes and training-set sizes; print train/validation/test accuracy. Finished trials are kept and skipped on rerun")
        {
            models, lrs, batchSizes, trainSizes, epochs, optimizer, validation, seed, threads, output, tensorboard, cluster, checkpoints,
        };
        data.AddTo(command);
        command.SetAction(r => ModelCli.Run(() =>
        {
            var names = r.GetValue(models)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(n => n.ToLowerInvariant()).ToList();
            var plan = new SweepPlan(
                names,
                ReportCommand.ParseList(r.GetValue(lrs)!, "--lr", double.Parse),
                ReportCommand.ParseList(r.GetValue(batchSizes)!, "--batch-sizes", int.Parse),
                ReportCommand.ParseList(r.GetValue(trainSizes)!, "--train-sizes", (s, p) => s.Equals("all", StringComparison.OrdinalIgnoreCase) ? (int?)null : int.Parse(s, p)),
                r.GetValue(epochs), r.GetValue(seed), RecipeChoices.Name(RecipeChoices.Parse<OptimizerKind>(r.GetValue(optimizer), "--optimizer")),
                r.GetValue(validation), data.Source(r).ToString());
            if (plan.Models.Count == 0 || plan.LearningRates.Count == 0 || plan.BatchSizes.Count == 0 || plan.TrainSizes.Count == 0)
                throw new ArgumentException("--models, --lr, --batch-sizes and --train-sizes each need at least one value.");
            int validationCount = plan.ValidationCount;
            var trials = plan.Trials().ToList();
            // Validate every trial's recipe before any training, so a typo fails at once rather than hours in.
            foreach (var t in trials) Recipe(t, r.GetValue(threads)).Validate();
            if (plan.TrainSizes.Any(n => n is < 10))
                throw new ArgumentException("--train-sizes: each size must be at least 10 images (or 'all').");

            string outDir = r.GetValue(output)!;
            // On a cluster each worker reads and verifies its own copy of the data; in-process, the embedded silo shares this one.
            Func<ITrialData>? embeddedData = null;
            if (r.GetValue(cluster) is null)
            {
                var source = data.Source(r);
                var (trainAll, testSet) = data.Load(r, source, quiet: false);
                var test = testSet ?? throw new ArgumentException($"{source} has no test/ folder: a sweep tests every trial on the same held-out images, so put them in PATH/test/0 … PATH/test/9 (and training ones in PATH/train/…).");
                int trainCount = validationCount > 0 ? trainAll.Count - validationCount : trainAll.Count;
                if (plan.TrainSizes.Any(n => n > trainCount))
                    throw new ArgumentException($"--train-sizes: the training set has {trainCount:N0} images after holding out {validationCount:N0} for validation; use sizes up to that.");
                embeddedData = () => new LoadedTrialData(plan.Dataset, trainAll, test);
            }

            using var cts = new CancellationTokenSource();
            ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); Console.Error.WriteLine("Stopping; finished trials are kept (rerun to resume)."); };
            Console.CancelKeyPress += onCancel;
            ClusterSweepOutcome outcome;
            try { outcome = ClusterCli.RunSweep(trials, outDir, r.GetValue(threads), r.GetValue(checkpoints), r.GetValue(cluster), embeddedData, cts.Token, r.GetValue(tensorboard)); }
            finally { Console.CancelKeyPress -= onCancel; }
            var results = outcome.Results;

            var table = SweepTable.Create(results);
            AtomicFile.WriteAllText(Path.Combine(outDir, "sweep.csv"), table.ToCsv());
            AtomicFile.WriteAllText(Path.Combine(outDir, "sweep-table.json"), table.ToJson());
            var shown = new Table().Border(TableBorder.Rounded).Title($"{plan.Epochs} epochs, {plan.Optimizer}, seed {plan.Seed}");
            // The console shows the columns the studies print; sweep.csv has them all.
            var columns = new[] { "model", "lr", "batch size", "train size", "train acc", "val acc", "test acc", "time" }
                .Select(n => table.Columns.ToList().FindIndex(c => c.Name == n)).ToArray();
            foreach (int c in columns) shown.AddColumn(new TableColumn(table.Columns[c].Name) { Alignment = c == 0 ? Justify.Left : Justify.Right });
            foreach (var row in table.Rows) shown.AddRow(columns.Select(c => Markup.Escape(ReportTable.FormatCell(row[c], table.Columns[c].Format))).ToArray());
            AnsiConsole.Write(shown);
            AnsiConsole.MarkupLine($"{results.Count} of {trials.Count} trials finished; results in {Markup.Escape(outDir)} (report: digitlab report --runs {Markup.Escape(outDir)})");
            foreach (var (trial, error) in outcome.Failures)
                Console.Error.WriteLine($"error: trial {trial.Key} failed: {error}");
            return results.Count == trials.Count ? 0 : outcome.Failures.Count > 0 ? 1 : 130;
        }));
        return command;
    }

    /// <summary>The trial's recipe; one definition, shared with the workers that run it.</summary>
    private static TrainerOptions Recipe(SweepTrial t, int threads) => TrialExecution.Recipe(t, threads);
}
