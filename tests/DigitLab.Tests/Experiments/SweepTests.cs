using DigitLab.Reports;
using DigitLab.Training;
using DigitLab.Experiments;
using DigitLab.Evaluation;

using DigitLab.Tests.Data;

namespace DigitLab.Tests.Experiments;

public class SweepTests
{
    private static RunLog Quick(SweepTrial t) => new()
    {
        Model = t.Model,
        Epochs = [new EpochRecord(1, 0.1, 0.9 + t.LearningRate, 0.1, 0.9, t.LearningRate, 1)],
        Test = new EvaluationResult { Accuracy = 0.95 + t.LearningRate },
    };

    [Fact]
    public void PlanIsTheCrossProductWithDistinctKeys()
    {
        var plan = new SweepPlan(["mlp", "lenet5"], [0.02, 0.01, 0.0002, 0.0001], [64], [1000, null], 10, 1);
        var trials = plan.Trials().ToList();
        Assert.Equal(2 * 4 * 2, trials.Count);
        Assert.Equal(trials.Count, trials.Select(t => t.Key).Distinct().Count());
        Assert.Equal("mlp_adam_lr0.0002_bs64_n1000_e10_s1", trials.Single(t => t.Model == "mlp" && t.LearningRate == 0.0002 && t.TrainSize == 1000).Key);
    }

    [Fact]
    public void ARerunWithAnotherValidationCountOrDatasetDoesNotReuseTheResults()
    {
        string dir = Path.Combine(Path.GetTempPath(), "digitlab-sweep-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var mnist = new SweepPlan(["mlp"], [0.01], [64], [null], 1, 1).Trials().ToList();
            var fewerHeldOut = new SweepPlan(["mlp"], [0.01], [64], [null], 1, 1, ValidationCount: 1000).Trials().ToList();
            var fashion = new SweepPlan(["mlp"], [0.01], [64], [null], 1, 1, Dataset: "fashion").Trials().ToList();
            Assert.Equal("mlp_adam_lr0.01_bs64_nall_e1_s1", mnist[0].Key); // the defaults keep earlier sweeps' file names
            Assert.Equal("mlp_adam_lr0.01_bs64_nall_e1_s1_v1000", fewerHeldOut[0].Key);
            Assert.Equal("mlp_adam_lr0.01_bs64_nall_e1_s1_fashion", fashion[0].Key);

            var ran = new List<SweepTrial>();
            foreach (var trials in new[] { mnist, fewerHeldOut, fashion, mnist })
                SweepRunner.Run(trials, dir, (t, ct) => { ran.Add(t); return Quick(t); });
            Assert.Equal([mnist[0], fewerHeldOut[0], fashion[0]], ran); // the last rerun of mnist found its own result
            Assert.Equal(3, Directory.GetFiles(dir, "trial-*.json").Length);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void ReportKeepsTrialsOfAnotherOptimizerDatasetOrValidationOnTheirOwnLines()
    {
        // Four sweeps over the same learning rates that differ only in one rarely changed setting: four pivot rows.
        var plans = new[]
        {
            new SweepPlan(["mlp"], [0.01, 0.001], [64], [null], 1, 1),
            new SweepPlan(["mlp"], [0.01, 0.001], [64], [null], 1, 1, Optimizer: "sgd"),
            new SweepPlan(["mlp"], [0.01, 0.001], [64], [null], 1, 1, ValidationCount: 1000),
            new SweepPlan(["mlp"], [0.01, 0.001], [64], [null], 1, 1, Dataset: "fashion"),
        };
        var data = new ReportData { Sweep = plans.SelectMany(p => p.Trials()).Select(t => new SweepTrialResult { Trial = t, Run = Quick(t) }).ToList() };
        using var dir = new DigitLab.Tests.Data.SyntheticData.TempDir();
        ReportBuilder.Write(data, dir.Path);
        var rows = File.ReadAllLines(Path.Combine(dir.Path, "data", "sweep-lr-test.csv"));
        Assert.Equal(1 + plans.Length, rows.Length);
        Assert.Single(rows, r => r.Contains("sgd"));
        Assert.Single(rows, r => r.Contains("val 1000"));
        Assert.Single(rows, r => r.Contains("fashion"));
    }

    [Fact]
    public void InterruptedSweepResumesAndSkipsFinishedTrials()
    {
        string dir = Path.Combine(Path.GetTempPath(), "digitlab-sweep-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            var trials = new SweepPlan(["mlp", "lenet5"], [0.01, 0.001], [64], [null], 1, 1).Trials().ToList();
            var ran = new List<string>();
            using var cts = new CancellationTokenSource();
            // First run: the third trial is interrupted part-way (returns null), so only two are saved.
            var first = SweepRunner.Run(trials, dir, (t, ct) =>
            {
                if (ran.Count == 2) { cts.Cancel(); return null; }
                ran.Add(t.Key);
                return Quick(t);
            }, cancellationToken: cts.Token);
            Assert.Equal(2, first.Count);
            Assert.Equal(2, Directory.GetFiles(dir, "trial-*.json").Length);

            // Second run: the two finished trials are skipped, the other two run.
            var skipped = new List<string>();
            ran.Clear();
            var second = SweepRunner.Run(trials, dir, (t, ct) => { ran.Add(t.Key); return Quick(t); }, (t, skip) => { if (skip) skipped.Add(t.Key); });
            Assert.Equal(trials.Take(2).Select(t => t.Key), skipped);
            Assert.Equal(trials.Skip(2).Select(t => t.Key), ran);
            Assert.Equal(4, second.Count);
            Assert.Equal(trials, second.Select(r => r.Trial));

            // Third run: nothing left to do; the saved numbers come back unchanged.
            ran.Clear();
            var third = SweepRunner.Run(trials, dir, (t, ct) => { ran.Add(t.Key); return Quick(t); });
            Assert.Empty(ran);
            Assert.Equal(second.Select(r => r.Run.Test!.Accuracy), third.Select(r => r.Run.Test!.Accuracy));

            // A damaged file counts as unfinished and is run again.
            File.WriteAllText(SweepRunner.TrialPath(dir, trials[1]), "{ not json");
            var fourth = SweepRunner.Run(trials, dir, (t, ct) => { ran.Add(t.Key); return Quick(t); });
            Assert.Equal([trials[1].Key], ran);
            Assert.Equal(4, fourth.Count);
        }
        finally { if (Directory.Exists(dir)) Directory.Delete(dir, true); }
    }

    [Fact]
    public void SweepTableHasOneRowPerTrialWithItsAccuracies()
    {
        var results = new SweepPlan(["mlp"], [0.01, 0.001], [64], [null], 1, 1).Trials()
            .Select(t => new SweepTrialResult { Trial = t, Run = Quick(t) }).ToList();
        var table = SweepTable.Create(results);
        Assert.Equal(2, table.Rows.Count);
        var row = table.Rows.Single(r => (double)r[1]! == 0.001);
        Assert.Equal(0.951, (double)row[7]!);
        Assert.Equal(0.901, (double)row[5]!);
    }
}
