// TensorBoardTests: event files read back with the generated parser; every CRC checked; values equal the run log; truncation.
using System.Buffers.Binary;
using System.Text;
using DigitLab.Data;
using DigitLab.Interop;
using DigitLab.Reports;
using DigitLab.Tests.Data;
using DigitLab.Training;
using Google.Protobuf;
using Tensorboard;
using Tensorboard.Hparams;
using DigitLab.IO;
using DigitLab.Experiments;

using DigitLab.Runtime;

namespace DigitLab.Tests.Interop;

/// <summary>Reads event files the way the tests check them.</summary>
internal static class EventFiles
{
    /// <summary>The single event file in <paramref name="runDirectory"/>.</summary>
    public static string Single(string runDirectory) => Assert.Single(Directory.GetFiles(runDirectory, "events.out.tfevents.*"));

    /// <summary>Every event of a file whose records all pass their CRCs (the read must end <see cref="TfRecordEnd.Complete"/>).</summary>
    public static List<Event> ReadComplete(string path)
    {
        var file = TfRecord.ReadAll(path);
        Assert.Equal(TfRecordEnd.Complete, file.End);
        Assert.Equal(new FileInfo(path).Length, file.ValidBytes);
        return file.Records.Select(Event.Parser.ParseFrom).ToList();
    }

    /// <summary>(step, value) of every scalar with <paramref name="tag"/>, in file order.</summary>
    public static List<(long Step, float Value)> Scalars(IEnumerable<Event> events, string tag) =>
        events.Where(e => e.Summary is not null).SelectMany(e => e.Summary.Value.Where(v => v.Tag == tag).Select(v => (e.Step, v.SimpleValue))).ToList();

    public static List<(long Step, Summary.Types.Value Value)> Values(IEnumerable<Event> events, string tag) =>
        events.Where(e => e.Summary is not null).SelectMany(e => e.Summary.Value.Where(v => v.Tag == tag).Select(v => (e.Step, v))).ToList();

    public static HParamsPluginData PluginData(IEnumerable<Event> events, string tag)
    {
        var value = Assert.Single(Values(events, tag)).Value;
        Assert.Equal(HParamsTags.PluginName, value.Metadata.PluginData.PluginName);
        return HParamsPluginData.Parser.ParseFrom(value.Metadata.PluginData.Content);
    }

    /// <summary>Asserts that a run's event file holds exactly the run log's figures.</summary>
    public static void AssertMatchesRunLog(List<Event> events, RunLog log)
    {
        Assert.Equal(EventFileWriter.FileVersion, events[0].FileVersion);
        Assert.All(events, e => Assert.InRange(e.WallTime, 1.7e9, 4e9)); // seconds since 1970, not milliseconds
        var batch = Scalars(events, "loss/train_batch");
        Assert.Equal(log.BatchLosses.Count, batch.Count);
        for (int i = 0; i < batch.Count; i++)
        {
            Assert.Equal((long)(i + 1) * log.BatchLossInterval, batch[i].Step);
            Assert.Equal((float)log.BatchLosses[i], batch[i].Value);
        }
        void PerEpoch(string tag, Func<EpochRecord, double?> field)
        {
            var expected = log.Epochs.Where(e => field(e) is not null).Select(e => (long)e.Epoch).ToList();
            var found = Scalars(events, tag);
            Assert.Equal(expected, found.Select(s => s.Step));
            foreach (var (step, value) in found) Assert.Equal((float)field(log.Epochs[(int)step - 1])!.Value, value);
        }
        PerEpoch("loss/train", e => e.TrainLoss);
        PerEpoch("accuracy/train", e => e.TrainAccuracy);
        PerEpoch("loss/validation", e => e.ValidationLoss);
        PerEpoch("accuracy/validation", e => e.ValidationAccuracy);
        PerEpoch("learning_rate", e => e.LearningRate);
        PerEpoch("epoch_seconds", e => e.Seconds);
        var test = log.Test!;
        Assert.Equal([((long)log.Epochs.Count, (float)test.Accuracy)], Scalars(events, "accuracy/test"));
        Assert.Equal([((long)log.Epochs.Count, (float)test.Loss)], Scalars(events, "loss/test"));

        var start = PluginData(events, HParamsTags.SessionStart).SessionStartInfo;
        Assert.Equal(log.Model, start.Hparams["model"].StringValue);
        // Every recipe field the run log's JSON holds, by the same name and value.
        var recipe = System.Text.Json.JsonSerializer.SerializeToElement(log.Recipe, DigitLab.IO.DigitLabJson.Options);
        foreach (var field in recipe.EnumerateObject().Where(f => f.Value.ValueKind != System.Text.Json.JsonValueKind.Null))
        {
            var v = start.Hparams[field.Name];
            object shown = v.KindCase switch
            {
                Google.Protobuf.WellKnownTypes.Value.KindOneofCase.NumberValue => v.NumberValue,
                Google.Protobuf.WellKnownTypes.Value.KindOneofCase.BoolValue => v.BoolValue,
                _ => v.StringValue,
            };
            object expected = field.Value.ValueKind switch
            {
                System.Text.Json.JsonValueKind.Number => field.Value.GetDouble(),
                System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False => field.Value.GetBoolean(),
                _ => field.Value.GetString()!,
            };
            Assert.Equal(expected, shown);
        }
        Assert.Equal(log.Complete ? Status.Success : Status.Failure, PluginData(events, HParamsTags.SessionEnd).SessionEndInfo.Status);
    }
}

