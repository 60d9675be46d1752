// FineTuneFigures: fine-tunes each checkpoint given on an in-memory "own digits" set and prints accuracy before and after,
// on the held-out own digits and on MNIST test. Usage: dotnet run --project tools/FineTuneFigures -- [--replay F] CKPT...
// Own digits: OwnDigitsVariant (thick, off-centre by 2 px, 70% bright) of MNIST train images [59000, 60000), a stand-in
// until photographed folders exist; replay draws from MNIST train [0, 59000), so no own image's original is replayed.
using System.Globalization;
using DigitLab.Data;
using DigitLab.Tests.Training;
using DigitLab.Training;

double replayFraction = TrainerOptions.DefaultReplayFraction;
var checkpoints = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--replay") replayFraction = double.Parse(args[++i], CultureInfo.InvariantCulture);
    else checkpoints.Add(args[i]);
}
var train = DatasetStore.LoadTrain(null);
var test = DatasetStore.LoadTest(null);
var own = OwnDigitsVariant.Make(train, 59000, 1000, shift: 2, name: "own-variant(train[59000:60000])");
var replay = train.Subset(Enumerable.Range(0, 59000).ToArray(), "mnist-train[0:59000]");
foreach (var checkpoint in checkpoints)
{
    var watch = System.Diagnostics.Stopwatch.StartNew();
    var o = FineTuning.Run(new FineTuneRequest
    {
        InitCheckpoint = checkpoint, Own = own, ReplaySource = replay, MnistTest = test, Threads = 2, Seed = 1, ReplayFraction = replayFraction,
    });
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{checkpoint}: {o.Log.Epochs.Count} epochs, lr {o.Log.Recipe!.LearningRate}, replay {o.Log.Recipe.ReplayFraction}: " +
        $"own held-out ({o.OwnHeldOutCount}) {o.OwnBefore!.Accuracy:P1} -> {o.OwnAfter!.Accuracy:P1}; " +
        $"MNIST test {o.MnistBefore!.Accuracy:P2} -> {o.MnistAfter!.Accuracy:P2}; trained on {o.OwnTrainCount} own + {o.ReplayCount} MNIST per epoch, " +
        $"training {o.Log.TrainSeconds:F1} s, all {watch.Elapsed.TotalSeconds:F1} s"));
}