public class TensorBoardTests
{
    [Fact]
    public void Crc32CMatchesTheStandardAndTensorBoardsOwnVectors()
    {
        Assert.Equal(0xE3069283u, TfRecord.Crc32C(Encoding.ASCII.GetBytes("123456789"))); // the CRC-32C check value
        // tensorboard/data/server/masked_crc.rs: a file_version event's bytes, and 32 zero bytes (mask applied by hand).
        Assert.Equal(0x5794d08au, TfRecord.MaskedCrc32C([0x1a, 0x11, .. "CRC test, one two"u8]));
        uint zeros = 0x8a9136aau;
        Assert.Equal(((zeros >> 15) | (zeros << 17)) + 0xa282ead8u, TfRecord.MaskedCrc32C(new byte[32]));
    }

    [Fact]
    public void RecordFramingIsByteForByteTensorBoards()
    {
        // tensorboard/data/server/tf_record.rs's example record: a 24-byte file_version event.
        byte[] contents = [0x09, 0x00, 0x00, 0x80, 0x38, 0x99, 0xd6, 0xd7, 0x41, 0x1a, 0x0d, .. "brain.Event:2"u8];
        using var stream = new MemoryStream();
        TfRecord.Write(stream, contents);
        byte[] expected = [0x18, 0, 0, 0, 0, 0, 0, 0, 0xa3, 0x7f, 0x4b, 0x22, .. contents, 0x12, 0x4b, 0x36, 0xab];
        Assert.Equal(expected, stream.ToArray());
        var e = Event.Parser.ParseFrom(contents);
        Assert.Equal(EventFileWriter.FileVersion, e.FileVersion);
    }

    [Fact]
    public void AFileCutMidRecordReadsUpToItsLastWholeRecord()
    {
        using var dir = new SyntheticData.TempDir();
        string path;
        using (var writer = new EventFileWriter(dir.Path))
        {
            for (int i = 0; i < 5; i++) writer.AddScalar("x", i * 0.5, i);
            path = writer.Path;
        }
        byte[] whole = File.ReadAllBytes(path);
        var complete = TfRecord.ReadAll(whole);
        Assert.Equal(TfRecordEnd.Complete, complete.End);
        Assert.Equal(6, complete.Records.Count); // file_version + 5 scalars
        long lastStart = complete.ValidBytes - (12 + complete.Records[^1].Length + 4);

        // Cut inside the last record's data, inside its header, and just after its header's length field.
        foreach (long cut in new[] { whole.Length - 3L, lastStart + 5, lastStart + 8, lastStart + 12 })
        {
            var read = TfRecord.ReadAll(whole.AsSpan(0, (int)cut));
            Assert.Equal(TfRecordEnd.Truncated, read.End);
            Assert.Equal(5, read.Records.Count);
            Assert.Equal(lastStart, read.ValidBytes);
            var events = read.Records.Select(Event.Parser.ParseFrom).ToList();
            Assert.Equal([0f, 0.5f, 1f, 1.5f], events.Skip(1).Select(e => e.Summary.Value[0].SimpleValue));
        }

        // A flipped data byte fails the record's CRC: reading stops before it.
        var damaged = (byte[])whole.Clone();
        damaged[lastStart + 12 + 2] ^= 0x40;
        var bad = TfRecord.ReadAll(damaged);
        Assert.Equal(TfRecordEnd.Corrupt, bad.End);
        Assert.Equal(5, bad.Records.Count);
    }

    [Fact]
    public void BufferedEventsReachTheFileWithinTheFlushIntervalWithoutClosing()
    {
        using var dir = new SyntheticData.TempDir();
        using var writer = new EventFileWriter(dir.Path);
        writer.AddScalar("loss", 0.25, 7);
        Thread.Sleep(EventFileWriter.FlushInterval * 2);
        // The writer is still open (as in a process about to be killed): another reader already sees the scalar.
        var events = EventFiles.ReadComplete(writer.Path);
        Assert.Equal([(7L, 0.25f)], EventFiles.Scalars(events, "loss"));
    }

    [Fact]
    public void HistogramCountsEveryValueOnceBetweenMinAndMax()
    {
        float[] values = [-1f, -0.5f, 0f, 0f, 0.25f, 3f];
        var h = EventFileWriter.Histogram(values, buckets: 4);
        Assert.Equal(6, h.Num);
        Assert.Equal(-1, h.Min);
        Assert.Equal(3, h.Max);
        Assert.Equal(1.75, h.Sum, 12);
        Assert.Equal(1 + 0.25 + 0.0625 + 9, h.SumSquares, 12);
        Assert.Equal([0.0, 1, 2, 3], h.BucketLimit);
        Assert.Equal([2.0, 3, 0, 1], h.Bucket); // [-1,0): -1, -0.5; [0,1): 0, 0, 0.25; [2,3]: 3
    }

    [Fact]
    public void ATrainingRunsEventFileHoldsItsRunLog()
    {
        var store = new DatasetStore(null, DatasetKind.Mnist);
        var all = store.ReadTrain();
        var train = all.Subset(Enumerable.Range(0, 1200).ToArray(), "train-1200");
        var validation = all.Subset(Enumerable.Range(1200, 300).ToArray(), "validation-300");
        var test = store.ReadTest().Subset(Enumerable.Range(0, 300).ToArray(), "test-300");
        var trainer = Trainer.Create(new TrainerOptions { Model = "mlp", Epochs = 2, BatchLossInterval = 4, Schedule = ScheduleKind.Cosine, Threads = 1 });
        using var dir = new SyntheticData.TempDir();
        string path;
        using (var board = new TensorBoardRun(dir.Path, trainer))
        {
            trainer.Train(train, validation, board);
            trainer.Test(test);
            board.Finish(test);
            path = board.Writer.Path;
        }
        var log = trainer.Log;
        Assert.Equal(2 * 19 / 4, log.BatchLosses.Count); // 19 batches of 64 per epoch, a loss every 4
        var events = EventFiles.ReadComplete(path);
        EventFiles.AssertMatchesRunLog(events, log);

        // Histograms at each epoch's end; the last one holds the final weights.
        foreach (var (name, parameter) in trainer.Model.NamedParameters())
            foreach (var kind in new[] { "weights/", "gradients/" })
            {
                var histograms = EventFiles.Values(events, kind + name);
                Assert.Equal([1L, 2L], histograms.Select(h => h.Step));
                Assert.All(histograms, h => Assert.Equal(parameter.Length, h.Value.Histo.Num));
                Assert.All(histograms, h => Assert.Equal(parameter.Length, h.Value.Histo.Bucket.Sum()));
            }
        var fc1 = trainer.Model.NamedParameters().Single(p => p.Name == "fc1.weight").Parameter.Value.ReadOnlySpan;
        double sum = 0;
        foreach (float v in fc1) sum += v;
        Assert.Equal(sum, EventFiles.Values(events, "weights/fc1.weight")[1].Value.Histo.Sum, 9);

        // The misclassified grid: a PNG of the size the summary states, eight digits to a row.
        var image = Assert.Single(EventFiles.Values(events, "misclassified/test")).Value.Image;
        var png = PngReader.Decode(image.EncodedImageString.ToByteArray());
        Assert.Equal((image.Width, image.Height), (png.Width, png.Height));
        int shown = Math.Min(TensorBoardRun.GridImages, log.Test!.Misclassified.Count);
        Assert.Equal(8 * 30 + 2, image.Width);
        Assert.Equal((shown + 7) / 8 * (28 + 9 + 2) + 2, image.Height);
    }
    [Fact]
    public void AResumedRunAddsAFileThatContinuesTheSteps()
    {
        var store = new DatasetStore(null, DatasetKind.Mnist);
        var train = store.ReadTrain().Subset(Enumerable.Range(0, 1280).ToArray(), "train-1280");
        var test = store.ReadTest().Subset(Enumerable.Range(0, 200).ToArray(), "test-200");
        var options = new TrainerOptions { Model = "mlp", Epochs = 2, BatchLossInterval = 5, ValidationCount = 0, Threads = 1 };
        using var dir = new SyntheticData.TempDir();
        string checkpoint = dir.File("m.safetensors");

        // Stop in the middle of the first epoch (batch 12 of 20), as Ctrl+C does, and save.
        var first = Trainer.Create(options);
        using (var cts = new CancellationTokenSource())
        using (var board = new TensorBoardRun(dir.File("tb"), first))
        {
            var stopper = new SyncProgress<TrainingProgress>(p => { board.Report(p); if (p.Batch == 12) cts.Cancel(); });
            Assert.False(first.Train(train, null, stopper, cts.Token).Complete);
            board.Finish(null);
            first.SaveCheckpoint(checkpoint);
        }
        var resumed = Trainer.Resume(Checkpoint.Load(checkpoint));
        using (var board = new TensorBoardRun(dir.File("tb"), resumed))
        {
            Assert.True(resumed.Train(train, null, board).Complete);
            resumed.Test(test);
            board.Finish(test);
        }

        var files = Directory.GetFiles(dir.File("tb"), "events.out.tfevents.*").OrderBy(f => int.Parse(f[(f.LastIndexOf('.') + 1)..])).ToList(); // by the writer's file counter
        Assert.Equal(2, files.Count);
        var before = EventFiles.ReadComplete(files[0]);
        var after = EventFiles.ReadComplete(files[1]);
        Assert.Equal(Status.Failure, EventFiles.PluginData(before, HParamsTags.SessionEnd).SessionEndInfo.Status);
        // Together the two files hold each batch loss and epoch figure once, equal to the finished run's log.
        var log = resumed.Log;
        var batch = EventFiles.Scalars(before, "loss/train_batch").Concat(EventFiles.Scalars(after, "loss/train_batch")).ToList();
        Assert.Equal(Enumerable.Range(1, log.BatchLosses.Count).Select(i => (long)i * 5), batch.Select(b => b.Step));
        Assert.Equal(log.BatchLosses.Select(v => (float)v), batch.Select(b => b.Value));
        Assert.Equal(2, EventFiles.Scalars(before, "loss/train_batch").Count); // batches 5 and 10 before the stop
        var epochs = EventFiles.Scalars(before, "loss/train").Concat(EventFiles.Scalars(after, "loss/train")).ToList();
        Assert.Equal(log.Epochs.Select(e => ((long)e.Epoch, (float)e.TrainLoss)), epochs);
        Assert.Equal(Status.Success, EventFiles.PluginData(after, HParamsTags.SessionEnd).SessionEndInfo.Status);
    }
}

/// <summary>`--tensorboard` on the commands (they write to the console, so they run in the console collection).</summary>
[Collection(ConsoleCollection.Name)]
public class TensorBoardCommandTests
{
    [Fact]
    public async Task TrainWritesARunWhoseValuesEqualItsSavedRunLog()
    {
        using var dir = new SyntheticData.TempDir();
        string board = dir.File("tb"), checkpoint = dir.File("m.safetensors");
        var r = await Cli.CliRunner.RunAsync("train", "--model", "mlp", "--epochs", "1", "--threads", "2", "--out", checkpoint, "--tensorboard", board, "--json");
        Assert.True(r.ExitCode == 0, r.Error);
        var log = RunLog.Load(Path.ChangeExtension(checkpoint, ".json"));
        var events = EventFiles.ReadComplete(EventFiles.Single(board));
        EventFiles.AssertMatchesRunLog(events, log);
        Assert.NotEmpty(EventFiles.Values(events, "misclassified/test"));
    }

    [Fact]
    public async Task SweepWritesOneRunFolderPerTrial()
    {
        using var dir = new SyntheticData.TempDir();
        string board = dir.File("tb"), output = dir.File("sweep");
        var r = await Cli.CliRunner.RunAsync("sweep", "--models", "mlp", "--lr", "0.01,0.001", "--train-sizes", "600", "--epochs", "1",
            "--validation", "500", "--threads", "2", "--out", output, "--tensorboard", board);
        Assert.True(r.ExitCode == 0, r.Error + r.Out);
        var trials = Directory.GetFiles(output, "trial-*.json")
            .Select(f => System.Text.Json.JsonSerializer.Deserialize<SweepTrialResult>(File.ReadAllText(f), DigitLab.IO.DigitLabJson.Options)!).ToList();
        Assert.Equal(2, trials.Count);
        Assert.Equal(trials.Select(t => t.Trial.Key).Order(), Directory.GetDirectories(board).Select(Path.GetFileName).Order());
        foreach (var trial in trials)
        {
            var events = EventFiles.ReadComplete(EventFiles.Single(Path.Combine(board, trial.Trial.Key)));
            EventFiles.AssertMatchesRunLog(events, trial.Run);
            Assert.Equal(trial.Trial.LearningRate, EventFiles.PluginData(events, HParamsTags.SessionStart).SessionStartInfo.Hparams["learningRate"].NumberValue);
        }
    }
}
